//! The profile commands: `suggest` (edit a profile from the evidence), `generate` (a
//! least-privilege profile from the evidence), `record` (run a command under a logging filter
//! and write the profile it needs) and `merge` (union of profiles), with what they share:
//! profile files in and out (Docker/OCI JSON or a Kubernetes `SeccompProfile`), observations
//! built from events, and the human output (evidence table, findings).

pub mod generate;
pub mod merge;
pub mod output;
pub mod record;
pub mod suggest;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use parsers::escape::escape;
use parsers::Event;
use rules::profile::{K8sSeccompProfile, Profile};
use rules::suggest::Observation;

/// The output formats of the commands that write a whole profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileFormat {
    /// Docker/OCI seccomp JSON.
    Json,
    /// A Kubernetes Security Profiles Operator `SeccompProfile` (YAML).
    K8s,
}

/// A profile read from a file, with the `SeccompProfile` it came from when it was one.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    pub profile: Profile,
    /// The resource, when the file was a `SeccompProfile` YAML.
    pub k8s: Option<K8sSeccompProfile>,
    pub path: PathBuf,
}

/// Reads a profile: Docker/OCI JSON, or a `SeccompProfile` YAML (told apart by the first
/// non-blank character: JSON starts with `{`).
pub fn load_profile(path: &Path) -> anyhow::Result<LoadedProfile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", escape(&path.display().to_string())))?;
    parse_profile(&text, path)
}

/// [`load_profile`] of text already read.
pub fn parse_profile(text: &str, path: &Path) -> anyhow::Result<LoadedProfile> {
    let shown = escape(&path.display().to_string()).into_owned();
    if text.trim_start().starts_with('{') {
        let profile =
            Profile::from_json(text).with_context(|| format!("{shown}: not a seccomp profile"))?;
        return Ok(LoadedProfile {
            profile,
            k8s: None,
            path: path.to_path_buf(),
        });
    }
    let res = K8sSeccompProfile::from_yaml(text)
        .with_context(|| format!("{shown}: neither a JSON seccomp profile nor a SeccompProfile"))?;
    Ok(LoadedProfile {
        profile: res.to_profile(),
        k8s: Some(res),
        path: path.to_path_buf(),
    })
}

/// A Kubernetes resource name (DNS-1123 subdomain) made from `s`: lower case, runs of other
/// characters as `-`, at most 253 characters; `profile` when nothing is left.
pub fn k8s_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out
        .trim_matches(|c: char| c == '-' || c == '.')
        .chars()
        .take(253)
        .collect();
    let trimmed = trimmed.trim_end_matches(['-', '.']).to_string();
    if trimmed.is_empty() {
        "profile".to_string()
    } else {
        trimmed
    }
}

/// The text of `profile` in `format`, and the notes of what the `SeccompProfile` form
/// dropped. `template`, when given, supplies the resource's metadata (and unknown fields);
/// otherwise it is named `name`.
pub fn render_profile(
    profile: &Profile,
    format: ProfileFormat,
    template: Option<&K8sSeccompProfile>,
    name: &str,
) -> anyhow::Result<(String, Vec<String>)> {
    match format {
        ProfileFormat::Json => Ok((profile.to_json(), Vec::new())),
        ProfileFormat::K8s => {
            let (mut res, notes) = K8sSeccompProfile::from_profile(profile, name);
            if let Some(t) = template {
                res.api_version.clone_from(&t.api_version);
                res.metadata = t.metadata.clone();
                res.extra = t.extra.clone();
            }
            Ok((res.to_yaml()?, notes))
        }
    }
}

/// Writes `text` to `path` atomically (a temporary file in the same directory, renamed).
pub fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let shown = escape(&path.display().to_string()).into_owned();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("cannot write {shown}")));
    }
    Ok(())
}

/// The default database of the daemon.
pub const DEFAULT_DB: &str = "/var/lib/seccomp-watch/seccomp-watch.db";

/// Which stored events to use: one workload, container or pod, optionally recent ones only.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "selection", required = true, multiple = false, args = ["workload", "container", "pod"])]
pub struct SelectionArgs {
    /// A workload key (`k8s:NS/OWNER/CONTAINER`, `docker:NAME`, `unit:NAME`, `exe:PATH`).
    #[arg(long, value_name = "W")]
    pub workload: Option<String>,
    /// A container id (or a unique prefix of at least 12 characters).
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// A Kubernetes pod.
    #[arg(long, value_name = "NS/NAME", value_parser = parse_pod)]
    pub pod: Option<(String, String)>,
    /// Only events of the last DUR (e.g. 2h, 7d).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// The database.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DB)]
    pub db: PathBuf,
}

impl SelectionArgs {
    /// A short name of the selection (for generated resource names).
    pub fn label(&self) -> Option<String> {
        if let Some(w) = &self.workload {
            return Some(w.clone());
        }
        if let Some(c) = &self.container {
            return Some(format!(
                "container-{}",
                c.chars().take(12).collect::<String>()
            ));
        }
        self.pod
            .as_ref()
            .map(|(ns, name)| format!("pod-{ns}-{name}"))
    }
}

/// `NS/NAME`.
fn parse_pod(s: &str) -> Result<(String, String), String> {
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_string(), name.to_string()))
        }
        _ => Err(format!(
            "invalid pod {:?}: expected NAMESPACE/NAME",
            escape(s)
        )),
    }
}

