//! Complain (observe) mode of a profile: the same profile with every denying action turned
//! into `SCMP_ACT_LOG`, so that a workload runs unhindered under it and the kernel logs
//! every call the profile would have denied. What was changed is recorded in the copy
//! itself ([`COMPLAIN_MARKER`] members), so that [`uncomplain`] gives the original back:
//! `suggest` judges evidence gathered under the copy against the original (a call an entry
//! denied stays denied) and `--enforce` restores the original default action.

use super::{Profile, ProfileError, ProfileSpec, SyscallRule};
use parsers::Action;
use serde_json::{json, Value};

/// The member `complain` adds to the top level (`{"defaultAction": ..,
/// "defaultErrnoRet": ..}`: the default before) and to each entry it turned to LOG
/// (`{"action": .., "errnoRet": ..}`: the action before). An unknown member: Docker's and
/// Podman's profile readers, runc and the OCI runtime spec's readers ignore it (Go's
/// `encoding/json`), and the engines tests run such copies under Podman and Docker.
pub const COMPLAIN_MARKER: &str = "seccompWatchComplain";

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

/// What [`uncomplain`] restored.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The original profile.
    pub profile: Profile,
    /// The default action restored (when the copy's marker named one and the copy still had
    /// the LOG default).
    pub default_action: Option<String>,
    pub default_errno_ret: Option<u32>,
    /// The entries restored: (index in `syscalls`, the action).
    pub entries: Vec<(usize, String)>,
}

fn action_of(text: &str, what: &str) -> Result<Action, ProfileError> {
    Action::parse(text).ok_or_else(|| {
        ProfileError::Invalid(format!(
            "{what}: unknown action {:?}",
            parsers::escape::escape(text)
        ))
    })
}

fn marker_raw(action_key: &str, action: &str, errno_key: &str, errno: Option<u32>) -> String {
    let mut m = serde_json::Map::new();
    m.insert(action_key.to_string(), json!(action));
    if let Some(e) = errno {
        m.insert(errno_key.to_string(), json!(e));
    }
    Value::Object(m).to_string()
}

/// The profile in observe mode: `defaultAction` and every entry whose action denies
/// (see [`is_denying`]) become `SCMP_ACT_LOG`, without their `defaultErrnoRet`/`errnoRet`,
/// and each gets a [`COMPLAIN_MARKER`] member holding what it was; everything else (other
/// entries, conditions, comments, whitespace) is kept byte for byte. The complain copy of a
/// complain copy is the same text. An action this model does not know is an error: it
/// cannot be told whether it denies.
pub fn complain(profile: &Profile) -> Result<Complained, ProfileError> {
    let mut out = profile.clone();
    let spec = profile.spec();
    let default = action_of(&spec.default_action, "defaultAction")?;
    let mut default_was = None;
    let mut entries = Vec::new();
    for (i, r) in spec.rules().iter().enumerate() {
        let a = action_of(&r.action, &format!("syscalls[{i}]"))?;
        if is_denying(a) {
            out.set_entry_action(i, "SCMP_ACT_LOG")?;
            let raw = marker_raw("action", &r.action, "errnoRet", r.errno_ret);
            out.set_member_raw(Some(i), COMPLAIN_MARKER, &raw, "action")?;
            entries.push((i, r.action.clone()));
        }
    }
    if is_denying(default) {
        default_was = Some(spec.default_action.clone());
        out.set_default_action("SCMP_ACT_LOG")?;
        let raw = marker_raw(
            "defaultAction",
            &spec.default_action,
            "defaultErrnoRet",
            spec.default_errno_ret,
        );
        out.set_member_raw(None, COMPLAIN_MARKER, &raw, "defaultAction")?;
    } else if !entries.is_empty() && !spec.extra.contains_key(COMPLAIN_MARKER) {
        // The copy says it is one even when its default was kept.
        let raw = marker_raw(
            "defaultAction",
            &spec.default_action,
            "defaultErrnoRet",
            spec.default_errno_ret,
        );
        out.set_member_raw(None, COMPLAIN_MARKER, &raw, "defaultAction")?;
    }
    Ok(Complained {
        profile: out,
        default_was,
        entries,
    })
}

