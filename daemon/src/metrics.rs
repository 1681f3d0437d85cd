//! Every Prometheus metric the daemon exports (prefix `seccomp_watch_`), in one registry.
//!
//! Labels are bounded, whatever the records say (everything in a record is the attacker's):
//! container ids are never labels; `syscall` is a name of the record's arch's table or
//! `unknown`, `arch` and `action` are names or `unknown`/`other`; workload labels come from
//! [`Metrics::workload_series`]: at most `metrics.workload_series_limit` attributed
//! workloads (containers, pods, units; overflow in `other`) and, on their own budget, at
//! most `metrics.exe_workload_limit` `exe:` workloads (overflow in `exe:other`), so junk
//! executables cannot push real workloads out; at most
//! `metrics.series_per_workload_limit` (syscall, action) series per workload label (beyond,
//! syscall `other`). Label values are put in [`parsers::escape`]'s form (no control byte,
//! bidi or invisible character) and cut at [`MAX_LABEL_CHARS`].

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// All metrics. Get the process-wide instance with [`metrics()`].
pub struct Metrics {
    pub registry: Registry,
    /// Events stored, by source, action and arch (its `source` label sums to every event).
    pub events: IntCounterVec,
    /// Events stored, by workload (bounded), syscall and action.
    pub workload_events: IntCounterVec,
    /// Lines or messages that could not be parsed, by source.
    pub parse_errors: IntCounterVec,
    /// Audit records of other types skipped, by source.
    pub skipped_records: IntCounterVec,
    /// SECCOMP records kept with a damaged, unknown or unmapped field, by source.
    pub parse_warnings: IntCounterVec,
    /// SECCOMP records not written by the kernel (a user-space write to `/dev/kmsg`, a
    /// syslog line of another program), skipped, by source.
    pub forged_records: IntCounterVec,
    /// Records known lost, by cause (`enobufs`, `kernel_lost`, `kmsg_suppressed`, `tail`).
    pub lost: IntCounterVec,
    /// Records seen twice (same node, time, serial) and stored once.
    pub duplicates: IntCounter,
    /// Kernel audit status from AUDIT_GET (no labels): set while the status is read, left
    /// out (reset) while it cannot be, see [`Metrics::set_audit_status`].
    pub audit_enabled: IntGaugeVec,
    pub audit_backlog: IntGaugeVec,
    pub audit_backlog_limit: IntGaugeVec,
    pub audit_lost: IntGaugeVec,
    /// 1 while the kernel's audit status is read, 0 when it cannot be (no
    /// CAP_AUDIT_CONTROL, or not in the initial PID namespace).
    pub audit_status_up: IntGauge,
    /// Container metadata lookups that met runtime state the daemon may not read.
    pub runtime_state_unreadable: IntCounter,
    /// Records of `doctor`'s live probe, recognised and kept out of the store.
    pub probe_records: IntCounter,
    /// Sources running (1) or not (0), by source.
    pub source_up: IntGaugeVec,
    /// Attribution results: `resolved` or `unresolved`, by method.
    pub attribution: IntCounterVec,
    /// Alerts raised, by rule and severity.
    pub alerts: IntCounterVec,
    /// Repeats folded into an existing alert, by rule.
    pub alert_repeats: IntCounterVec,
    /// Alerts suppressed into the global overflow summary.
    pub alerts_overflow: IntCounter,
    /// Deliveries by sink and outcome (`ok`, `retry`, `dead`).
    pub deliveries: IntCounterVec,
    /// Alerts waiting in the outbox, and the age of the oldest.
    pub outbox_depth: IntGauge,
    pub outbox_oldest_age_seconds: Gauge,
    /// Database write latency (seconds per transaction) and batch size (events).
    pub db_write_seconds: Histogram,
    pub db_batch_events: Histogram,
    /// Rows removed by retention.
    pub retention_deleted: IntCounter,
    /// Config or rules reloads, by outcome.
    pub reloads: IntCounterVec,
    /// 1 while the database's disk is full (writes free space first), else 0.
    pub db_disk_full: IntGauge,
    /// HTTP connections open now.
    pub http_connections: IntGauge,
    /// Connections and requests the HTTP server refused or closed, by reason.
    pub http_rejected: IntCounterVec,
    /// Replication into the fleet's PostgreSQL ([`crate::fleet`]).
    pub fleet: FleetMetrics,
    labels: Mutex<WorkloadLabels>,
}

