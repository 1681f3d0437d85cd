//! The evidence of the profile commands: observations per (arch, syscall, compat, action)
//! aggregated from events ([`Aggregator`]), and the stored evidence of a selection (one
//! workload, container or pod) read from the store ([`load_evidence`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use parsers::escape::escape;
use parsers::Event;
use rules::suggest::fleet::{self, Fleet, NodeRow};
use rules::suggest::Observation;

use crate::store::{Selection, Store};

/// Which stored events to use: one workload, container or pod, optionally recent ones only.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
#[command(group(
    clap::ArgGroup::new("selection")
        .required(true)
        .multiple(false)
        .args(["workload", "container", "pod"])
))]
pub struct SelectionArgs {
    /// A workload key (`k8s:NS/OWNER/CONTAINER`, `docker:NAME`, `unit:NAME`, `exe:PATH`).
    #[arg(long, value_name = "W")]
    pub workload: Option<String>,
    /// A container id, or a prefix of one (every container it matches counts).
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// A Kubernetes pod.
    #[arg(long, value_name = "NS/NAME", value_parser = parse_pod)]
    pub pod: Option<(String, String)>,
    /// Only events at or after WHEN: a duration ago (`2h`, `7d`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// The database: a file, or the fleet's `postgres://...` URL (evidence from every node)
    /// (default: the configuration's, else /var/lib/seccomp-watch/seccomp-watch.db).
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
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

/// The stored evidence of a selection: the union over the nodes that saw it.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub observations: Vec<Observation>,
    /// The distinct applied profiles of the selection's events: (SHA-256 hex, JSON).
    pub profiles: Vec<(String, String)>,
    /// The nodes (with their native arches) and where each applied profile ran.
    pub fleet: Fleet,
}

/// Reads the evidence of `sel` from the store (`--db`: a file or the fleet's
/// `postgres://` URL); `with_profiles` also fetches the applied profiles of the
/// selection's events.
pub fn load_evidence(sel: &SelectionArgs, with_profiles: bool) -> anyhow::Result<Evidence> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let since_ms = sel
        .since
        .as_deref()
        .map(|s| crate::query::parse_when(s, now))
        .transpose()?;
    let selection = Selection {
        workload: sel.workload.clone(),
        container: sel.container.clone(),
        pod: sel.pod.clone(),
        since_ms,
        until_ms: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = crate::query::open_read(sel.db.as_deref()).await?;
        let res = read_evidence(&store, &selection, with_profiles).await;
        store.close().await;
        res
    })
}

