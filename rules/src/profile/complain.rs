//! Complain (observe) mode of a profile: the same profile with every denying action turned
//! into `SCMP_ACT_LOG`, so that a workload runs unhindered under it and the kernel logs
//! every call the profile would have denied.

use super::{Profile, ProfileError};
use parsers::Action;

/// True for the actions that stop a call: ERRNO, KILL (process or thread), TRAP and TRACE
/// (which fails the call with ENOSYS when no tracer is attached).
pub fn is_denying(action: Action) -> bool {
    matches!(
        action,
        Action::Errno | Action::KillProcess | Action::KillThread | Action::Trap | Action::Trace
    )
}

/// What [`complain`] made.
#[derive(Debug, Clone)]
pub struct Complained {
    pub profile: Profile,
    /// The default action before (when it was changed).
    pub default_was: Option<String>,
    /// The entries changed: (index in `syscalls`, the action before).
    pub entries: Vec<(usize, String)>,
}

/// The profile in observe mode: `defaultAction` and every entry whose action denies
/// (see [`is_denying`]) become `SCMP_ACT_LOG`, without their `defaultErrnoRet`/`errnoRet`;
/// everything else (other entries, conditions, comments, whitespace) is kept byte for byte.
/// An action this model does not know is an error: it cannot be told whether it denies.
pub fn complain(profile: &Profile) -> Result<Complained, ProfileError> {
    let mut out = profile.clone();
    let spec = profile.spec();
    let default = spec.parsed_default_action().ok_or_else(|| {
        ProfileError::Invalid(format!(
            "unknown defaultAction {:?}",
            parsers::escape::escape(&spec.default_action)
        ))
    })?;
    let mut default_was = None;
    if is_denying(default) {
        default_was = Some(spec.default_action.clone());
        out.set_default_action("SCMP_ACT_LOG")?;
    }
    let mut entries = Vec::new();
    for (i, r) in spec.rules().iter().enumerate() {
        let a = r.parsed_action().ok_or_else(|| {
            ProfileError::Invalid(format!(
                "syscalls[{i}]: unknown action {:?}",
                parsers::escape::escape(&r.action)
            ))
        })?;
        if is_denying(a) {
            out.set_entry_action(i, "SCMP_ACT_LOG")?;
            entries.push((i, r.action.clone()));
        }
    }
    Ok(Complained {
        profile: out,
        default_was,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denying_actions_become_log_and_nothing_else_changes() {
        let text = r#"{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 1,
	"syscalls": [
		{ "names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "x" },
		{ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
		{ "names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}] },
		{ "names": ["uname"], "action": "SCMP_ACT_LOG" },
		{ "names": ["sync"], "action": "SCMP_ACT_TRAP" }
	]
}
"#;
        let p = Profile::from_json(text).unwrap();
        let c = complain(&p).unwrap();
        let want = r#"{
	"defaultAction": "SCMP_ACT_LOG",
	"syscalls": [
		{ "names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "x" },
		{ "names": ["clone3"], "action": "SCMP_ACT_LOG" },
		{ "names": ["ptrace"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}] },
		{ "names": ["uname"], "action": "SCMP_ACT_LOG" },
		{ "names": ["sync"], "action": "SCMP_ACT_LOG" }
	]
}
"#;
        assert_eq!(c.profile.to_json(), want);
        assert_eq!(c.default_was.as_deref(), Some("SCMP_ACT_ERRNO"));
        let changed: Vec<usize> = c.entries.iter().map(|e| e.0).collect();
        assert_eq!(changed, [1, 2, 4]);
        // Complaining twice changes nothing more.
        let again = complain(&c.profile).unwrap();
        assert_eq!(again.profile.to_json(), want);
        assert!(again.default_was.is_none() && again.entries.is_empty());
    }

    #[test]
    fn unknown_actions_are_errors() {
        let p = Profile::from_json(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap();
        assert!(complain(&p).is_err());
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "X"}]}"#,
        )
        .unwrap();
        assert!(complain(&p)
            .unwrap_err()
            .to_string()
            .contains("syscalls[0]"));
    }

    #[test]
    fn compact_profiles_are_pretty_printed() {
        let p = Profile::from_json(
            r#"{"defaultAction":"SCMP_ACT_LOG","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        assert!(p.is_compact());
        let pretty = p.pretty();
        assert!(!pretty.is_compact());
        assert_eq!(pretty.to_value(), p.to_value());
        assert_eq!(
            pretty.to_json(),
            "{\n  \"defaultAction\": \"SCMP_ACT_LOG\",\n  \"syscalls\": [\n    {\n      \"names\": [\n        \"read\",\n        \"write\"\n      ],\n      \"action\": \"SCMP_ACT_ALLOW\"\n    }\n  ]\n}\n"
        );
    }
}
