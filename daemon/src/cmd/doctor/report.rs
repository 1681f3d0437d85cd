//! The doctor's report: one [`Finding`] per check, the worst [`Level`] as the exit code,
//! and its text (escaped) and JSON forms.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Info,
    Warn,
    Fatal,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok   ",
            Level::Info => "info ",
            Level::Warn => "WARN ",
            Level::Fatal => "FATAL",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub level: Level,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

pub(super) fn f(
    check: &'static str,
    level: Level,
    detail: impl Into<String>,
    fix: Option<&str>,
) -> Finding {
    Finding {
        check,
        level,
        detail: detail.into(),
        fix: fix.map(str::to_string),
    }
}

/// Every finding, in order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub(super) fn push(&mut self, x: Finding) {
        self.findings.push(x);
    }

    /// The worst level found.
    pub fn worst(&self) -> Level {
        self.findings
            .iter()
            .map(|x| x.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    /// 0 healthy, 1 warnings, 2 fatal.
    pub fn exit_code(&self) -> i32 {
        match self.worst() {
            Level::Ok | Level::Info => 0,
            Level::Warn => 1,
            Level::Fatal => 2,
        }
    }

    /// The text form: one escaped line per finding, then a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for x in &self.findings {
            let mut line = format!("{} {}: {}", x.level.label(), x.check, x.detail);
            if let Some(fix) = &x.fix {
                line.push_str(" -- fix: ");
                line.push_str(fix);
            }
            out.push_str(&parsers::escape::escape(&line));
            out.push('\n');
        }
        let count = |l: Level| self.findings.iter().filter(|x| x.level == l).count();
        out.push_str(&format!(
            "{} ok, {} info, {} warnings, {} fatal\n",
            count(Level::Ok),
            count(Level::Info),
            count(Level::Warn),
            count(Level::Fatal)
        ));
        out
    }

    /// The JSON form.
    pub fn json(&self) -> serde_json::Value {
        let status = match self.worst() {
            Level::Ok | Level::Info => "ok",
            Level::Warn => "warn",
            Level::Fatal => "fatal",
        };
        serde_json::json!({ "status": status, "exit_code": self.exit_code(), "checks": self.findings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        let mut r = Report::default();
        assert_eq!(r.exit_code(), 0);
        r.push(f("a", Level::Info, "x", None));
        assert_eq!(r.exit_code(), 0);
        r.push(f("b", Level::Warn, "x", Some("do y")));
        assert_eq!(r.exit_code(), 1);
        r.push(f("c", Level::Fatal, "x", None));
        assert_eq!(r.exit_code(), 2);
        assert_eq!(r.json()["status"], "fatal");
        let text = r.text();
        assert!(text.contains("WARN  b: x -- fix: do y\n"), "{text}");
        assert!(
            text.ends_with("0 ok, 1 info, 1 warnings, 1 fatal\n"),
            "{text}"
        );
    }

    #[test]
    fn output_is_escaped() {
        let mut r = Report::default();
        r.push(f(
            "config",
            Level::Fatal,
            "bad \x1b[31mred\x1b[0m\nline",
            None,
        ));
        let text = r.text();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "{text:?}");
    }
}
