//! `seccomp-watch suggest`: the stored evidence of a selection (workload, container, pod)
//! applied to a profile (see [`rules::suggest::suggest`]): an evidence table, the findings in
//! plain words, then the change as a unified diff, the whole new profile (`json`) or a
//! `SeccompProfile` (`k8s`). `--check` exits 1 when a change is suggested, 3 when the only
//! change left would allow `@dangerous` calls (it needs `--allow NAME` or
//! `--allow-dangerous`) or calls an entry of the profile denies (`--allow NAME`).
//! `--enforce` writes the result with a denying default. The applied profile may be a
//! complain copy (`seccomp-watch profile complain`): it is judged as its original.

use std::io::Write;
use std::path::{Path, PathBuf};

use parsers::escape::{escape, is_dangerous};
use rules::suggest::fleet::Fleet;
use rules::suggest::{suggest, Observation, SuggestOptions, Suggestion};

use crate::profile_io::evidence::{load_evidence, Evidence, SelectionArgs};
use crate::profile_io::{
    dangerous_warning, k8s_name, load_profile, output, parse_profile, render_profile, write_file,
    DangerousArgs, LoadedProfile, ProfileFormat,
};

/// `--check`'s exit code when the only change left needs `--allow`/`--allow-dangerous`.
pub const EXIT_NEEDS_APPROVAL: i32 = 3;

/// What `suggest` prints as the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuggestFormat {
    /// A unified diff of the profile file.
    Diff,
    /// The whole suggested profile (Docker/OCI JSON).
    Json,
    /// The suggested profile as a Kubernetes `SeccompProfile`.
    K8s,
}

/// Arguments of `seccomp-watch suggest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The profile to edit (Docker/OCI JSON or SeccompProfile YAML). Default: the profile
    /// the selection's containers ran with, as attribution captured it.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Ignore calls seen fewer times than this.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_count: u64,
    /// How to print the change.
    #[arg(long, value_enum, default_value = "diff")]
    pub format: SuggestFormat,
    /// Write the suggested profile to FILE (JSON, or YAML when `--format k8s` or when the
    /// input was a SeccompProfile).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a change is suggested (for CI pipelines), 3 when the only change left
    /// would allow `@dangerous` calls.
    #[arg(long)]
    pub check: bool,
    /// Write the result enforcing: a `SCMP_ACT_LOG` default becomes `SCMP_ACT_ERRNO`
    /// (EPERM); another default is kept. With evidence from a run under the profile's
    /// complain-mode copy (`seccomp-watch profile complain`), this closes the loop.
    #[arg(long)]
    pub enforce: bool,
    #[command(flatten)]
    pub dangerous: DangerousArgs,
    /// Remove names of LOG entries that were never observed (they fall to the default
    /// action).
    #[arg(long)]
    pub tighten: bool,
}

/// What the command prints and writes, computed without I/O.
#[derive(Debug)]
pub struct Report {
    /// For stdout.
    pub out: String,
    /// For stderr (the human part when the profile itself goes to stdout).
    pub err: String,
    /// The file to write (`-o`), and its text.
    pub file: Option<(PathBuf, String)>,
    pub code: i32,
}

/// Escapes the lines of `text` that carry dangerous characters (profile text is shown as
/// it is otherwise, so that a diff stays applicable).
fn escape_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        if body.chars().any(is_dangerous) {
            out.push_str(&escape(body));
        } else {
            out.push_str(body);
        }
        out.push_str(nl);
    }
    out
}

/// A one-line summary of a suggestion.
fn summary(s: &Suggestion) -> String {
    use rules::suggest::FindingKind as K;
    let allowed = s.newly_allowed().len();
    let removed = s.of_kind(K::RemovedUnused).count();
    if !s.changed() {
        return "no change suggested".to_string();
    }
    let mut parts = vec![format!("{allowed} syscall(s) newly allowed")];
    let (was, now) = (
        &s.original.spec().default_action,
        &s.profile.spec().default_action,
    );
    if was != now {
        parts.push(format!("default action {} -> {}", escape(was), escape(now)));
    }
    if removed > 0 {
        parts.push(format!("{removed} unused name(s) removed from LOG entries"));
    }
    format!("change suggested: {}", parts.join(", "))
}