/// [`load_evidence`] on an open store.
pub async fn read_evidence<S: Store>(
    store: &S,
    sel: &Selection,
    with_profiles: bool,
) -> anyhow::Result<Evidence> {
    let rows: Vec<NodeRow> = store
        .observations(sel)
        .await?
        .iter()
        .map(|o| {
            let e = o.as_event();
            NodeRow {
                node: o.node.clone().unwrap_or_default(),
                profile: o.profile_hash.clone(),
                observation: Observation {
                    arch: e.arch_name(),
                    syscall: e
                        .syscall()
                        .map_or_else(|| e.syscall_nr.to_string(), str::to_string),
                    compat: o.compat,
                    action: o.action,
                    count: o.count,
                    containers: o.containers,
                    nodes: Vec::new(),
                    first_seen: o.first_ms,
                    last_seen: o.last_ms,
                    sample_comm: o.sample_comm.clone().unwrap_or_default(),
                    sample_exe: o.sample_exe.clone().unwrap_or_default(),
                },
            }
        })
        .collect();
    let mut fleet = fleet::union(&rows);
    let observations = std::mem::take(&mut fleet.observations);
    let mut profiles = Vec::new();
    if with_profiles {
        for hash in fleet.applied_profiles().filter_map(|p| p.profile.clone()) {
            match store.profile(&hash).await? {
                Some(json) => profiles.push((hash, json)),
                None => anyhow::bail!(
                    "the applied profile {} is referenced by events but not stored: pass --profile",
                    escape(&hash)
                ),
            }
        }
        profiles.sort();
    }
    Ok(Evidence {
        observations,
        profiles,
        fleet,
    })
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
                nodes: Vec::new(),
                first_seen: e.time_ms,
                last_seen: e.time_ms,
                sample_comm: e.comm.clone().unwrap_or_default(),
                sample_exe: e.exe.clone().unwrap_or_default(),
            };
            (obs, BTreeSet::new())
        });
        obs.count = obs.count.saturating_add(1);
        if let Some(n) = &e.node {
            if let Err(at) = obs.nodes.binary_search(n) {
                obs.nodes.insert(at, n.clone());
            }
        }
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

    fn stored_event(
        line: &str,
        container: &str,
        pod: &str,
        profile: &str,
    ) -> crate::pipeline::Item {
        let Ok(parsers::Parsed::Seccomp(r)) = parsers::parse_line(line.as_bytes()) else {
            panic!("{line}")
        };
        let info = parsers::ContainerInfo {
            id: container.to_string(),
            runtime: "runc".into(),
            name: Some("app".into()),
            pod: Some(pod.to_string()),
            namespace: Some("shop".into()),
            ..Default::default()
        };
        crate::pipeline::Item {
            event: Event::from_record(&r).unwrap(),
            source: crate::pipeline::SourceKind::Netlink,
            attribution: parsers::Attribution {
                workload: parsers::workload::workload_key(Some(&info), None, None),
                container: Some(info),
                unit: None,
                attributed: true,
                profile_hash: Some(profile.to_string()),
            },
        }
    }

    #[test]
    fn evidence_from_a_real_store() {
        use crate::pipeline::{ProfileBlob, StoreBatch};
        use crate::store::StoreWriter;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let line = |serial: u32, pid: u32, nr: i64, code: &str| {
            format!(
                "type=SECCOMP msg=audit(1795997034.{serial:03}:{serial}): auid=0 uid=0 gid=0 ses=1 pid={pid} comm=\"ls\" exe=\"/usr/bin/ls\" sig=0 arch=c000003e syscall={nr} compat=0 ip=0x1 code={code}"
            )
        };
        let (c1, c2, c3) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let (h1, h2) = ("1".repeat(64), "2".repeat(64));
        let items = vec![
            stored_event(&line(1, 10, 42, "0x7ffc0000"), &c1, "cart-1", &h1),
            stored_event(&line(2, 11, 42, "0x7ffc0000"), &c2, "cart-2", &h1),
            stored_event(&line(3, 11, 41, "0x50000"), &c2, "cart-2", &h1),
            stored_event(&line(4, 12, 42, "0x7ffc0000"), &c3, "other-1", &h2),
        ];
        let batch = StoreBatch {
            items,
            profiles: vec![
                ProfileBlob {
                    hash: h1.clone(),
                    json: r#"{"defaultAction":"SCMP_ACT_LOG"}"#.into(),
                },
                ProfileBlob {
                    hash: h2.clone(),
                    json: r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#.into(),
                },
            ],
            ..StoreBatch::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = crate::store::SqliteStore::open(&db).await.unwrap();
            let mut w = store.open_writer().await.unwrap();
            w.write(&[batch]).await.unwrap();
            w.close().await.unwrap();
            store.close().await;
        });
        let sel =
            |container: Option<&str>, pod: Option<&str>, workload: Option<&str>| SelectionArgs {
                workload: workload.map(str::to_string),
                container: container.map(str::to_string),
                pod: pod.map(|p| ("shop".to_string(), p.to_string())),
                since: None,
                db: Some(db.clone()),
            };
        // One container: connect logged once, one container, its profile.
        let ev = load_evidence(&sel(Some(&c1[..12]), None, None), true).unwrap();
        assert_eq!(ev.observations.len(), 1);
        let o = &ev.observations[0];
        assert_eq!(
            (o.syscall.as_str(), o.arch.as_str(), o.count, o.containers),
            ("connect", "SCMP_ARCH_X86_64", 1, 1)
        );
        assert_eq!(
            (o.sample_comm.as_str(), o.sample_exe.as_str()),
            ("ls", "/usr/bin/ls")
        );
        assert_eq!(
            ev.profiles,
            vec![(
                h1.clone(),
                r#"{"defaultAction":"SCMP_ACT_LOG"}"#.to_string()
            )]
        );
        // A workload across two containers: connect by 2 containers, socket blocked once.
        let ev = load_evidence(&sel(None, None, Some("k8s:shop/cart/app")), false).unwrap();
        let connect = ev
            .observations
            .iter()
            .find(|o| o.syscall == "connect")
            .unwrap();
        assert_eq!((connect.count, connect.containers), (2, 2));
        assert!(ev
            .observations
            .iter()
            .any(|o| o.syscall == "socket" && o.action == parsers::Action::Errno));
        assert!(ev.profiles.is_empty());
        // A pod: its own events and profile only.
        let ev = load_evidence(&sel(None, Some("other-1"), None), true).unwrap();
        assert_eq!(ev.observations.len(), 1);
        assert_eq!(ev.profiles.len(), 1);
        assert_eq!(ev.profiles[0].0, h2);
        // Nothing selected: empty, not an error.
        let ev = load_evidence(&sel(None, Some("nope"), None), true).unwrap();
        assert!(ev.observations.is_empty() && ev.profiles.is_empty());
        // No database: a clear error.
        let mut missing = sel(None, Some("x"), None);
        missing.db = Some(dir.path().join("none.db"));
        let e = format!("{:#}", load_evidence(&missing, false).unwrap_err());
        assert!(e.contains("no database"), "{e}");
    }
}
