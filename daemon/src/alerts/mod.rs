//! Alerts: rule evaluation on the event stream, roll-up, the durable outbox and delivery
//! to SIEM sinks.
//!
//! ```text
//! enrich thread:  attribution -> RuleStage (rules::engine::Engine: evaluate, roll up)
//!                 -> StoreBatch.alerts (AlertWrite)
//! writer task:    events + alerts + outbox rows + novelty state, ONE transaction (persist)
//! dispatcher:     outbox -> sinks (webhook, Splunk HEC, Alertmanager, syslog/CEF),
//!                 at least once, backoff with jitter, dead after the maximum age
//! ```
//!
//! Delivery semantics (documented for receivers):
//! - every payload carries the alert `id`, the idempotency key: the same roll-up always has
//!   the same id (see [`rules::engine::alert_id`]); receivers should upsert by id.
//! - an alert is delivered as soon as it is committed, with the count so far (`final`:
//!   false while its window is open). When its count grows after that, it is delivered
//!   once more when its window closes: same id, the final count, `final`: true. So each
//!   sink gets an alert at most twice in the normal case (plus retries of failed
//!   attempts: at least once, never silently dropped).
//! - a delivery failing past `alerts.max_age_hours` after it was queued is marked `dead`:
//!   listed by `seccomp-watch alerts --status dead`, counted in
//!   `seccomp_watch_deliveries_total{outcome="dead"}`, queued again by
//!   `seccomp-watch alerts retry ID`.

pub mod db;
pub mod dispatch;
pub mod sinks;
pub mod stage;

use std::sync::Arc;

pub use db::{
    list, list_query, load_state, open_rw, persist, retry, AlertRow, DeliveryRow, ListQuery,
    RetryOutcome, Status,
};
pub use dispatch::{DispatchOptions, Dispatcher, TickReport};
pub use sinks::{sink_names, Sink, SinkFilter};
pub use stage::{load_rules, RuleStage, RulesHandle, WithRules};

use rules::engine::Alert;

/// One alert change or novelty-state row, written by the store writer in the same
/// transaction as the events that caused it (see [`persist`]).
#[derive(Debug, Clone)]
pub enum AlertWrite {
    /// An alert opened or grown: its row is upserted (the stored count grows by
    /// `count_delta`), and a delivery is queued for each of `sinks` that has none yet.
    Alert {
        alert: Arc<Alert>,
        count_delta: u64,
        /// The sinks that take this alert (set when the alert is new to this process or
        /// may have changed severity; empty otherwise).
        sinks: Vec<Arc<str>>,
    },
    /// A workload's first event (its `novel` learning window starts).
    Workload {
        workload: String,
        first_seen_ms: i64,
    },
    /// A (workload, arch, syscall) seen for the first time.
    Seen {
        workload: String,
        arch: String,
        syscall: String,
        first_seen_ms: i64,
    },
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