/// The replicator's metrics (`seccomp_watch_fleet_*`).
pub struct FleetMetrics {
    /// Events inserted into PostgreSQL (each once, replays not counted).
    pub replicated: IntCounter,
    /// Events sent again that PostgreSQL already had (a replay after a crash).
    pub duplicates: IntCounter,
    /// Events committed locally and not yet in PostgreSQL.
    pub lag_events: IntGauge,
    /// Age of the oldest event not yet in PostgreSQL (0 when caught up).
    pub lag_seconds: Gauge,
    /// 1 while the replicator is connected and its last batch committed.
    pub up: IntGauge,
    /// Connection and batch failures.
    pub errors: IntCounter,
    /// Events deleted locally (a full disk) before they were shipped.
    pub lost: IntCounter,
}

impl FleetMetrics {
    fn new(r: &Registry) -> FleetMetrics {
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        FleetMetrics {
            replicated: counter("seccomp_watch_fleet_replicated_events_total", "Events inserted into the fleet's PostgreSQL (replays not counted)."),
            duplicates: counter("seccomp_watch_fleet_duplicate_events_total", "Events sent again that the fleet's PostgreSQL already had."),
            lag_events: int_gauge(r, "seccomp_watch_fleet_replication_lag_events", "Events committed locally and not yet in the fleet's PostgreSQL."),
            lag_seconds: {
                let g = Gauge::new("seccomp_watch_fleet_replication_lag_seconds", "Age of the oldest event not yet in the fleet's PostgreSQL (0 when caught up).").expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            up: int_gauge(r, "seccomp_watch_fleet_up", "1 while the replicator is connected to the fleet's PostgreSQL and its last batch committed; 0 otherwise (or replication off)."),
            errors: counter("seccomp_watch_fleet_errors_total", "Failed connections and batches of the replicator (each retried)."),
            lost: counter("seccomp_watch_fleet_lost_events_total", "Events deleted locally (a full disk) before they were shipped to the fleet's PostgreSQL."),
        }
    }
}

/// How many workload labels and series per workload [`Metrics::workload_series`] hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLimits {
    /// Attributed workloads (containers, pods, units) with a label of their own.
    pub workloads: usize,
    /// `exe:` (and `unknown`) workloads with a label of their own.
    pub exe_workloads: usize,
    /// (syscall, action) series per workload label.
    pub series_per_workload: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            workloads: 1000,
            exe_workloads: 100,
            series_per_workload: 64,
        }
    }
}

/// Label values are cut after this many characters (then `...`).
pub const MAX_LABEL_CHARS: usize = 200;
/// The workload label of attributed workloads beyond the limit.
pub const OTHER_WORKLOAD: &str = "other";
/// The workload label of `exe:` workloads beyond their limit.
pub const OTHER_EXE_WORKLOAD: &str = "exe:other";
/// The syscall label of a number the arch's table does not name.
pub const UNKNOWN_SYSCALL: &str = "unknown";
/// The syscall label of series beyond `series_per_workload_limit`.
pub const OTHER_SYSCALL: &str = "other";

/// One workload label and the (syscall, action) pairs it has series of.
#[derive(Debug, Default)]
struct Slot {
    series: HashSet<(&'static str, &'static str)>,
}

/// The workload labels handed out so far (first come, first served, per budget).
#[derive(Debug, Default)]
struct WorkloadLabels {
    limits: LabelLimits,
    /// By label value (the sanitized key), including the two overflow labels.
    slots: HashMap<String, Slot>,
    attributed: usize,
    exe: usize,
}