/// The `--allow`/`--allow-dangerous` policy: an `--allow` name must be a `@dangerous` call
/// or one an unconditional entry of the profile (of its original, for a complain copy)
/// denies; anything else is a typo.
fn allow_policy(
    args: &DangerousArgs,
    profile: &rules::profile::Profile,
) -> anyhow::Result<rules::suggest::DangerousPolicy> {
    let original = rules::profile::uncomplain(profile)?.map(|r| r.profile);
    let spec = original.as_ref().unwrap_or(profile).spec();
    let denied = |n: &str| {
        spec.rules().iter().any(|r| {
            !r.is_conditional()
                && r.parsed_action().is_some_and(rules::profile::is_denying)
                && r.has_name(n)
        })
    };
    for n in &args.allow {
        if !rules::suggest::is_dangerous_syscall(n) && !denied(n) {
            anyhow::bail!(
                "--allow {}: neither a call of the @dangerous group nor one an entry of the profile denies (other calls need no --allow)",
                escape(n)
            );
        }
    }
    Ok(rules::suggest::DangerousPolicy {
        all: args.allow_dangerous,
        names: args.allow.iter().cloned().collect(),
    })
}

/// The note on a complain copy judged as its original, and the warning on observed calls an
/// entry denies (empty when there is nothing to say).
fn original_notes(s: &Suggestion) -> String {
    let mut out = String::new();
    if let Some(r) = &s.restored {
        let default = match &r.default_action {
            Some(a) => match r.default_errno_ret {
                Some(e) => format!("defaultAction {} (defaultErrnoRet {e})", escape(a)),
                None => format!("defaultAction {}", escape(a)),
            },
            None => format!("defaultAction {}", escape(&r.profile.spec().default_action)),
        };
        out.push_str(&format!(
            "The profile is a complain copy (seccomp-watch profile complain): judged as its original ({default}, {} entr{} restored).\n",
            r.entries.len(),
            if r.entries.len() == 1 { "y" } else { "ies" }
        ));
    }
    let denied = s.denied_by_entry();
    if !denied.is_empty() {
        let names: Vec<String> = denied.iter().map(|n| escape(n).into_owned()).collect();
        out.push_str(&format!(
            "NOTE: {} observed call(s) that an entry of the profile denies were NOT allowed: {} (the profile chose to deny them). If the workload needs one, pass --allow NAME.\n",
            names.len(),
            names.join(", ")
        ));
    }
    out
}

/// Builds the report of `suggest` for `profile` and `observations` (of one node).
pub fn report(
    args: &Args,
    profile: &LoadedProfile,
    shown_path: &str,
    observations: &[Observation],
) -> anyhow::Result<Report> {
    report_with(args, profile, shown_path, observations, &Fleet::default())
}