/// The (action, errnoRet) a marker records; `action_key`/`errno_key` name its members.
fn read_marker(
    v: &Value,
    action_key: &str,
    errno_key: &str,
    what: &str,
) -> Result<(String, Option<u32>), ProfileError> {
    let bad = || ProfileError::Invalid(format!("{what}.{COMPLAIN_MARKER}: not a complain marker"));
    let o = v.as_object().ok_or_else(bad)?;
    let action = o.get(action_key).and_then(Value::as_str).ok_or_else(bad)?;
    action_of(action, &format!("{what}.{COMPLAIN_MARKER}"))?;
    let errno = match o.get(errno_key) {
        None | Some(Value::Null) => None,
        Some(e) => Some(
            e.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(bad)?,
        ),
    };
    Ok((action.to_string(), errno))
}

fn rule_marker(r: &SyscallRule) -> Option<&Value> {
    r.extra.get(COMPLAIN_MARKER)
}

fn spec_marker(s: &ProfileSpec) -> Option<&Value> {
    s.extra.get(COMPLAIN_MARKER)
}

/// The original of a complain copy (see [`complain`]): `None` when `profile` has no
/// [`COMPLAIN_MARKER`]. An entry (or the default) still `SCMP_ACT_LOG` gets its recorded
/// action and `errnoRet` back; one changed by hand since is kept as it is. The markers are
/// removed either way. A malformed marker is an error.
pub fn uncomplain(profile: &Profile) -> Result<Option<Restored>, ProfileError> {
    let spec = profile.spec();
    let top = spec_marker(spec);
    let marked: Vec<usize> = spec
        .rules()
        .iter()
        .enumerate()
        .filter(|(_, r)| rule_marker(r).is_some())
        .map(|(i, _)| i)
        .collect();
    if top.is_none() && marked.is_empty() {
        return Ok(None);
    }
    let mut out = profile.clone();
    let mut restored = Restored {
        profile: profile.clone(),
        default_action: None,
        default_errno_ret: None,
        entries: Vec::new(),
    };
    for &i in &marked {
        let r = &spec.rules()[i];
        let what = format!("syscalls[{i}]");
        let (action, errno) = read_marker(
            rule_marker(r).unwrap_or(&Value::Null),
            "action",
            "errnoRet",
            &what,
        )?;
        out.remove_member(Some(i), COMPLAIN_MARKER)?;
        if r.parsed_action() == Some(Action::Log) {
            out.set_entry_action(i, &action)?;
            if let Some(e) = errno {
                out.set_member_raw(Some(i), "errnoRet", &e.to_string(), "action")?;
            }
            restored.entries.push((i, action));
        }
    }
    if let Some(m) = top {
        let (action, errno) = read_marker(m, "defaultAction", "defaultErrnoRet", "top level")?;
        out.remove_member(None, COMPLAIN_MARKER)?;
        if spec.parsed_default_action() == Some(Action::Log) && action != spec.default_action {
            out.set_default_action(&action)?;
            if let Some(e) = errno {
                out.set_member_raw(None, "defaultErrnoRet", &e.to_string(), "defaultAction")?;
            }
            restored.default_action = Some(action);
            restored.default_errno_ret = errno;
        }
    }
    restored.profile = out;
    Ok(Some(restored))
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
	"seccompWatchComplain": {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1},
	"syscalls": [
		{ "names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "x" },
		{ "names": ["clone3"], "action": "SCMP_ACT_LOG", "seccompWatchComplain": {"action":"SCMP_ACT_ERRNO","errnoRet":38} },
		{ "names": ["ptrace"], "action": "SCMP_ACT_LOG", "seccompWatchComplain": {"action":"SCMP_ACT_KILL_PROCESS"}, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}] },
		{ "names": ["uname"], "action": "SCMP_ACT_LOG" },
		{ "names": ["sync"], "action": "SCMP_ACT_LOG", "seccompWatchComplain": {"action":"SCMP_ACT_TRAP"} }
	]
}
"#;
        assert_eq!(c.profile.to_json(), want);
        assert_eq!(c.default_was.as_deref(), Some("SCMP_ACT_ERRNO"));
        let changed: Vec<usize> = c.entries.iter().map(|e| e.0).collect();
        assert_eq!(changed, [1, 2, 4]);
        // Complaining twice changes nothing more: the same bytes.
        let again = complain(&c.profile).unwrap();
        assert_eq!(again.profile.to_json(), want);
        assert!(again.default_was.is_none() && again.entries.is_empty());
        // The copy's markers give the original back, byte for byte.
        let r = uncomplain(&c.profile).unwrap().unwrap();
        assert_eq!(r.profile.to_json(), text);
        assert_eq!(r.default_action.as_deref(), Some("SCMP_ACT_ERRNO"));
        assert_eq!(r.default_errno_ret, Some(1));
        let restored: Vec<(usize, &str)> =
            r.entries.iter().map(|(i, a)| (*i, a.as_str())).collect();
        assert_eq!(
            restored,
            [
                (1, "SCMP_ACT_ERRNO"),
                (2, "SCMP_ACT_KILL_PROCESS"),
                (4, "SCMP_ACT_TRAP")
            ]
        );
        // A profile without markers is no complain copy.
        assert!(uncomplain(&p).unwrap().is_none());
    }

    #[test]
    fn a_kept_default_still_marks_the_copy_and_compact_copies_round_trip() {
        let text = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["reboot"],"action":"SCMP_ACT_ERRNO","errnoRet":1},{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let p = Profile::from_json(text).unwrap();
        let c = complain(&p).unwrap();
        assert!(c.default_was.is_none());
        assert_eq!(
            c.profile.to_json(),
            r#"{"defaultAction":"SCMP_ACT_ALLOW","seccompWatchComplain":{"defaultAction":"SCMP_ACT_ALLOW"},"syscalls":[{"names":["reboot"],"action":"SCMP_ACT_LOG","seccompWatchComplain":{"action":"SCMP_ACT_ERRNO","errnoRet":1}},{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#
        );
        assert_eq!(complain(&c.profile).unwrap().profile, c.profile);
        let r = uncomplain(&c.profile).unwrap().unwrap();
        assert_eq!(r.profile.to_value(), p.to_value());
        assert!(r.default_action.is_none());
        // Nothing denies: nothing to record, written unchanged.
        let plain = Profile::from_json(r#"{"defaultAction":"SCMP_ACT_LOG"}"#).unwrap();
        assert_eq!(complain(&plain).unwrap().profile, plain);
    }

    #[test]
    fn entries_changed_by_hand_in_the_copy_are_kept() {
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
              {"names": ["a"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
              {"names": ["b"], "action": "SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        let mut c = complain(&p).unwrap().profile;
        // The user allowed `b` in the copy by hand.
        c.set_entry_action(1, "SCMP_ACT_ALLOW").unwrap();
        let r = uncomplain(&c).unwrap().unwrap();
        let rules = r.profile.spec().rules();
        assert_eq!(rules[0].action, "SCMP_ACT_ERRNO");
        assert_eq!(rules[0].errno_ret, Some(13));
        assert_eq!(rules[1].action, "SCMP_ACT_ALLOW");
        assert!(rules.iter().all(|r| r.extra.is_empty()));
        assert_eq!(r.profile.spec().default_action, "SCMP_ACT_KILL_PROCESS");
        assert!(r.profile.spec().extra.is_empty());
    }

    #[test]
    fn malformed_markers_are_errors() {
        for bad in [
            r#"{"defaultAction": "SCMP_ACT_LOG", "seccompWatchComplain": 3}"#,
            r#"{"defaultAction": "SCMP_ACT_LOG", "seccompWatchComplain": {"defaultAction": "NOPE"}}"#,
            r#"{"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG", "seccompWatchComplain": {"action": "SCMP_ACT_ERRNO", "errnoRet": -1}}]}"#,
        ] {
            let p = Profile::from_json(bad).unwrap();
            assert!(
                matches!(uncomplain(&p), Err(ProfileError::Invalid(_))),
                "{bad}"
            );
        }
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