/// The stored evidence of a selection.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub observations: Vec<Observation>,
    /// The distinct applied profiles of the selection's events: (SHA-256 hex, JSON).
    pub profiles: Vec<(String, String)>,
}

/// Reads the evidence of `sel` from the store; `with_profiles` also fetches the applied
/// profiles of the selection's events.
pub fn load_evidence(sel: &SelectionArgs, with_profiles: bool) -> anyhow::Result<Evidence> {
    let _ = (sel, with_profiles);
    anyhow::bail!("the event store is not available in this build")
}

/// Parses a duration: a number and a unit `ms`, `s`, `m`, `h`, `d` or `w` (`90s`, `15m`,
/// `2h`, `7d`); several may follow each other (`1h30m`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || {
        format!(
            "invalid duration {:?} (expected e.g. 90s, 15m, 2h, 7d)",
            escape(s)
        )
    };
    let mut total_ms: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total_ms = n
            .checked_mul(factor)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(std::time::Duration::from_millis(total_ms))
}

/// Aggregates events into observations per (arch, syscall, compat, action), as they come
/// (memory grows with the distinct calls, not with the events).
#[derive(Debug, Default)]
pub struct Aggregator {
    by_key: BTreeMap<AggKey, (Observation, BTreeSet<String>)>,
}

/// (syscall, arch, compat, action code).
type AggKey = (String, String, bool, u32);

impl Aggregator {
    /// Adds one event; `container` (when known) counts the distinct containers.
    pub fn add(&mut self, e: &Event, container: Option<&str>) {
        let syscall = e
            .syscall()
            .map_or_else(|| e.syscall_nr.to_string(), str::to_string);
        let key = (syscall.clone(), e.arch_name(), e.compat, e.action().code());
        let (obs, containers) = self.by_key.entry(key).or_insert_with(|| {
            let obs = Observation {
                arch: e.arch_name(),
                syscall,
                compat: e.compat,
                action: e.action(),
                count: 0,
                containers: 0,
                first_seen: e.time_ms,
                last_seen: e.time_ms,
                sample_comm: e.comm.clone().unwrap_or_default(),
                sample_exe: e.exe.clone().unwrap_or_default(),
            };
            (obs, BTreeSet::new())
        });
        obs.count = obs.count.saturating_add(1);
        obs.first_seen = obs.first_seen.min(e.time_ms);
        obs.last_seen = obs.last_seen.max(e.time_ms);
        if let Some(c) = container {
            if !containers.contains(c) {
                containers.insert(c.to_string());
            }
        }
    }

    /// The observations, sorted by syscall, arch, compat, action.
    pub fn finish(self) -> Vec<Observation> {
        self.by_key
            .into_values()
            .map(|(mut o, c)| {
                o.containers = c.len() as u64;
                o
            })
            .collect()
    }
}

/// Observations of `events` (see [`Aggregator`]).
pub fn observations_from_events<'a>(
    events: impl IntoIterator<Item = (&'a Event, Option<&'a str>)>,
) -> Vec<Observation> {
    let mut agg = Aggregator::default();
    for (e, container) in events {
        agg.add(e, container);
    }
    agg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 7 * 86400);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        for bad in ["", "5", "h", "5x", "-5m", "5 m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn k8s_names() {
        assert_eq!(k8s_name("Fedora_ls no-opt.json"), "fedora-ls-no-opt.json");
        assert_eq!(k8s_name("--x--"), "x");
        assert_eq!(k8s_name("\u{1b}[31m"), "31m");
        assert_eq!(k8s_name("___"), "profile");
    }

    #[test]
    fn observations_group_and_count_containers() {
        let line = |pid: u32, nr: i64, code: &str, t: u64| {
            format!(
                "type=SECCOMP msg=audit({t}.000:1): auid=0 uid=0 gid=0 ses=1 pid={pid} comm=\"ls\" exe=\"/bin/ls\" sig=0 arch=c000003e syscall={nr} compat=0 ip=0x1 code={code}"
            )
        };
        let ev = |l: String| match parsers::parse_line(l.as_bytes()) {
            Ok(parsers::Parsed::Seccomp(r)) => Event::from_record(&r).unwrap(),
            other => panic!("{other:?}"),
        };
        let events = [
            ev(line(1, 42, "0x7ffc0000", 100)),
            ev(line(2, 42, "0x7ffc0000", 300)),
            ev(line(3, 42, "0x7ffc0000", 200)),
            ev(line(3, 42, "0x50000", 200)),
            ev(line(3, 999, "0x7ffc0000", 200)),
        ];
        let containers = [Some("a"), Some("b"), Some("a"), None, None];
        let obs = observations_from_events(events.iter().zip(containers));
        assert_eq!(obs.len(), 3);
        let connect_log = obs
            .iter()
            .find(|o| o.syscall == "connect" && o.action == parsers::Action::Log)
            .unwrap();
        assert_eq!((connect_log.count, connect_log.containers), (3, 2));
        assert_eq!(
            (connect_log.first_seen, connect_log.last_seen),
            (100_000, 300_000)
        );
        assert_eq!(connect_log.arch, "SCMP_ARCH_X86_64");
        assert!(obs.iter().any(|o| o.syscall == "connect"
            && o.action == parsers::Action::Errno
            && o.containers == 0));
        assert!(obs.iter().any(|o| o.syscall == "999"));
    }
}
