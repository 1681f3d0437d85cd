//! The owned SECCOMP event and its stable JSON form (the `seccomp-watch parse` format that
//! every later command reuses: `events --json`, `rules test --events`, webhooks), and the
//! synthetic key of a record without an audit serial.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::action::Action;
use crate::arch::ScmpArch;
use crate::record::Record;
use crate::syscalls::syscall_name;
use crate::time::{parse_iso8601_ms, push_rfc3339_ms};

/// The `audit_arch` of a record without `arch=` (kernels before 3.16): no AUDIT_ARCH_* is 0
/// (EM_NONE), so 0 is "none" in memory, in the store and in metrics; JSON shows null.
pub const NO_ARCH: u32 = 0;

/// One SECCOMP record, owned and interpreted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Event {
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// The audit serial; `None` for syslog and journal text lines, which do not carry it.
    pub serial: Option<u64>,
    pub node: Option<String>,
    /// The record's `arch=` (AUDIT_ARCH_*), [`NO_ARCH`] when it had none.
    pub audit_arch: u32,
    /// The record's `syscall=` as written (x32 numbers carry bit 0x40000000).
    pub syscall_nr: i64,
    /// The record's `code=`.
    pub code: u32,
    pub pid: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `None` when unset (4294967295).
    pub auid: Option<u32>,
    /// `None` when unset (4294967295).
    pub ses: Option<u32>,
    pub comm: Option<String>,
    pub exe: Option<String>,
    pub subj: Option<String>,
    pub sig: Option<i32>,
    pub compat: bool,
    pub ip: Option<u64>,
    /// For a record without a serial: a deterministic key (FNV-1a of node, time and the
    /// record's text, and of its occurrence among identical lines, see [`Occurrences`]),
    /// so that importing the same file twice stores nothing twice. Not part of the JSON
    /// form.
    pub synthetic_key: Option<u64>,
}

/// Why a record cannot become an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("record has no timestamp")]
    NoTime,
}

impl Event {
    /// The owned event of a parsed record.
    pub fn from_record(r: &Record<'_>) -> Result<Event, EventError> {
        let sec = r.time_sec.ok_or(EventError::NoTime)?;
        let text = |v: &Option<crate::record::Value<'_>>| v.as_ref().and_then(|v| v.text());
        let time_ms = sec.saturating_mul(1000).saturating_add(r.time_ms as i64);
        let synthetic_key = r.serial.is_none().then(|| {
            let mut h = Fnv::new();
            h.eat(r.node.unwrap_or(b"\0"));
            h.eat(&time_ms.to_le_bytes());
            h.eat(r.body);
            h.0
        });
        Ok(Event {
            time_ms,
            serial: r.serial,
            node: r.node.map(|n| String::from_utf8_lossy(n).into_owned()),
            audit_arch: r.arch.unwrap_or(NO_ARCH),
            syscall_nr: r.syscall,
            code: r.code,
            pid: r.pid,
            uid: r.uid,
            gid: r.gid,
            auid: r.auid,
            ses: r.ses,
            comm: text(&r.comm),
            exe: text(&r.exe),
            subj: text(&r.subj),
            sig: r.sig,
            compat: r.compat.unwrap_or(false),
            ip: r.ip,
            synthetic_key,
        })
    }

    /// The libseccomp arch, when known.
    pub fn arch(&self) -> Option<ScmpArch> {
        if self.audit_arch == NO_ARCH {
            return None;
        }
        ScmpArch::from_audit(self.audit_arch, self.syscall_nr)
    }

    /// The arch as shown: `SCMP_ARCH_X86_64`, the raw audit arch in hex when unknown, or
    /// `none` for a record without `arch=`.
    pub fn arch_name(&self) -> String {
        match self.arch() {
            Some(a) => a.name().to_string(),
            None if self.audit_arch == NO_ARCH => "none".to_string(),
            None => format!("{:#x}", self.audit_arch),
        }
    }

