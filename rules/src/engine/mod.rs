//! Alert rules (pure): the rules file model and its validation with line-numbered errors
//! ([`RuleSet`]), the built-in rules and syscall groups, and the stateful [`Engine`] that
//! evaluates events (`novel`, `not_in_profile`, `rate`) and rolls matches up into
//! [`Alert`]s, one per (rule, workload, syscall, action) per window.

pub mod alert;
pub mod eval;
pub mod glob;
pub mod profile_allow;
pub mod ruleset;
pub mod syscalls;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use alert::{alert_id, Alert, Sample, OVERFLOW_RULE};
pub use eval::{AlertChange, Drained, Engine, EngineOptions, Input, StateWrite, Stats};
pub use ruleset::{
    parse_duration_ms, Rate, Rule, RuleError, RuleErrors, RuleSet, DEFAULT_RULES_TOML,
};
pub use syscalls::BUILTIN_GROUPS;

/// How serious an alert is, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// `info`, `low`, `medium`, `high` or `critical` (case-insensitive).
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// 0 (info) to 4 (critical).
    pub fn rank(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
