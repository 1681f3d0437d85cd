//! `seccomp-watch profile`: operations on one profile file. `profile complain IN [-o OUT]`
//! writes the profile in observe mode (see [`rules::profile::complain`]): the default
//! action and every ERRNO/KILL/TRAP/TRACE entry become `SCMP_ACT_LOG`, everything else is
//! kept byte for byte, so any profile can be run without breaking the workload and the
//! kernel logs each call it would deny. What it changed is recorded in the copy (members
//! `seccompWatchComplain`, which the engines ignore), so that `suggest` judges evidence
//! gathered under the copy against the original, and `suggest --enforce` closes the loop
//! with the original's default action. A complain copy of a complain copy is the same text.

use std::io::Write;
use std::path::PathBuf;

use parsers::escape::escape;
use rules::profile::complain;

use crate::profile_io::{load_profile, render_profile, write_file, LoadedProfile, ProfileFormat};

/// Arguments of `seccomp-watch profile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ProfileCommand,
}

/// The `profile` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// Write the profile in observe mode: every denying action (and the default) becomes
    /// SCMP_ACT_LOG, everything else is kept as it is.
    Complain(ComplainArgs),
}

/// Arguments of `seccomp-watch profile complain`.
#[derive(Debug, clap::Args)]
pub struct ComplainArgs {
    /// The profile (Docker/OCI JSON or SeccompProfile YAML).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Write the result to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The text of the complain-mode profile and the report for stderr.
pub fn complain_report(loaded: &LoadedProfile) -> anyhow::Result<(String, String)> {
    let c = complain(&loaded.profile)?;
    let mut human = String::new();
    let text = match &loaded.k8s {
        None => c.profile.to_json(),
        Some(res) => {
            human.push_str("SeccompProfile: what was changed cannot be recorded in the resource (the CRD takes no unknown fields): give suggest --profile the original\n");
            let (t, _) = render_profile(
                &c.profile,
                ProfileFormat::K8s,
                Some(res),
                &res.metadata.name,
            )?;
            t
        }
    };
    match &c.default_was {
        Some(was) => human.push_str(&format!("defaultAction: {} -> SCMP_ACT_LOG\n", escape(was))),
        None => human.push_str(&format!(
            "defaultAction: {} (kept)\n",
            escape(&loaded.profile.spec().default_action)
        )),
    }
    for (i, was) in &c.entries {
        let names: Vec<String> = loaded.profile.spec().rules()[*i]
            .all_names()
            .map(|n| escape(n).into_owned())
            .collect();
        human.push_str(&format!(
            "syscalls[{i}] ({}): {} -> SCMP_ACT_LOG\n",
            names.join(", "),
            escape(was)
        ));
    }
    if c.default_was.is_none() && c.entries.is_empty() {
        human.push_str("nothing denies in this profile: written unchanged\n");
    } else if loaded.k8s.is_none() {
        human.push_str(&format!(
            "the actions before are recorded in \"{}\" members: suggest judges evidence gathered under this copy against the original\n",
            rules::profile::COMPLAIN_MARKER
        ));
    }
    Ok((text, human))
}

/// Runs the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    match args.command {
        ProfileCommand::Complain(a) => {
            let loaded = load_profile(&a.input)?;
            let (text, human) = complain_report(&loaded)?;
            std::io::stderr().write_all(human.as_bytes())?;
            match &a.output {
                Some(p) => {
                    write_file(p, &text)?;
                    eprintln!("wrote {}", escape(&p.display().to_string()));
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                        r => r?,
                    }
                }
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/profiles")
            .join(rel)
    }

    #[test]
    fn complain_of_the_articles_profile() {
        let path = fixture("fedora_ls_no-opt_log-delta.json");
        let original = std::fs::read_to_string(&path).unwrap();
        let (text, human) = complain_report(&load_profile(&path).unwrap()).unwrap();
        assert_eq!(
            text,
            original.replacen(
                "\"defaultAction\": \"SCMP_ACT_ERRNO\",",
                "\"defaultAction\": \"SCMP_ACT_LOG\",\n  \"seccompWatchComplain\": {\"defaultAction\":\"SCMP_ACT_ERRNO\"},",
                1
            ),
            "only the default action changes, and what it was is recorded"
        );
        // The copy of the copy: the same bytes.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("c.json");
        std::fs::write(&copy, &text).unwrap();
        let (again, human2) = complain_report(&load_profile(&copy).unwrap()).unwrap();
        assert_eq!(again, text);
        assert!(human2.contains("written unchanged"), "{human2}");
        assert!(
            human.contains("defaultAction: SCMP_ACT_ERRNO -> SCMP_ACT_LOG"),
            "{human}"
        );
    }

    #[test]
    fn complain_of_dockers_default_keeps_everything_else() {
        let path = fixture("docker-default.json");
        let original = std::fs::read_to_string(&path).unwrap();
        let (text, human) = complain_report(&load_profile(&path).unwrap()).unwrap();
        let before: Vec<&str> = original.lines().collect();
        let after: Vec<&str> = text.lines().collect();
        // Changed lines are action lines; removed lines are errnoRet lines; added lines
        // record what was changed.
        let diff = rules::suggest::unified_diff(&original, &text, "p.json");
        for l in diff
            .lines()
            .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"))
        {
            let ok = l.contains("\"defaultAction\"")
                || l.contains("\"action\"")
                || l.starts_with("+") && l.contains("\"seccompWatchComplain\": {\"")
                || l.contains("\"defaultErrnoRet\"")
                || l.contains("\"errnoRet\"");
            assert!(ok, "unexpected change: {l}");
        }
        assert!(after.len() <= before.len() + p_entries_changed(&original));
        let p = rules::profile::Profile::from_json(&text).unwrap();
        assert_eq!(p.spec().default_action, "SCMP_ACT_LOG");
        assert!(p
            .spec()
            .rules()
            .iter()
            .all(|r| r.action == "SCMP_ACT_ALLOW" || r.action == "SCMP_ACT_LOG"));
        assert!(human.contains("-> SCMP_ACT_LOG"), "{human}");
    }

    /// How many entries of `text` deny (each gets a marker line).
    fn p_entries_changed(text: &str) -> usize {
        let p = rules::profile::Profile::from_json(text).unwrap();
        1 + p
            .spec()
            .rules()
            .iter()
            .filter(|r| r.parsed_action().is_some_and(rules::profile::is_denying))
            .count()
    }

    #[test]
    fn complain_of_a_seccomp_profile_resource() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cart.yaml");
        std::fs::write(&p, "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: cart\n  namespace: shop\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [read]\n").unwrap();
        let (text, _) = complain_report(&load_profile(Path::new(&p)).unwrap()).unwrap();
        let res = rules::profile::K8sSeccompProfile::from_yaml(&text).unwrap();
        assert_eq!(res.metadata.name, "cart");
        assert_eq!(res.spec.default_action, "SCMP_ACT_LOG");
    }
}