/// [`report`] over the union of several nodes' evidence: calls on each node's native arch
/// count as covered (an arch a profile's explicit `architectures` lacks is added), the
/// nodes and, when the replicas ran under several applied profiles, a warning are shown.
pub fn report_with(
    args: &Args,
    profile: &LoadedProfile,
    shown_path: &str,
    observations: &[Observation],
    fleet: &Fleet,
) -> anyhow::Result<Report> {
    let opts = SuggestOptions {
        min_count: args.min_count,
        tighten: args.tighten,
        enforce: args.enforce,
        dangerous: allow_policy(&args.dangerous, &profile.profile)?,
        node_arches: fleet.native_arches(),
        essentials: !args.dangerous.no_essentials,
    };
    let s = suggest(&profile.profile, observations, &opts)?;
    let mut human = output::fleet_text(fleet);
    human.push_str(&format!("Evidence ({} row(s)):\n", observations.len()));
    human.push_str(&output::evidence_table(observations));
    if !s.findings.is_empty() {
        human.push_str("\nFindings:\n");
        human.push_str(&output::findings_text(&s.findings));
    }
    human.push('\n');
    human.push_str(&summary(&s));
    human.push('\n');
    human.push_str(&dangerous_warning(&s.held_back()));
    human.push_str(&original_notes(&s));

    let name = profile
        .k8s
        .as_ref()
        .map(|r| r.metadata.name.clone())
        .or_else(|| {
            args.output
                .as_deref()
                .and_then(Path::file_stem)
                .map(|s| k8s_name(&s.to_string_lossy()))
        })
        .unwrap_or_else(|| {
            k8s_name(
                &Path::new(shown_path)
                    .file_stem()
                    .map_or("profile".into(), |s| s.to_string_lossy()),
            )
        });
    let file_format = match args.format {
        SuggestFormat::K8s => ProfileFormat::K8s,
        SuggestFormat::Json => ProfileFormat::Json,
        SuggestFormat::Diff if profile.k8s.is_some() => ProfileFormat::K8s,
        SuggestFormat::Diff => ProfileFormat::Json,
    };
    let (text, notes) = render_profile(&s.profile, file_format, profile.k8s.as_ref(), &name)?;
    for n in &notes {
        human.push_str(&format!("SeccompProfile: {}\n", escape(n)));
    }

    let mut rep = Report {
        out: String::new(),
        err: String::new(),
        file: None,
        code: 0,
    };
    match args.format {
        SuggestFormat::Diff => {
            rep.out = human;
            let diff = s.diff(shown_path.trim_start_matches('/'));
            if !diff.is_empty() {
                rep.out.push('\n');
                rep.out.push_str(&escape_lines(&diff));
            }
        }
        SuggestFormat::Json | SuggestFormat::K8s => {
            if args.output.is_some() {
                rep.out = human;
            } else {
                rep.err = human;
                rep.out = text.clone();
            }
        }
    }
    if let Some(p) = &args.output {
        rep.file = Some((p.clone(), text));
    }
    if args.check && s.changed() {
        rep.code = 1;
    } else if args.check && !(s.held_back().is_empty() && s.denied_by_entry().is_empty()) {
        rep.code = EXIT_NEEDS_APPROVAL;
    }
    Ok(rep)
}

/// The profile to edit: `--profile`, else the one profile the selection's containers ran
/// with (an error when there are none or several).
fn the_profile(args: &Args, evidence: &Evidence) -> anyhow::Result<(LoadedProfile, String)> {
    if let Some(p) = &args.profile {
        return Ok((load_profile(p)?, p.display().to_string()));
    }
    match evidence.profiles.as_slice() {
        [] => anyhow::bail!(
            "no --profile given, and no applied profile was captured for this selection (attribution stores the profile of containers it can see): pass --profile"
        ),
        [(hash, json)] => {
            let shown = format!("profile-{}.json", hash.chars().take(12).collect::<String>());
            Ok((parse_profile(json, Path::new(&shown))?, shown))
        }
        several => {
            let hashes: Vec<String> = several
                .iter()
                .map(|(h, _)| {
                    let nodes = evidence
                        .fleet
                        .profiles
                        .iter()
                        .find(|p| p.profile.as_deref() == Some(h.as_str()))
                        .map_or(0, |p| p.nodes.len());
                    let short = escape(&h.chars().take(12).collect::<String>()).into_owned();
                    if nodes > 0 {
                        format!("{short} on {nodes} node(s)")
                    } else {
                        short
                    }
                })
                .collect();
            anyhow::bail!(
                "the selection's containers ran with {} different profiles ({}): pass --profile to choose",
                several.len(),
                hashes.join(", ")
            )
        }
    }
}

