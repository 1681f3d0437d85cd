//! `seccomp-watch generate`: a least-privilege profile from the stored evidence of a
//! selection, across all its containers (see [`rules::suggest::generate`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use parsers::escape::escape;
use rules::suggest::fleet::Fleet;
use rules::suggest::{generate, GenerateOptions, Observation};

use crate::profile_io::evidence::{load_evidence, SelectionArgs};
use crate::profile_io::{
    dangerous_warning, k8s_name, output, render_profile, write_file, DangerousArgs, DefaultAction,
    ProfileFormat,
};

/// Arguments of `seccomp-watch generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The profile's default action.
    #[arg(long, value_enum, default_value = "errno")]
    pub default_action: DefaultAction,
    /// Leave out calls seen fewer times than this.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_count: u64,
    /// The profile's format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: ProfileFormat,
    /// Write the profile to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub dangerous: DangerousArgs,
}

/// The report (stderr) and the profile text of `generate` over `observations`.
pub fn report(args: &Args, observations: &[Observation]) -> anyhow::Result<(String, String)> {
    report_with(args, observations, &Fleet::default())
}

/// [`report`] over the union of several nodes' evidence (the nodes and, when the replicas
/// ran under several applied profiles, a warning are shown; `architectures` covers every
/// node's arch family).
pub fn report_with(
    args: &Args,
    observations: &[Observation],
    fleet: &Fleet,
) -> anyhow::Result<(String, String)> {
    if observations.is_empty() {
        anyhow::bail!("no SECCOMP events for this selection: nothing to generate from");
    }
    let opts = GenerateOptions {
        default_action: args.default_action.into(),
        min_count: args.min_count,
        dangerous: args.dangerous.policy()?,
        essentials: !args.dangerous.no_essentials,
    };
    let g = generate(observations, &opts);
    let mut human = output::fleet_text(fleet);
    human.push_str(&format!("Evidence ({} row(s)):\n", observations.len()));
    human.push_str(&output::evidence_table(observations));
    if !g.findings.is_empty() {
        human.push_str("\nLeft out or noted:\n");
        human.push_str(&output::findings_text(&g.findings));
    }
    let allowed: usize = g
        .profile
        .spec()
        .rules()
        .iter()
        .map(|r| r.all_names().count())
        .sum();
    human.push_str(&format!("\n{allowed} syscall(s) allowed\n"));
    let held: std::collections::BTreeSet<&str> = g
        .findings
        .iter()
        .filter(|f| f.kind == rules::suggest::FindingKind::Dangerous)
        .map(|f| f.syscall.as_str())
        .collect();
    human.push_str(&dangerous_warning(&held));
    let name = args
        .output
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| k8s_name(&s.to_string_lossy()))
        .or_else(|| args.selection.label().map(|l| k8s_name(&l)))
        .unwrap_or_else(|| "generated".to_string());
    let (text, notes) = render_profile(&g.profile, args.format, None, &name)?;
    for n in &notes {
        human.push_str(&format!("SeccompProfile: {}\n", escape(n)));
    }
    Ok((human, text))
}