    /// The AppArmor profile and mode of the subject, when it is an AppArmor label.
    pub fn apparmor(&self) -> Option<crate::subject::AppArmor<'_>> {
        self.subj.as_deref().and_then(crate::subject::apparmor)
    }

    /// The key the store keeps the event under with its node and time: the audit serial,
    /// else a negative number from the synthetic key (or, for an event that came without
    /// one, from its fields), so that it never meets a real serial.
    pub fn store_serial(&self) -> i64 {
        if let Some(s) = self.serial {
            return i64::try_from(s).unwrap_or(i64::MAX);
        }
        let h = match self.synthetic_key {
            Some(k) => k,
            None => {
                let mut h = Fnv::new();
                h.eat(&self.pid.to_le_bytes());
                h.eat(&self.audit_arch.to_le_bytes());
                h.eat(&self.syscall_nr.to_le_bytes());
                h.eat(&self.code.to_le_bytes());
                h.eat(&self.ip.unwrap_or(u64::MAX).to_le_bytes());
                h.eat(self.comm.as_deref().unwrap_or("\u{0}").as_bytes());
                h.eat(self.exe.as_deref().unwrap_or("\u{0}").as_bytes());
                h.0
            }
        };
        -((h >> 2) as i64) - 1
    }

    /// libseccomp's name of the syscall, when known on this arch.
    pub fn syscall(&self) -> Option<&'static str> {
        self.arch().and_then(|a| syscall_name(a, self.syscall_nr))
    }

    /// The action of `code`.
    pub fn action(&self) -> Action {
        Action::from_code(self.code)
    }

    /// The time as RFC 3339 UTC with milliseconds.
    pub fn time_rfc3339(&self) -> String {
        crate::time::rfc3339_ms(self.time_ms)
    }

    /// The JSON object of the stable event format, as a `serde_json` map (so that callers
    /// can add keys such as `source` or `container`).
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// Appends the stable JSON form (one line, no newline) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serializing into a Vec cannot fail for this type.
        let _ = serde_json::to_writer(out, self);
    }
}

/// FNV-1a with a separator after each part: stable across runs, builds and hosts.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn eat(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Makes the synthetic keys of identical records unique: a process that calls a logged
/// syscall in a loop writes identical syslog lines within one second, and each is a
/// record of its own. The n-th identical (key, time) of an input gets its key mixed with
/// n, so a second import of the same file gives the same keys again. Memory is bounded:
/// only the last minute of times is remembered.
#[derive(Debug, Default)]
pub struct Occurrences {
    seen: std::collections::HashMap<(i64, u64), u32>,
    newest_ms: i64,
}

impl Occurrences {
    const WINDOW_MS: i64 = 60_000;
    const MAX: usize = 1 << 16;

    /// Gives `ev` (when it has a synthetic key) the key of its occurrence.
    pub fn assign(&mut self, ev: &mut Event) {
        let Some(k) = ev.synthetic_key else { return };
        if self.seen.len() >= Self::MAX || ev.time_ms > self.newest_ms + Self::WINDOW_MS {
            let keep_from = ev.time_ms.max(self.newest_ms) - Self::WINDOW_MS;
            self.seen.retain(|&(t, _), _| t >= keep_from);
            if self.seen.len() >= Self::MAX {
                self.seen.clear();
            }
        }
        self.newest_ms = self.newest_ms.max(ev.time_ms);
        let n = self.seen.entry((ev.time_ms, k)).or_insert(0);
        if *n > 0 {
            let mut h = Fnv(k);
            h.eat(&n.to_le_bytes());
            ev.synthetic_key = Some(h.0);
        }
        *n += 1;
    }
}

#[derive(Serialize)]
struct AppArmorJson<'a> {
    profile: &'a str,
    mode: &'a str,
}

