//! The alert model (one roll-up: a rule, a workload, a syscall and an action within one
//! window) and the JSON payload every sink sends: id, rule, severity, a one-sentence
//! summary, node, workload, container, syscall, arch, action, count, first and last seen,
//! samples, the profile in force and a hint.

use parsers::ContainerInfo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::Severity;

/// The rule name of the global overflow summary alert.
pub const OVERFLOW_RULE: &str = "alert-overflow";

/// Samples kept per alert at most.
pub const MAX_SAMPLES: usize = 5;
/// Container ids listed per alert at most (the distinct count goes on beyond).
pub const MAX_CONTAINER_IDS: usize = 20;

/// One event kept as an example of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub time_ms: i64,
    pub pid: u32,
    pub comm: Option<String>,
    pub exe: Option<String>,
    pub uid: Option<u32>,
    pub container_id: Option<String>,
}

/// One alert: everything the payload needs. Stored as JSON in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic: the same rule, workload, syscall, action and window give the same id
    /// on every node (the idempotency key of every delivery, and one ticket per fleet);
    /// the overflow summary's id also holds the node (its limit is per node).
    pub id: String,
    pub rule: String,
    #[serde(default)]
    pub rule_description: Option<String>,
    pub severity: Severity,
    pub node: Option<String>,
    pub workload: String,
    /// The container of the first event.
    pub container: Option<ContainerInfo>,
    /// libseccomp's name, or the number when unknown; `*` for the overflow summary.
    pub syscall: String,
    pub syscall_nr: Option<i64>,
    pub arch: String,
    pub action: String,
    pub count: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// Distinct containers (exact up to a large cap).
    pub containers: u64,
    /// The first few container ids.
    pub container_ids: Vec<String>,
    pub samples: Vec<Sample>,
    /// SHA-256 of the profile in force (from attribution), when known.
    pub profile_hash: Option<String>,
    /// For the overflow summary: how many distinct alerts it stands for.
    #[serde(default)]
    pub suppressed_alerts: u64,
}

/// The deterministic id of an alert key in a window, formatted like a UUID.
pub fn alert_id(
    node: Option<&str>,
    rule: &str,
    workload: &str,
    syscall: &str,
    action: &str,
    window_start_ms: i64,
) -> String {
    let mut h = Sha256::new();
    for part in [node.unwrap_or(""), rule, workload, syscall, action] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(window_start_ms.to_be_bytes());
    uuid_like(&h.finalize())
}