/// Runs the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let evidence = load_evidence(&args.selection, args.profile.is_none())?;
    let (profile, shown) = the_profile(&args, &evidence)?;
    let rep = report_with(
        &args,
        &profile,
        &shown,
        &evidence.observations,
        &evidence.fleet,
    )?;
    if let Some((path, text)) = &rep.file {
        write_file(path, text)?;
    }
    std::io::stderr().write_all(rep.err.as_bytes())?;
    let mut out = std::io::stdout().lock();
    match out.write_all(rep.out.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    if let Some((path, _)) = &rep.file {
        eprintln!("wrote {}", escape(&path.display().to_string()));
    }
    Ok(rep.code)
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

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["suggest", "--workload", "w"];
        v.extend_from_slice(extra);
        Cli::try_parse_from(v).unwrap().args
    }

    fn fixture(rel: &str) -> LoadedProfile {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/profiles")
            .join(rel);
        load_profile(&p).unwrap()
    }

    fn obs(syscall: &str, action: Action, comm: &str) -> Observation {
        Observation {
            arch: "SCMP_ARCH_X86_64".into(),
            syscall: syscall.into(),
            compat: false,
            action,
            count: 2,
            containers: 1,
            nodes: vec![],
            first_seen: 1_795_997_034_781,
            last_seen: 1_795_997_052_837,
            sample_comm: comm.into(),
            sample_exe: "/bin/ls".into(),
        }
    }

    #[test]
    fn diff_moves_logged_calls_and_check_fails() {
        let p = fixture("fedora_ls_no-opt_log-delta.json");
        let o = [
            obs("connect", Action::Log, "ls"),
            obs("socket", Action::Log, "ls\u{1b}]0;x\u{7}"),
        ];
        let rep = report(
            &args(&["--check"]),
            &p,
            "fedora_ls_no-opt_log-delta.json",
            &o,
        )
        .unwrap();
        assert_eq!(rep.code, 1);
        assert!(rep.err.is_empty());
        assert!(!rep.out.contains('\u{1b}'), "{}", rep.out);
        assert!(rep.out.contains("ls\\e]0;x\\x07"), "{}", rep.out);
        assert!(
            rep.out
                .contains("- logged by a LOG entry and observed: now allowed (2): connect, socket"),
            "{}",
            rep.out
        );
        assert!(rep.out.contains("- in a LOG entry but never observed (kept) (4): futex, getxattr, lgetxattr, readlink"), "{}", rep.out);
        assert!(rep.out.contains("- signal return or restart, allowed without evidence (a denied one kills the process; runs show them only when a signal arrives) (2): restart_syscall, rt_sigreturn"), "{}", rep.out);
        assert!(
            rep.out
                .contains("change suggested: 4 syscall(s) newly allowed"),
            "{}",
            rep.out
        );
        assert!(
            rep.out.contains(
                "--- a/fedora_ls_no-opt_log-delta.json\n+++ b/fedora_ls_no-opt_log-delta.json\n"
            ),
            "{}",
            rep.out
        );
        let plus: Vec<&str> = rep
            .out
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .collect();
        assert!(plus.iter().any(|l| l.contains("\"connect\"")), "{plus:?}");
        assert!(rep.file.is_none());
    }

    #[test]
    fn no_change_check_passes() {
        let p = fixture("fedora_ls_no-opt.json");
        let o = [obs("read", Action::Allow, "ls")];
        // The article's profile lacks the signal returns: the only change suggested.
        let rep = report(&args(&["--check"]), &p, "p.json", &o).unwrap();
        assert_eq!(rep.code, 1, "{}", rep.out);
        assert!(rep.out.contains("+        \"rt_sigreturn\""), "{}", rep.out);
        let rep = report(&args(&["--check", "--no-essentials"]), &p, "p.json", &o).unwrap();
        assert_eq!(rep.code, 0);
        assert!(rep.out.contains("no change suggested"), "{}", rep.out);
        assert!(!rep.out.contains("--- a/"), "{}", rep.out);
        // Without --check, a change still exits 0.
        let p = fixture("fedora_ls_no-opt_log-delta.json");
        let rep = report(
            &args(&[]),
            &p,
            "p.json",
            &[obs("connect", Action::Log, "ls")],
        )
        .unwrap();
        assert_eq!(rep.code, 0);
    }

    #[test]
    fn json_and_k8s_go_to_stdout_or_file() {
        let p = fixture("fedora_ls_no-opt_log-delta.json");
        let o = [obs("connect", Action::Log, "ls")];
        let rep = report(&args(&["--format", "json", "--tighten"]), &p, "p.json", &o).unwrap();
        assert!(rep.err.contains("Evidence (1 row(s))"), "{}", rep.err);
        let new = rules::profile::Profile::from_json(&rep.out).unwrap();
        let log_names: Vec<&str> = new
            .spec()
            .rules()
            .iter()
            .filter(|r| r.action == "SCMP_ACT_LOG")
            .flat_map(|r| r.all_names())
            .collect();
        assert!(log_names.is_empty(), "{log_names:?}");

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new.yaml");
        let rep = report(
            &args(&["--format", "k8s", "-o", out.to_str().unwrap()]),
            &p,
            "p.json",
            &o,
        )
        .unwrap();
        assert!(rep.err.is_empty());
        assert!(rep.out.contains("Evidence"), "{}", rep.out);
        let (path, text) = rep.file.unwrap();
        assert_eq!(path, out);
        let res = rules::profile::K8sSeccompProfile::from_yaml(&text).unwrap();
        assert_eq!(res.metadata.name, "new");
        assert!(res
            .spec
            .rules()
            .iter()
            .any(|r| r.action == "SCMP_ACT_ALLOW" && r.has_name("connect")));
    }

    #[test]
    fn k8s_input_keeps_its_metadata() {
        let yaml = "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: cart\n  namespace: shop\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [read]\n  - action: SCMP_ACT_LOG\n    names: [connect]\n";
        let p = parse_profile(yaml, Path::new("cart.yaml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.yaml");
        let rep = report(
            &args(&["-o", out.to_str().unwrap()]),
            &p,
            "cart.yaml",
            &[obs("connect", Action::Log, "c")],
        )
        .unwrap();
        let (_, text) = rep.file.unwrap();
        let res = rules::profile::K8sSeccompProfile::from_yaml(&text).unwrap();
        assert_eq!(
            (
                res.metadata.name.as_str(),
                res.metadata.namespace.as_deref()
            ),
            ("cart", Some("shop"))
        );
        assert!(res
            .spec
            .rules()
            .iter()
            .any(|r| r.action == "SCMP_ACT_ALLOW" && r.has_name("connect")));
    }

    #[test]
    fn profile_choice_without_flag() {
        let a = args(&[]);
        let json = r#"{"defaultAction": "SCMP_ACT_LOG"}"#.to_string();
        let one = Evidence {
            observations: vec![],
            profiles: vec![("ab".repeat(32), json.clone())],
            ..Evidence::default()
        };
        let (p, shown) = the_profile(&a, &one).unwrap();
        assert_eq!(shown, "profile-abababababab.json");
        assert_eq!(p.profile.spec().default_action, "SCMP_ACT_LOG");
        let two = Evidence {
            observations: vec![],
            profiles: vec![("ab".repeat(32), json.clone()), ("cd".repeat(32), json)],
            ..Evidence::default()
        };
        let e = the_profile(&a, &two).unwrap_err().to_string();
        assert!(
            e.contains("2 different profiles") && e.contains("--profile"),
            "{e}"
        );
        let none = Evidence::default();
        assert!(the_profile(&a, &none)
            .unwrap_err()
            .to_string()
            .contains("pass --profile"));
    }

    #[test]
    fn dangerous_calls_are_held_back_and_check_exits_3() {
        let p = fixture("fedora_ls_no-opt.json");
        // Only a dangerous call is left: exit 3, nothing changed, a warning.
        let o = [
            obs("read", Action::Log, "ls"),
            obs("ptrace", Action::Log, "gdb"),
        ];
        let rep = report(&args(&["--check", "--no-essentials"]), &p, "p.json", &o).unwrap();
        assert_eq!(rep.code, EXIT_NEEDS_APPROVAL, "{}", rep.out);
        assert!(rep.out.contains("no change suggested"), "{}", rep.out);
        assert!(
            rep.out
                .contains("WARNING: 1 dangerous call(s) observed and NOT allowed: ptrace"),
            "{}",
            rep.out
        );
        // A change besides it: exit 1 (the ordinary change comes first).
        let o2 = [
            obs("getpid", Action::Log, "ls"),
            obs("ptrace", Action::Log, "gdb"),
        ];
        let rep = report(&args(&["--check"]), &p, "p.json", &o2).unwrap();
        assert_eq!(rep.code, 1);
        assert!(rep.out.contains("+        \"getpid\""), "{}", rep.out);
        assert!(!rep.out.contains("+        \"ptrace\""), "{}", rep.out);
        // --allow ptrace: it is a change now.
        let rep = report(&args(&["--check", "--allow", "ptrace"]), &p, "p.json", &o).unwrap();
        assert_eq!(rep.code, 1);
        assert!(rep.out.contains("+        \"ptrace\""), "{}", rep.out);
        assert!(!rep.out.contains("WARNING"), "{}", rep.out);
        let rep = report(&args(&["--check", "--allow-dangerous"]), &p, "p.json", &o).unwrap();
        assert_eq!(rep.code, 1);
    }

    #[test]
    fn enforce_of_a_complain_profile() {
        let base = fixture("fedora_ls_no-opt_log-delta.json");
        let c = rules::profile::complain(&base.profile).unwrap().profile;
        let compact: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        // As a runtime stores it: compact.
        let loaded = parse_profile(&compact.to_string(), Path::new("profile-x.json")).unwrap();
        let o = [
            obs("getppid", Action::Log, "runc:[2:INIT]"),
            obs("connect", Action::Log, "ls"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.json");
        let rep = report(
            &args(&["--enforce", "-o", out.to_str().unwrap()]),
            &loaded,
            "profile-x.json",
            &o,
        )
        .unwrap();
        assert!(
            rep.out
                .contains("default action SCMP_ACT_LOG -> SCMP_ACT_ERRNO"),
            "{}",
            rep.out
        );
        let diff_long = rep.out.lines().filter(|l| l.len() > 200).count();
        assert_eq!(
            diff_long, 0,
            "the diff of a compact profile is pretty: {}",
            rep.out
        );
        let (_, text) = rep.file.unwrap();
        let p = rules::profile::Profile::from_json(&text).unwrap();
        assert_eq!(p.spec().default_action, "SCMP_ACT_ERRNO");
        assert!(text.contains("\n  \"syscalls\": ["), "{text}");
        assert!(p.spec().rules().iter().any(|r| r.action == "SCMP_ACT_ALLOW"
            && r.has_name("getppid")
            && r.has_name("connect")));
    }

    #[test]
    fn a_complain_copy_keeps_the_originals_denies() {
        let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "syscalls": [
  {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
  {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97}]}"#;
        let original = rules::profile::Profile::from_json(text).unwrap();
        let copy = rules::profile::complain(&original).unwrap().profile;
        let loaded = parse_profile(&copy.to_json(), Path::new("profile-x.json")).unwrap();
        let o = [
            obs("socket", Action::Log, "ls"),
            obs("getpid", Action::Log, "ls"),
        ];
        let rep = report(&args(&["--enforce", "--format", "json"]), &loaded, "p", &o).unwrap();
        assert!(rep.err.contains("judged as its original (defaultAction SCMP_ACT_ERRNO (defaultErrnoRet 1), 1 entry restored)"), "{}", rep.err);
        assert!(rep.err.contains("NOTE: 1 observed call(s) that an entry of the profile denies were NOT allowed: socket"), "{}", rep.err);
        let p = rules::profile::Profile::from_json(&rep.out).unwrap();
        assert_eq!(p.spec().default_errno_ret, Some(1));
        assert_eq!(p.spec().rules()[1].errno_ret, Some(97));
        assert!(p.spec().rules()[0].has_name("getpid") && !p.spec().rules()[0].has_name("socket"));
        // Once getpid is allowed, --check exits 3: what is left needs --allow socket.
        let done = parse_profile(
            &rules::profile::complain(&p).unwrap().profile.to_json(),
            Path::new("x"),
        )
        .unwrap();
        let rep = report(&args(&["--check", "--enforce"]), &done, "p", &o[..1]).unwrap();
        assert_eq!(
            rep.code, 1,
            "the copy itself still changes (LOG -> ERRNO): {}",
            rep.out
        );
        let rep = report(&args(&["--check"]), &done, "p", &o[..1]).unwrap();
        assert_eq!(rep.code, EXIT_NEEDS_APPROVAL, "{}", rep.out);
        // --allow socket: allowed; --allow of a call nothing denies is a typo.
        let rep = report(
            &args(&["--enforce", "--allow", "socket", "--format", "json"]),
            &loaded,
            "p",
            &o,
        )
        .unwrap();
        let p = rules::profile::Profile::from_json(&rep.out).unwrap();
        assert!(p.spec().rules()[0].has_name("socket"));
        assert_eq!(p.spec().rules().len(), 1, "the emptied deny entry is gone");
        let err = report(&args(&["--allow", "getppid"]), &loaded, "p", &o).unwrap_err();
        assert!(
            err.to_string()
                .contains("neither a call of the @dangerous group"),
            "{err}"
        );
    }

    #[test]
    fn dangerous_diff_lines_are_escaped() {
        assert_eq!(
            escape_lines("+ \"a\\\"b\"\n- \u{202e}x\n"),
            "+ \"a\\\"b\"\n- \\u{202e}x\n"
        );
    }
}