/// Runs the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let evidence = load_evidence(&args.selection, false)?;
    let (human, text) = report_with(&args, &evidence.observations, &evidence.fleet)?;
    std::io::stderr().write_all(human.as_bytes())?;
    match &args.output {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use parsers::Action;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn obs(syscall: &str, arch: &str, compat: bool, action: Action) -> Observation {
        Observation {
            arch: arch.into(),
            syscall: syscall.into(),
            compat,
            action,
            count: 1,
            containers: 2,
            nodes: vec![],
            first_seen: 0,
            last_seen: 0,
            sample_comm: "c".into(),
            sample_exe: "/c".into(),
        }
    }

    #[test]
    fn generates_from_all_observations() {
        let a = Cli::try_parse_from(["g", "--pod", "shop/cart-1", "--format", "k8s"])
            .unwrap()
            .args;
        let o = [
            obs("read", "SCMP_ARCH_X86_64", false, Action::Log),
            obs("write", "SCMP_ARCH_X86_64", false, Action::Allow),
            obs("ptrace", "SCMP_ARCH_X86_64", false, Action::Errno),
            obs("socketcall", "SCMP_ARCH_X86", true, Action::Log),
        ];
        let (human, text) = report(&a, &o).unwrap();
        let res = rules::profile::K8sSeccompProfile::from_yaml(&text).unwrap();
        assert!(!human.contains("WARNING"), "{human}");
        assert_eq!(res.metadata.name, "pod-shop-cart-1");
        let names: Vec<&str> = res
            .spec
            .rules()
            .iter()
            .flat_map(|r| r.all_names())
            .collect();
        // With the signal returns of both arches (x86's sigreturn too).
        assert_eq!(
            names,
            [
                "read",
                "restart_syscall",
                "rt_sigreturn",
                "sigreturn",
                "socketcall",
                "write"
            ]
        );
        let arches = res.spec.architectures.clone().unwrap();
        assert!(
            arches.contains(&"SCMP_ARCH_X86_64".to_string())
                && arches.contains(&"SCMP_ARCH_X86".to_string()),
            "{arches:?}"
        );
        assert!(
            human.contains("blocked by the profile (not allowed automatically) (1): ptrace"),
            "{human}"
        );
        assert!(human.contains("6 syscall(s) allowed"), "{human}");
        assert!(
            human.contains("allowed without evidence (a denied one kills the process; runs show them only when a signal arrives) (3): restart_syscall, rt_sigreturn, sigreturn"),
            "{human}"
        );
    }

    #[test]
    fn dangerous_calls_need_a_flag() {
        let o = [
            obs("read", "SCMP_ARCH_X86_64", false, Action::Log),
            obs("bpf", "SCMP_ARCH_X86_64", false, Action::Log),
            obs("unshare", "SCMP_ARCH_X86_64", false, Action::Log),
        ];
        let names = |text: &str| -> Vec<String> {
            let p = rules::profile::Profile::from_json(text).unwrap();
            p.spec()
                .rules()
                .iter()
                .flat_map(|r| r.all_names().map(str::to_string))
                .collect()
        };
        let a = Cli::try_parse_from(["g", "--no-essentials", "--workload", "w"])
            .unwrap()
            .args;
        let (human, text) = report(&a, &o).unwrap();
        assert_eq!(names(&text), ["read"]);
        assert!(
            human.contains("WARNING: 2 dangerous call(s) observed and NOT allowed: bpf, unshare"),
            "{human}"
        );
        assert!(human.contains("DANGEROUS (@dangerous)"), "{human}");
        let a = Cli::try_parse_from([
            "g",
            "--no-essentials",
            "--workload",
            "w",
            "--allow",
            "unshare",
        ])
        .unwrap()
        .args;
        let (human, text) = report(&a, &o).unwrap();
        assert_eq!(names(&text), ["read", "unshare"]);
        assert!(human.contains("NOT allowed: bpf"), "{human}");
        let a = Cli::try_parse_from([
            "g",
            "--no-essentials",
            "--workload",
            "w",
            "--allow-dangerous",
        ])
        .unwrap()
        .args;
        let (human, text) = report(&a, &o).unwrap();
        assert_eq!(names(&text), ["bpf", "read", "unshare"]);
        assert!(!human.contains("WARNING"), "{human}");
        // --allow of a call that is not dangerous is a mistake.
        let a = Cli::try_parse_from(["g", "--no-essentials", "--workload", "w", "--allow", "read"])
            .unwrap()
            .args;
        assert!(report(&a, &o)
            .unwrap_err()
            .to_string()
            .contains("@dangerous"));
    }

    #[test]
    fn nothing_observed_is_an_error() {
        let a = Cli::try_parse_from(["g", "--no-essentials", "--workload", "w"])
            .unwrap()
            .args;
        assert!(report(&a, &[])
            .unwrap_err()
            .to_string()
            .contains("no SECCOMP events"));
    }

    #[test]
    fn exactly_one_selection_and_store_options() {
        let ok = Cli::try_parse_from(["g", "--container", "abc", "--since", "2h", "--db", "/x.db"])
            .unwrap()
            .args;
        assert_eq!(ok.selection.container.as_deref(), Some("abc"));
        assert_eq!(ok.selection.since.as_deref(), Some("2h"));
        assert!(Cli::try_parse_from(["g", "--since", "2h"]).is_err());
        assert!(Cli::try_parse_from([
            "g",
            "--no-essentials",
            "--workload",
            "w",
            "--container",
            "c"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["g", "--pod", "justname"]).is_err());
        let pod = Cli::try_parse_from(["g", "--pod", "shop/cart-1"])
            .unwrap()
            .args;
        assert_eq!(
            pod.selection.pod,
            Some(("shop".to_string(), "cart-1".to_string()))
        );
    }
}