fn uuid_like(d: &[u8]) -> String {
    let x = hex::encode(&d[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// A workload key quoted for a shell command line when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_./:@=+,".contains(&c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl Alert {
    /// True for the global overflow summary.
    pub fn is_overflow(&self) -> bool {
        self.rule == OVERFLOW_RULE
    }

    /// One sentence for humans (SIEM titles, syslog messages).
    pub fn summary(&self) -> String {
        let node = self
            .node
            .as_deref()
            .map(|n| format!(" on {n}"))
            .unwrap_or_default();
        if self.is_overflow() {
            return format!(
                "{} events of {} more alerts{node} were folded into this summary because the alert limit per window was reached",
                self.count, self.suppressed_alerts
            );
        }
        let times = if self.count == 1 {
            "once".to_string()
        } else {
            format!("{} times", self.count)
        };
        let container = match &self.container {
            Some(c) => {
                let name = c
                    .name
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&c.id[..c.id.len().min(12)]);
                format!(" in container {name}")
            }
            None => String::new(),
        };
        format!(
            "{} made syscall {} ({}) {times}{container}{node}, seccomp action {}: rule {} ({})",
            self.workload, self.syscall, self.arch, self.action, self.rule, self.severity
        )
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        if self.is_overflow() {
            return "Too many distinct alerts in one window: narrow the rules or raise alerts.max_alerts_per_window; `seccomp-watch alerts` lists what was raised".to_string();
        }
        let w = shell_quote(&self.workload);
        format!(
            "If {} is expected for this workload, `seccomp-watch suggest --workload {w}` moves it to the allow list; otherwise investigate the sample processes",
            self.syscall
        )
    }

    /// The JSON payload sent to sinks. `final_` says the roll-up window has closed (the
    /// count will not change any more).
    pub fn payload(&self, final_: bool) -> Value {
        let t = parsers::time::rfc3339_ms;
        let container = self.container.as_ref().map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "image": c.image,
                "pod": c.pod,
                "namespace": c.namespace,
                "runtime": c.runtime,
            })
        });
        let samples: Vec<Value> = self
            .samples
            .iter()
            .map(|s| {
                json!({
                    "time": t(s.time_ms),
                    "pid": s.pid,
                    "comm": s.comm,
                    "exe": s.exe,
                    "uid": s.uid,
                    "container_id": s.container_id,
                })
            })
            .collect();
        json!({
            "id": self.id,
            "schema": "seccomp-watch.alert.v1",
            "rule": self.rule,
            "rule_description": self.rule_description,
            "severity": self.severity,
            "summary": self.summary(),
            "node": self.node,
            "workload": self.workload,
            "container": container,
            "syscall": self.syscall,
            "syscall_nr": self.syscall_nr,
            "arch": self.arch,
            "action": self.action,
            "count": self.count,
            "first_seen": t(self.first_seen_ms),
            "last_seen": t(self.last_seen_ms),
            "window_start": t(self.window_start_ms),
            "window_end": t(self.window_end_ms),
            "final": final_,
            "containers": self.containers,
            "container_ids": self.container_ids,
            "samples": samples,
            "profile": self.profile_hash.as_ref().map(|h| json!({ "hash": h })),
            "suppressed_alerts": self.suppressed_alerts,
            "hint": self.hint(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            id: alert_id(
                Some("n1"),
                "r",
                "k8s:shop/cart/api",
                "ptrace",
                "SCMP_ACT_ERRNO",
                0,
            ),
            rule: "r".into(),
            rule_description: None,
            severity: Severity::Critical,
            node: Some("n1".into()),
            workload: "k8s:shop/cart/api".into(),
            container: Some(ContainerInfo {
                id: "abcdef0123456789".into(),
                runtime: "containerd".into(),
                name: Some("api".into()),
                ..Default::default()
            }),
            syscall: "ptrace".into(),
            syscall_nr: Some(101),
            arch: "SCMP_ARCH_X86_64".into(),
            action: "SCMP_ACT_ERRNO".into(),
            count: 3,
            first_seen_ms: 1_000,
            last_seen_ms: 2_000,
            window_start_ms: 0,
            window_end_ms: 600_000,
            containers: 1,
            container_ids: vec!["abcdef0123456789".into()],
            samples: vec![Sample {
                time_ms: 1_000,
                pid: 7,
                comm: Some("sh".into()),
                exe: Some("/bin/sh".into()),
                uid: Some(0),
                container_id: None,
            }],
            profile_hash: Some("ab".repeat(32)),
            suppressed_alerts: 0,
        }
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = alert_id(Some("n1"), "r", "w", "ptrace", "SCMP_ACT_LOG", 0);
        assert_eq!(
            a,
            alert_id(Some("n1"), "r", "w", "ptrace", "SCMP_ACT_LOG", 0)
        );
        assert_ne!(
            a,
            alert_id(Some("n2"), "r", "w", "ptrace", "SCMP_ACT_LOG", 0)
        );
        assert_ne!(
            a,
            alert_id(Some("n1"), "r", "w", "ptrace", "SCMP_ACT_LOG", 600_000)
        );
        // No ambiguity from concatenation.
        assert_ne!(
            alert_id(None, "ab", "c", "x", "y", 0),
            alert_id(None, "a", "bc", "x", "y", 0)
        );
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }

    #[test]
    fn payload_has_every_field() {
        let p = alert().payload(false);
        for k in [
            "id",
            "rule",
            "severity",
            "summary",
            "node",
            "workload",
            "container",
            "syscall",
            "arch",
            "action",
            "count",
            "first_seen",
            "last_seen",
            "samples",
            "profile",
            "hint",
        ] {
            assert!(p.get(k).is_some(), "missing {k}");
        }
        assert_eq!(p["severity"], "critical");
        assert_eq!(p["container"]["name"], "api");
        assert_eq!(p["container"]["runtime"], "containerd");
        assert_eq!(p["samples"][0]["comm"], "sh");
        assert_eq!(p["first_seen"], "1970-01-01T00:00:01.000Z");
        assert_eq!(
            p["summary"],
            "k8s:shop/cart/api made syscall ptrace (SCMP_ARCH_X86_64) 3 times in container api on n1, seccomp action SCMP_ACT_ERRNO: rule r (critical)"
        );
        assert!(p["hint"]
            .as_str()
            .unwrap()
            .contains("seccomp-watch suggest --workload k8s:shop/cart/api"));
        let back: Alert = serde_json::from_str(&serde_json::to_string(&alert()).unwrap()).unwrap();
        assert_eq!(back, alert());
    }

    #[test]
    fn hint_quotes_odd_workloads() {
        let mut a = alert();
        a.workload = "exe:/opt/my app/bin".into();
        assert!(
            a.hint().contains("--workload 'exe:/opt/my app/bin'"),
            "{}",
            a.hint()
        );
    }
}