impl WorkloadLabels {
    fn label_of(&mut self, workload: &str) -> String {
        let label = label_value(workload);
        if self.slots.contains_key(&label) {
            return label;
        }
        let exe = is_exe_workload(workload);
        let (used, limit, overflow) = if exe {
            (&mut self.exe, self.limits.exe_workloads, OTHER_EXE_WORKLOAD)
        } else {
            (&mut self.attributed, self.limits.workloads, OTHER_WORKLOAD)
        };
        // An overflow label is never handed out as a workload's own.
        if *used < limit && label != OTHER_WORKLOAD && label != OTHER_EXE_WORKLOAD {
            *used += 1;
            self.slots.insert(label.clone(), Slot::default());
            return label;
        }
        self.slots.entry(overflow.to_string()).or_default();
        overflow.to_string()
    }

    fn syscall_of(
        &mut self,
        label: &str,
        syscall: &'static str,
        action: &'static str,
    ) -> &'static str {
        let limit = self.limits.series_per_workload;
        let Some(slot) = self.slots.get_mut(label) else {
            return OTHER_SYSCALL;
        };
        if slot.series.contains(&(syscall, action)) {
            return syscall;
        }
        if slot.series.len() < limit {
            slot.series.insert((syscall, action));
            return syscall;
        }
        OTHER_SYSCALL
    }
}

/// Whether `workload` goes on the `exe:` budget: an executable's workload (`exe:PATH`, the
/// key of every unresolved record) or `unknown`.
pub fn is_exe_workload(workload: &str) -> bool {
    workload.starts_with("exe:") || workload == "unknown"
}

/// A label value made from attacker-controlled text: [`parsers::escape`]'s form (control
/// bytes as `\e`, `\x07`, ...), at most [`MAX_LABEL_CHARS`] characters (then `...`).
pub fn label_value(s: &str) -> String {
    let e = parsers::escape::escape(s);
    if e.chars().count() <= MAX_LABEL_CHARS {
        return e.into_owned();
    }
    let mut out: String = e.chars().take(MAX_LABEL_CHARS).collect();
    out.push_str("...");
    out
}

/// The `syscall` label of an event: its name in the record's arch's table, else `unknown`.
pub fn syscall_label(e: &parsers::Event) -> &'static str {
    e.syscall().unwrap_or(UNKNOWN_SYSCALL)
}

/// The `action` label: `SCMP_ACT_*`, or `other` for a code no action names.
pub fn action_label(a: parsers::Action) -> &'static str {
    a.name().unwrap_or("other")
}

/// The `arch` label: `SCMP_ARCH_*`, or `unknown` for an arch libseccomp does not name.
pub fn arch_label(e: &parsers::Event) -> &'static str {
    e.arch().map_or("unknown", |a| a.name())
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

