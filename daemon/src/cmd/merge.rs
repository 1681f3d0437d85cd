//! `seccomp-watch merge A.json B.json... [-o FILE] [--format json|k8s]`: the union of the
//! profiles' allow lists (see [`rules::suggest::merge`]), with their conflicts reported.

use std::io::Write;
use std::path::PathBuf;

use parsers::escape::escape;

use crate::profile_io::{
    k8s_name, load_profile, output, render_profile, write_file, ProfileFormat,
};

/// Arguments of `seccomp-watch merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The profiles to merge (Docker/OCI JSON or SeccompProfile YAML); the first one's
    /// top-level fields and indentation are kept.
    #[arg(required = true, num_args = 1..)]
    pub profiles: Vec<PathBuf>,
    /// Write the merged profile to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The merged profile's format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: ProfileFormat,
}

/// Runs the command; returns the exit code (0; conflicts are reported, not fatal).
pub fn run(args: Args) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_to(args, &mut stdout.lock(), &mut stderr.lock())
}

/// [`run`] writing the profile (when no `-o`) to `out` and the report to `report`.
pub fn run_to(args: Args, out: &mut dyn Write, report: &mut dyn Write) -> anyhow::Result<i32> {
    let mut loaded = Vec::new();
    for p in &args.profiles {
        loaded.push(load_profile(p)?);
    }
    let profiles: Vec<_> = loaded.iter().map(|l| l.profile.clone()).collect();
    let merged = rules::suggest::merge(&profiles)?;
    for (i, l) in loaded.iter().enumerate() {
        writeln!(report, "#{i}: {}", escape(&l.path.display().to_string()))?;
    }
    if merged.conflicts.is_empty() {
        writeln!(report, "no conflicts")?;
    } else {
        writeln!(report, "conflicts ({}):", merged.conflicts.len())?;
        report.write_all(output::conflicts_text(&merged.conflicts).as_bytes())?;
    }
    let name = args
        .output
        .as_deref()
        .and_then(|p| p.file_stem())
        .map(|s| k8s_name(&s.to_string_lossy()))
        .unwrap_or_else(|| "merged".to_string());
    let template = loaded.first().and_then(|l| l.k8s.as_ref());
    let (text, notes) = render_profile(&merged.profile, args.format, template, &name)?;
    for n in &notes {
        writeln!(report, "SeccompProfile: {}", escape(n))?;
    }
    match &args.output {
        Some(path) => {
            write_file(path, &text)?;
            writeln!(report, "wrote {}", escape(&path.display().to_string()))?;
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/profiles")
            .join(rel)
    }

    #[test]
    fn merges_the_article_profiles() {
        let args = Args {
            profiles: vec![
                fixture("fedora_ls_no-opt.json"),
                fixture("fedora_ls_lisa.json"),
            ],
            output: None,
            format: ProfileFormat::Json,
        };
        let (mut out, mut report) = (Vec::new(), Vec::new());
        assert_eq!(run_to(args, &mut out, &mut report).unwrap(), 0);
        let merged =
            rules::profile::Profile::from_json(std::str::from_utf8(&out).unwrap()).unwrap();
        let allowed: Vec<&str> = merged
            .spec()
            .rules()
            .iter()
            .flat_map(|r| r.all_names())
            .collect();
        for n in [
            "connect",
            "futex",
            "getxattr",
            "lgetxattr",
            "readlink",
            "socket",
            "execve",
        ] {
            assert!(allowed.contains(&n), "{n} missing");
        }
        let report = String::from_utf8(report).unwrap();
        assert!(report.contains("#1: "), "{report}");
    }

    #[test]
    fn reports_conflicts_and_writes_k8s() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(&a, r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#).unwrap();
        std::fs::write(&b, r#"{"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#).unwrap();
        let o = dir.path().join("My Profile.yaml");
        let args = Args {
            profiles: vec![a, b],
            output: Some(o.clone()),
            format: ProfileFormat::K8s,
        };
        let (mut out, mut report) = (Vec::new(), Vec::new());
        assert_eq!(run_to(args, &mut out, &mut report).unwrap(), 0);
        assert!(out.is_empty());
        let report = String::from_utf8(report).unwrap();
        assert!(
            report.contains("conflicts (1):\n- default_action: "),
            "{report}"
        );
        let res =
            rules::profile::K8sSeccompProfile::from_yaml(&std::fs::read_to_string(&o).unwrap())
                .unwrap();
        assert_eq!(res.metadata.name, "my-profile");
        assert_eq!(res.spec.default_action, "SCMP_ACT_ERRNO");
        let names: Vec<&str> = res
            .spec
            .rules()
            .iter()
            .flat_map(|r| r.all_names())
            .collect();
        assert_eq!(names, ["read", "write"]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{\"defaultAction\": ").unwrap();
        let args = Args {
            profiles: vec![a],
            output: None,
            format: ProfileFormat::Json,
        };
        let err = run_to(args, &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a seccomp profile"),
            "{err:#}"
        );
    }
}
