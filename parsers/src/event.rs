//! The owned SECCOMP event and its stable JSON form (the `seccomp-watch parse` format that
//! every later command reuses: `events --json`, `rules test --events`, webhooks).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::action::Action;
use crate::arch::ScmpArch;
use crate::record::Record;
use crate::syscalls::syscall_name;
use crate::time::{parse_iso8601_ms, push_rfc3339_ms};

/// One SECCOMP record, owned and interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// The audit serial; `None` for journal lines, which do not carry it.
    pub serial: Option<u64>,
    pub node: Option<String>,
    /// The record's `arch=` (AUDIT_ARCH_*).
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
        Ok(Event {
            time_ms: sec.saturating_mul(1000).saturating_add(r.time_ms as i64),
            serial: r.serial,
            node: r.node.map(|n| String::from_utf8_lossy(n).into_owned()),
            audit_arch: r.arch,
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
        })
    }

    /// The libseccomp arch, when known.
    pub fn arch(&self) -> Option<ScmpArch> {
        ScmpArch::from_audit(self.audit_arch, self.syscall_nr)
    }

    /// The arch as shown: `SCMP_ARCH_X86_64`, or the raw audit arch in hex when unknown.
    pub fn arch_name(&self) -> String {
        match self.arch() {
            Some(a) => a.name().to_string(),
            None => format!("{:#x}", self.audit_arch),
        }
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

#[derive(Serialize, Deserialize)]
struct EventJson<'a> {
    time: String,
    serial: Option<u64>,
    node: Option<std::borrow::Cow<'a, str>>,
    arch: String,
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
            arch: self.arch_name(),
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
        let audit_arch = match ScmpArch::from_name(&j.arch) {
            Some(a) => a.audit_arch(),
            None => hex(&j.arch).map_err(|_| D::Error::custom("unknown arch"))? as u32,
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
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