/// A gauge without labels that can be absent: its one series exists only once set.
fn status_gauge(r: &Registry, name: &str, help: &str) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), &[]).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn int_gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let hist = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("valid metric");
            r.register(Box::new(h.clone())).expect("unique metric");
            h
        };
        let m = Metrics {
            events: counter_vec(&r, "seccomp_watch_events_total", "SECCOMP events stored, by source, action and arch.", &["source", "action", "arch"]),
            workload_events: counter_vec(
                &r,
                "seccomp_watch_workload_events_total",
                "SECCOMP events stored, by workload (bounded, overflow in \"other\"), syscall and action.",
                &["workload", "syscall", "action"],
            ),
            parse_errors: counter_vec(&r, "seccomp_watch_parse_errors_total", "Lines or messages that could not be parsed, by source.", &["source"]),
            skipped_records: counter_vec(&r, "seccomp_watch_skipped_records_total", "Audit records of other types skipped, by source.", &["source"]),
            parse_warnings: counter_vec(&r, "seccomp_watch_parse_warnings_total", "SECCOMP records kept with a damaged, unknown or unmapped field, by source.", &["source"]),
            forged_records: counter_vec(&r, "seccomp_watch_forged_records_total", "SECCOMP records not written by the kernel or an audit daemon, skipped, by source.", &["source"]),
            lost: counter_vec(&r, "seccomp_watch_lost_records_total", "Records known to be lost, by cause.", &["cause"]),
            duplicates: {
                let c = IntCounter::new("seccomp_watch_duplicate_records_total", "Records received twice (same node, time and serial) and stored once.").expect("valid");
                r.register(Box::new(c.clone())).expect("unique");
                c
            },
            audit_enabled: status_gauge(&r, "seccomp_watch_kernel_audit_enabled", "Kernel audit status: enabled (AUDIT_GET)."),
            audit_backlog: status_gauge(&r, "seccomp_watch_kernel_audit_backlog", "Kernel audit status: records in the backlog (AUDIT_GET)."),
            audit_backlog_limit: status_gauge(&r, "seccomp_watch_kernel_audit_backlog_limit", "Kernel audit status: backlog limit (AUDIT_GET)."),
            audit_lost: status_gauge(&r, "seccomp_watch_kernel_audit_lost", "Kernel audit status: records the kernel lost (AUDIT_GET)."),
            audit_status_up: int_gauge(&r, "seccomp_watch_kernel_audit_status_up", "1 while the kernel's audit status (AUDIT_GET) is read; 0 when it cannot be, and the kernel_audit_* gauges are left out."),
            runtime_state_unreadable: {
                let c = IntCounter::new("seccomp_watch_runtime_state_unreadable_total", "Container metadata lookups that met runtime state the daemon may not read (names, images and profiles lost).").expect("valid");
                r.register(Box::new(c.clone())).expect("unique");
                c
            },
            probe_records: {
                let c = IntCounter::new("seccomp_watch_probe_records_total", "Records of doctor's live probe (marked by root in /run/seccomp-watch-probes), kept out of the store.").expect("valid");
                r.register(Box::new(c.clone())).expect("unique");
                c
            },
            source_up: {
                let g = IntGaugeVec::new(Opts::new("seccomp_watch_source_up", "1 when the source is running."), &["source"]).expect("valid");
                r.register(Box::new(g.clone())).expect("unique");
                g
            },
            attribution: counter_vec(&r, "seccomp_watch_attribution_total", "Attribution outcomes (resolved, unresolved), by method.", &["outcome", "method"]),
            alerts: counter_vec(&r, "seccomp_watch_alerts_total", "Alerts raised, by rule and severity.", &["rule", "severity"]),
            alert_repeats: counter_vec(&r, "seccomp_watch_alert_repeats_total", "Events folded into an existing alert's count, by rule.", &["rule"]),
            alerts_overflow: {
                let c = IntCounter::new("seccomp_watch_alerts_overflow_total", "Alerts folded into the global overflow summary alert.").expect("valid");
                r.register(Box::new(c.clone())).expect("unique");
                c
            },
            deliveries: counter_vec(&r, "seccomp_watch_deliveries_total", "Alert deliveries, by sink and outcome.", &["sink", "outcome"]),
            outbox_depth: int_gauge(&r, "seccomp_watch_outbox_pending", "Alert deliveries waiting in the outbox."),
            outbox_oldest_age_seconds: {
                let g = Gauge::new("seccomp_watch_outbox_oldest_pending_age_seconds", "Age of the oldest pending delivery.").expect("valid");
                r.register(Box::new(g.clone())).expect("unique");
                g
            },
            db_write_seconds: hist(
                "seccomp_watch_db_write_duration_seconds",
                "Duration of one database write transaction.",
                vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
            ),
            db_batch_events: hist(
                "seccomp_watch_db_batch_events",
                "Events written per database transaction.",
                vec![1.0, 10.0, 100.0, 1000.0, 5000.0, 10000.0, 50000.0],
            ),
            retention_deleted: {
                let c = IntCounter::new("seccomp_watch_retention_deleted_events_total", "Raw events removed by retention.").expect("valid");
                r.register(Box::new(c.clone())).expect("unique");
                c
            },
            reloads: counter_vec(&r, "seccomp_watch_reloads_total", "Configuration and rules reloads, by outcome.", &["outcome"]),
            db_disk_full: int_gauge(&r, "seccomp_watch_db_disk_full", "1 while the database's disk is full: writes first give up the reserve, run retention and delete the oldest raw events."),
            http_connections: int_gauge(&r, "seccomp_watch_http_connections", "HTTP connections open now."),
            http_rejected: counter_vec(
                &r,
                "seccomp_watch_http_rejected_total",
                "HTTP connections and requests refused or closed, by reason (connection_limit, header_timeout, idle_timeout, host, body_too_large).",
                &["reason"],
            ),
            fleet: FleetMetrics::new(&r),
            labels: Mutex::new(WorkloadLabels::default()),
            registry: r,
        };
        #[cfg(target_os = "linux")]
        {
            let pc = prometheus::process_collector::ProcessCollector::new(
                std::process::id() as i32,
                "seccomp_watch",
            );
            let _ = m.registry.register(Box::new(pc));
        }
        m
    }

    /// Sets the label limits (from `[metrics]`). Labels handed out stay; the limits apply
    /// to new ones.
    pub fn set_label_limits(&self, limits: LabelLimits) {
        if let Ok(mut g) = self.labels.lock() {
            g.limits = limits;
        }
    }

    /// The label values of a series of `workload_events_total`: (workload, syscall). The
    /// workload's own (sanitized) key while its budget lasts, else `other` or `exe:other`;
    /// `syscall` itself while the workload label has fewer than
    /// `series_per_workload_limit` series, else `other`.
    pub fn workload_series(
        &self,
        workload: &str,
        syscall: &'static str,
        action: &'static str,
    ) -> (String, &'static str) {
        let Ok(mut g) = self.labels.lock() else {
            return (OTHER_WORKLOAD.to_string(), OTHER_SYSCALL);
        };
        let label = g.label_of(workload);
        let syscall = g.syscall_of(&label, syscall, action);
        (label, syscall)
    }

    /// Creates the series of the bounded label sets at zero, so that dashboards and alert
    /// rules see 0 rather than no data: every loss cause, parse errors and skipped records
    /// of every source, reload outcomes. `source_up` is left to the sources (a source that
    /// is not configured must not look down). Call once at start-up.
    pub fn init_series(&self) {
        for cause in LOSS_CAUSES {
            self.lost.with_label_values(&[cause]);
        }
        for s in crate::pipeline::SourceKind::ALL {
            self.parse_errors.with_label_values(&[s.as_str()]);
            self.skipped_records.with_label_values(&[s.as_str()]);
            self.parse_warnings.with_label_values(&[s.as_str()]);
            self.forged_records.with_label_values(&[s.as_str()]);
        }
        for outcome in ["ok", "error"] {
            self.reloads.with_label_values(&[outcome]);
        }
        for reason in crate::http::REJECT_REASONS {
            self.http_rejected.with_label_values(&[reason]);
        }
    }

    /// The kernel's audit status (enabled, backlog, backlog limit, lost), or `None` when it
    /// cannot be read: then the gauges are left out rather than 0 (which would read as
    /// "nothing lost") and `kernel_audit_status_up` is 0.
    pub fn set_audit_status(&self, s: Option<[i64; 4]>) {
        let gauges = [
            &self.audit_enabled,
            &self.audit_backlog,
            &self.audit_backlog_limit,
            &self.audit_lost,
        ];
        match s {
            Some(v) => {
                for (g, v) in gauges.into_iter().zip(v) {
                    g.with_label_values::<&str>(&[]).set(v);
                }
                self.audit_status_up.set(1);
            }
            None => {
                for g in gauges {
                    g.reset();
                }
                self.audit_status_up.set(0);
            }
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Every cause of `lost_records_total`.
pub const LOSS_CAUSES: [&str; 5] = [
    "enobufs",
    "kernel_lost",
    "kmsg_suppressed",
    "tail",
    "disk_full",
];

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

#[cfg(test)]
mod audit_status_tests {
    use super::*;

    #[test]
    fn an_unreadable_audit_status_is_left_out_not_zero() {
        let m = Metrics::new();
        let has = |text: &str, p: &str| text.lines().any(|l| l.starts_with(p));
        m.set_audit_status(Some([1, 3, 8192, 0]));
        let t = m.render();
        assert!(has(&t, "seccomp_watch_kernel_audit_status_up 1"), "{t}");
        assert!(has(&t, "seccomp_watch_kernel_audit_lost 0"), "{t}");
        assert!(
            has(&t, "seccomp_watch_kernel_audit_backlog_limit 8192"),
            "{t}"
        );
        m.set_audit_status(None);
        let t = m.render();
        assert!(has(&t, "seccomp_watch_kernel_audit_status_up 0"), "{t}");
        for g in ["enabled", "backlog", "backlog_limit", "lost"] {
            assert!(
                !has(&t, &format!("seccomp_watch_kernel_audit_{g} ")),
                "{g}: {t}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(l: LabelLimits) -> WorkloadLabels {
        WorkloadLabels {
            limits: l,
            ..Default::default()
        }
    }

    #[test]
    fn budgets_are_separate_and_first_come_first_served() {
        let mut w = labels(LabelLimits {
            workloads: 2,
            exe_workloads: 2,
            series_per_workload: 8,
        });
        for i in 0..10 {
            let l = w.label_of(&format!("exe:/tmp/junk-{i}"));
            assert_eq!(l == OTHER_EXE_WORKLOAD, i >= 2, "{i}: {l}");
        }
        assert_eq!(w.label_of("unknown"), OTHER_EXE_WORKLOAD);
        // The junk did not take the containers' slots.
        assert_eq!(w.label_of("k8s:shop/cart/api"), "k8s:shop/cart/api");
        assert_eq!(w.label_of("unit:nginx.service"), "unit:nginx.service");
        assert_eq!(w.label_of("docker:web"), OTHER_WORKLOAD);
        // Known labels stay theirs.
        assert_eq!(w.label_of("exe:/tmp/junk-1"), "exe:/tmp/junk-1");
        assert_eq!(w.label_of("k8s:shop/cart/api"), "k8s:shop/cart/api");
        // A workload cannot take an overflow label's name as its own.
        let mut w = labels(LabelLimits::default());
        assert_eq!(w.label_of("exe:other"), OTHER_EXE_WORKLOAD);
        assert_eq!(w.exe, 0);
    }

    #[test]
    fn series_per_workload_are_bounded() {
        let mut w = labels(LabelLimits {
            series_per_workload: 3,
            ..Default::default()
        });
        let l = w.label_of("docker:web");
        let names = ["read", "write", "open", "close", "mmap"];
        let got: Vec<&str> = names
            .iter()
            .map(|n| w.syscall_of(&l, n, "SCMP_ACT_LOG"))
            .collect();
        assert_eq!(got, ["read", "write", "open", "other", "other"]);
        assert_eq!(w.syscall_of(&l, "write", "SCMP_ACT_LOG"), "write");
        assert_eq!(w.syscall_of(&l, "read", "SCMP_ACT_ERRNO"), "other");
    }

    #[test]
    fn label_values_are_escaped_and_cut() {
        assert_eq!(
            label_value("exe:/a\x1b[31m\x07\0b"),
            "exe:/a\\e[31m\\x07\\x00b"
        );
        assert_eq!(label_value("exe:/l\u{200b}s"), "exe:/l\\u{200b}s");
        let long = format!("exe:/{}", "x".repeat(5000));
        let l = label_value(&long);
        assert_eq!(l.chars().count(), MAX_LABEL_CHARS + 3);
        assert!(l.ends_with("..."));
    }

    #[test]
    fn syscall_arch_and_action_labels_are_names() {
        let mut e = parsers::Event {
            time_ms: 0,
            serial: None,
            node: None,
            audit_arch: 0xc000_003e,
            syscall_nr: 101,
            code: 0x7ffc_0000,
            pid: 1,
            uid: None,
            gid: None,
            auid: None,
            ses: None,
            comm: None,
            exe: None,
            subj: None,
            sig: None,
            compat: false,
            ip: None,
            synthetic_key: None,
        };
        assert_eq!(syscall_label(&e), "ptrace");
        assert_eq!(arch_label(&e), "SCMP_ARCH_X86_64");
        e.syscall_nr = 48_213;
        assert_eq!(syscall_label(&e), UNKNOWN_SYSCALL);
        e.audit_arch = 0x1234_5678;
        assert_eq!(arch_label(&e), "unknown");
        assert_eq!(
            action_label(parsers::Action::from_code(0x7ffc_0000)),
            "SCMP_ACT_LOG"
        );
        assert_eq!(
            action_label(parsers::Action::from_code(0x1234_0000)),
            "other"
        );
    }
}
