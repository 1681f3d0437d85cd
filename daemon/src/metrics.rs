//! Every Prometheus metric the daemon exports (prefix `seccomp_watch_`), in one registry.
//!
//! Labels are bounded: container ids are never labels; the per-workload series are capped
//! by [`Metrics::workload_label`] (overflow goes to `other`).

use std::collections::HashSet;
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
    workload_limit: Mutex<(usize, HashSet<String>)>,
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
            workload_limit: Mutex::new((1000, HashSet::new())),
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

    /// Sets the maximum number of distinct workload label values (default 1000).
    pub fn set_workload_limit(&self, limit: usize) {
        if let Ok(mut g) = self.workload_limit.lock() {
            g.0 = limit;
        }
    }

    /// The label value for `workload`: itself while fewer than the limit are in use,
    /// `other` beyond.
    pub fn workload_label<'a>(&self, workload: &'a str) -> &'a str {
        let Ok(mut g) = self.workload_limit.lock() else {
            return "other";
        };
        if g.1.contains(workload) {
            return workload;
        }
        if g.1.len() < g.0 {
            g.1.insert(workload.to_string());
            return workload;
        }
        "other"
    }

    /// Creates the series of the bounded label sets at zero, so that dashboards and alert
    /// rules see 0 rather than no data: every loss cause, parse errors and skipped records
    /// of every source, reload outcomes. `source_up` is left to the sources (a source that
    /// is not configured must not look down). Call once at start-up.
    pub fn init_series(&self) {
        for cause in ["enobufs", "kernel_lost", "kmsg_suppressed", "tail"] {
            self.lost.with_label_values(&[cause]);
        }
        for s in crate::pipeline::SourceKind::ALL {
            self.parse_errors.with_label_values(&[s.as_str()]);
            self.skipped_records.with_label_values(&[s.as_str()]);
        }
        for outcome in ["ok", "error"] {
            self.reloads.with_label_values(&[outcome]);
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