#[derive(Serialize, Deserialize)]
struct EventJson<'a> {
    time: String,
    serial: Option<u64>,
    node: Option<std::borrow::Cow<'a, str>>,
    arch: Option<String>,
    syscall: Option<std::borrow::Cow<'a, str>>,
    syscall_nr: i64,
    action: String,
    code: String,
    pid: u32,
    uid: Option<u32>,
    gid: Option<u32>,
    auid: Option<u32>,
    ses: Option<u32>,
    comm: Option<std::borrow::Cow<'a, str>>,
    exe: Option<std::borrow::Cow<'a, str>>,
    subj: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_deserializing)]
    apparmor: Option<AppArmorJson<'a>>,
    sig: Option<i32>,
    compat: bool,
    ip: Option<String>,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut time = String::with_capacity(24);
        push_rfc3339_ms(&mut time, self.time_ms);
        EventJson {
            time,
            serial: self.serial,
            node: self.node.as_deref().map(Into::into),
            arch: (self.audit_arch != NO_ARCH).then(|| self.arch_name()),
            syscall: self.syscall().map(Into::into),
            syscall_nr: self.syscall_nr,
            action: self.action().to_string(),
            code: format!("{:#x}", self.code),
            pid: self.pid,
            uid: self.uid,
            gid: self.gid,
            auid: self.auid,
            ses: self.ses,
            comm: self.comm.as_deref().map(Into::into),
            exe: self.exe.as_deref().map(Into::into),
            subj: self.subj.as_deref().map(Into::into),
            apparmor: self.apparmor().map(|a| AppArmorJson {
                profile: a.profile,
                mode: a.mode,
            }),
            sig: self.sig,
            compat: self.compat,
            ip: self.ip.map(|ip| format!("{ip:#x}")),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        let j = EventJson::deserialize(d)?;
        let (time_ms, _) =
            parse_iso8601_ms(j.time.as_bytes()).ok_or_else(|| D::Error::custom("bad time"))?;
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16);
        let code = hex(&j.code).map_err(D::Error::custom)? as u32;
        let audit_arch = match j.arch.as_deref() {
            None => NO_ARCH,
            Some(name) => match ScmpArch::from_name(name) {
                Some(a) => a.audit_arch(),
                None => hex(name).map_err(|_| D::Error::custom("unknown arch"))? as u32,
            },
        };
        Ok(Event {
            time_ms,
            serial: j.serial,
            node: j.node.map(Into::into),
            audit_arch,
            syscall_nr: j.syscall_nr,
            code,
            pid: j.pid,
            uid: j.uid,
            gid: j.gid,
            auid: j.auid,
            ses: j.ses,
            comm: j.comm.map(Into::into),
            exe: j.exe.map(Into::into),
            subj: j.subj.map(Into::into),
            sig: j.sig,
            compat: j.compat,
            ip: j
                .ip
                .map(|s| hex(&s))
                .transpose()
                .map_err(D::Error::custom)?,
            synthetic_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{parse_line, Parsed};

    #[test]
    fn json_has_exactly_the_stable_keys_and_round_trips() {
        let l = b"type=SECCOMP msg=audit(1795997052.837:4620843): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=23556 comm=\"act\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f93888d3829 code=0x7ffc0000";
        let Ok(Parsed::Seccomp(r)) = parse_line(l) else {
            panic!()
        };
        let e = Event::from_record(&r).unwrap();
        let v = serde_json::to_value(&e).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "time",
                "serial",
                "node",
                "arch",
                "syscall",
                "syscall_nr",
                "action",
                "code",
                "pid",
                "uid",
                "gid",
                "auid",
                "ses",
                "comm",
                "exe",
                "subj",
                "apparmor",
                "sig",
                "compat",
                "ip"
            ]
        );
        assert_eq!(v["time"], "2026-11-30T00:04:12.837Z");
        assert_eq!(v["action"], "SCMP_ACT_LOG");
        assert_eq!(v["code"], "0x7ffc0000");
        assert_eq!(v["arch"], "SCMP_ARCH_X86_64");
        assert_eq!(v["ip"], "0x7f93888d3829");
        assert_eq!(v["auid"], serde_json::Value::Null);
        assert_eq!(v["apparmor"], serde_json::Value::Null);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn no_arch_is_null_and_apparmor_is_split() {
        let l = b"type=SECCOMP msg=audit(1.000:1): auid=0 uid=0 gid=0 ses=1 subj==docker-default (enforce) pid=2 comm=\"a\" exe=\"/a\" sig=0 syscall=110 compat=0 ip=0x1 code=0x7ffc0000";
        let Ok(Parsed::Seccomp(r)) = parse_line(l) else {
            panic!()
        };
        let e = Event::from_record(&r).unwrap();
        assert_eq!(e.audit_arch, NO_ARCH);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["arch"], serde_json::Value::Null);
        assert_eq!(v["syscall"], serde_json::Value::Null);
        assert_eq!(v["syscall_nr"], 110);
        assert_eq!(v["subj"], "docker-default (enforce)");
        assert_eq!(
            v["apparmor"],
            serde_json::json!({"profile": "docker-default", "mode": "enforce"})
        );
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.arch_name(), "none");
    }

    #[test]
    fn synthetic_keys_are_stable_and_unique_per_occurrence() {
        let l = b"Apr 25 16:56:53 ubuntu audit[17276]: SECCOMP auid=1001 uid=0 gid=0 ses=79 pid=17276 comm=\"curl\" exe=\"/c\" sig=0 arch=c000003e syscall=55 compat=0 ip=0x1 code=0x7ffc0000";
        let ctx = crate::record::Context {
            year: Some(2025),
            ..crate::record::Context::DEFAULT
        };
        let ev = || {
            let Ok(Parsed::Seccomp(r)) = crate::record::parse_line_with(l, &ctx) else {
                panic!()
            };
            Event::from_record(&r).unwrap()
        };
        let (a, b) = (ev(), ev());
        assert_eq!(a.serial, None);
        assert!(a.synthetic_key.is_some());
        assert_eq!(a.synthetic_key, b.synthetic_key);
        assert!(a.store_serial() < 0);
        let mut occ = Occurrences::default();
        let keys: Vec<i64> = (0..3)
            .map(|_| {
                let mut e = ev();
                occ.assign(&mut e);
                e.store_serial()
            })
            .collect();
        assert_eq!(keys[0], a.store_serial());
        assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
        // A second import gives the same keys.
        let mut occ2 = Occurrences::default();
        let again: Vec<i64> = (0..3)
            .map(|_| {
                let mut e = ev();
                occ2.assign(&mut e);
                e.store_serial()
            })
            .collect();
        assert_eq!(keys, again);
        let mut with_serial = a.clone();
        with_serial.serial = Some(7);
        assert_eq!(with_serial.store_serial(), 7);
    }
}
