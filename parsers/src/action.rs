//! The seccomp action of a record's `code=` field (`SCMP_ACT_*`).

use std::fmt;

/// A seccomp filter action, as libseccomp and Docker profiles name it.
///
/// The kernel masks the data bits off (the errno value is not in the record), so the
/// `code=` value is the action alone; any other value is kept raw in [`Action::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    KillProcess,
    KillThread,
    Trap,
    Errno,
    Notify,
    Trace,
    Log,
    Allow,
    Other(u32),
}

impl Action {
    /// Every named action, in the order of their `SCMP_ACT_*` names' severity.
    pub const NAMED: [Action; 8] = [
        Action::KillProcess,
        Action::KillThread,
        Action::Trap,
        Action::Errno,
        Action::Notify,
        Action::Trace,
        Action::Log,
        Action::Allow,
    ];

    /// The action of a record's `code=` value.
    pub fn from_code(code: u32) -> Action {
        match code & 0xffff_0000 {
            0x8000_0000 => Action::KillProcess,
            0x0000_0000 => Action::KillThread,
            0x0003_0000 => Action::Trap,
            0x0005_0000 => Action::Errno,
            0x7fc0_0000 => Action::Notify,
            0x7ff0_0000 => Action::Trace,
            0x7ffc_0000 => Action::Log,
            0x7fff_0000 => Action::Allow,
            _ => Action::Other(code),
        }
    }

    /// The action's code with its data bits clear (`Other` keeps its raw value).
    pub fn code(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0,
            Action::Trap => 0x0003_0000,
            Action::Errno => 0x0005_0000,
            Action::Notify => 0x7fc0_0000,
            Action::Trace => 0x7ff0_0000,
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
            Action::Other(c) => c,
        }
    }

    /// The libseccomp name, e.g. `SCMP_ACT_LOG`; `None` for [`Action::Other`].
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Action::KillProcess => "SCMP_ACT_KILL_PROCESS",
            Action::KillThread => "SCMP_ACT_KILL_THREAD",
            Action::Trap => "SCMP_ACT_TRAP",
            Action::Errno => "SCMP_ACT_ERRNO",
            Action::Notify => "SCMP_ACT_NOTIFY",
            Action::Trace => "SCMP_ACT_TRACE",
            Action::Log => "SCMP_ACT_LOG",
            Action::Allow => "SCMP_ACT_ALLOW",
            Action::Other(_) => return None,
        })
    }

    /// Parses `SCMP_ACT_LOG`, `log`, `kill_process`, `SCMP_ACT_KILL` (an alias of
    /// `SCMP_ACT_KILL_THREAD`) or a raw code such as `0x7ffc0000`.
    pub fn parse(s: &str) -> Option<Action> {
        let up = s.trim().to_ascii_uppercase();
        let bare = up.strip_prefix("SCMP_ACT_").unwrap_or(&up);
        Some(match bare {
            "KILL_PROCESS" => Action::KillProcess,
            "KILL_THREAD" | "KILL" => Action::KillThread,
            "TRAP" => Action::Trap,
            "ERRNO" => Action::Errno,
            "NOTIFY" => Action::Notify,
            "TRACE" => Action::Trace,
            "LOG" => Action::Log,
            "ALLOW" => Action::Allow,
            _ => {
                let hex = bare.strip_prefix("0X")?;
                return u32::from_str_radix(hex, 16).ok().map(Action::from_code);
            }
        })
    }

    /// True for the actions that kill (thread or process).
    pub fn is_kill(self) -> bool {
        matches!(self, Action::KillProcess | Action::KillThread)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#x}", self.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_from_the_captures() {
        assert_eq!(Action::from_code(0x7ffc0000), Action::Log);
        assert_eq!(Action::from_code(0x50000), Action::Errno);
        assert_eq!(
            Action::from_code(0x50001),
            Action::Errno,
            "data bits masked"
        );
        assert_eq!(Action::from_code(0x30000), Action::Trap);
        assert_eq!(Action::from_code(0x0), Action::KillThread);
        assert_eq!(Action::from_code(0x80000000), Action::KillProcess);
        assert_eq!(Action::from_code(0x7ff00000), Action::Trace);
        assert_eq!(Action::from_code(0x7fc00000), Action::Notify);
        assert_eq!(Action::from_code(0x7fff0000), Action::Allow);
        assert_eq!(Action::from_code(0x12340000), Action::Other(0x12340000));
    }

    #[test]
    fn names_round_trip() {
        for a in Action::NAMED {
            assert_eq!(Action::parse(a.name().unwrap()), Some(a));
            assert_eq!(Action::from_code(a.code()), a);
        }
        assert_eq!(Action::parse("log"), Some(Action::Log));
        assert_eq!(Action::parse("SCMP_ACT_KILL"), Some(Action::KillThread));
        assert_eq!(Action::parse("0x7ffc0000"), Some(Action::Log));
        assert_eq!(Action::parse("nonsense"), None);
        assert_eq!(Action::Other(0x1230000).to_string(), "0x1230000");
    }
}
