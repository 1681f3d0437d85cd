//! systemd journal entries, from `journalctl -o json` (one JSON object a line) or
//! `journalctl -o export` (the daemon reads that stream into a [`JournalEntry`]).
//!
//! journald reads audit records from the netlink multicast group (`_TRANSPORT=audit`,
//! `MESSAGE=SECCOMP auid=...`, the serial in `_AUDIT_ID`, the record's own time in
//! `_SOURCE_REALTIME_TIMESTAMP`) and the kernel log (`_TRANSPORT=kernel`,
//! `MESSAGE=audit: type=1326 audit(...): ...`, `SYSLOG_FACILITY=0`). Those fields are set
//! by journald itself: a client cannot forge them. An entry of another transport
//! (`syslog`, `journal`, `stdout`) carrying a record is forged, unless its
//! `SYSLOG_IDENTIFIER` is an audit dispatcher's (`audisp-syslog` logs through syslog).

use crate::record::{parse_u32, parse_u64, Context, ErrorKind, ParseError, Parsed, Untrusted};

/// The fields of a journal entry that matter here; the others are not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalEntry {
    pub message: Option<Vec<u8>>,
    pub transport: Option<Vec<u8>>,
    pub identifier: Option<Vec<u8>>,
    pub hostname: Option<Vec<u8>>,
    pub facility: Option<u8>,
    /// `_AUDIT_ID`: the audit serial.
    pub audit_id: Option<u64>,
    /// `_AUDIT_TYPE`.
    pub audit_type: Option<u32>,
    /// `__REALTIME_TIMESTAMP`: when journald received it, µs since the epoch.
    pub realtime_us: Option<i64>,
    /// `_SOURCE_REALTIME_TIMESTAMP`: for the audit transport, the record's own time.
    pub source_realtime_us: Option<i64>,
}

/// The longest field value kept (a SECCOMP record is under 4 KiB even with a 4 KiB exe).
pub const MAX_FIELD: usize = 64 * 1024;

impl JournalEntry {
    /// Whether `name` is a field kept by [`JournalEntry::set`] (the export reader skips
    /// the others without buffering them).
    pub fn wants(name: &[u8]) -> bool {
        matches!(
            name,
            b"MESSAGE"
                | b"_TRANSPORT"
                | b"SYSLOG_IDENTIFIER"
                | b"_HOSTNAME"
                | b"SYSLOG_FACILITY"
                | b"_AUDIT_ID"
                | b"_AUDIT_TYPE"
                | b"__REALTIME_TIMESTAMP"
                | b"_SOURCE_REALTIME_TIMESTAMP"
        )
    }

    /// Sets one field from its export-format name and value (unknown fields ignored; a
    /// field given twice keeps its first value).
    pub fn set(&mut self, name: &[u8], value: &[u8]) {
        let bytes = |slot: &mut Option<Vec<u8>>| {
            if slot.is_none() {
                *slot = Some(value[..value.len().min(MAX_FIELD)].to_vec());
            }
        };
        let int = |v: &[u8]| parse_u64(v).and_then(|n| i64::try_from(n).ok());
        match name {
            b"MESSAGE" => bytes(&mut self.message),
            b"_TRANSPORT" => bytes(&mut self.transport),
            b"SYSLOG_IDENTIFIER" => bytes(&mut self.identifier),
            b"_HOSTNAME" => bytes(&mut self.hostname),
            b"SYSLOG_FACILITY" => {
                self.facility = self
                    .facility
                    .or(parse_u32(value).and_then(|v| u8::try_from(v).ok()))
            }
            b"_AUDIT_ID" => self.audit_id = self.audit_id.or(parse_u64(value)),
            b"_AUDIT_TYPE" => self.audit_type = self.audit_type.or(parse_u32(value)),
            b"__REALTIME_TIMESTAMP" => self.realtime_us = self.realtime_us.or(int(value)),
            b"_SOURCE_REALTIME_TIMESTAMP" => {
                self.source_realtime_us = self.source_realtime_us.or(int(value))
            }
            _ => {}
        }
    }

    /// An entry of `journalctl -o json`: values are strings, arrays of bytes (fields that
    /// are not valid UTF-8 or hold control characters), arrays of those (a field given
    /// several times: the first is kept), or null (too large without `--all`).
    pub fn from_json(line: &[u8]) -> Result<JournalEntry, ParseError> {
        use serde_json::Value;
        let bad = |m: String| ParseError::new(ErrorKind::BadJournal(m), line);
        let map: serde_json::Map<String, Value> =
            serde_json::from_slice(line).map_err(|e| bad(e.to_string()))?;
        let mut e = JournalEntry::default();
        for (k, v) in &map {
            if !Self::wants(k.as_bytes()) {
                continue;
            }
            let first = match v {
                Value::Array(a) if a.first().is_some_and(|x| !x.is_number()) => &a[0],
                other => other,
            };
            let value: Vec<u8> = match first {
                Value::String(s) => s.clone().into_bytes(),
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| bad(format!("{k}: not an array of bytes")))?,
                Value::Null => continue,
                _ => return Err(bad(format!("{k}: not a string"))),
            };
            e.set(k.as_bytes(), &value);
        }
        Ok(e)
    }

    /// The audit record of this entry, if any.
    pub fn parse<'a>(&'a self, ctx: &Context<'_>) -> Result<Parsed<'a>, ParseError> {
        let Some(msg) = self.message.as_deref() else {
            return Ok(Parsed::NotAudit);
        };
        let transport = self.transport.as_deref().unwrap_or(b"");
        let trusted = match transport {
            b"audit" => true,
            b"kernel" => self.facility.is_none_or(|f| f == 0),
            _ => false,
        };
        let parsed = match transport {
            // `SECCOMP auid=...` (journald writes the type's name, or its number when its
            // table lacks it) with the serial and time in fields.
            b"audit" => {
                let (w, fields) = match memchr::memchr(b' ', msg) {
                    Some(i) => (&msg[..i], &msg[i + 1..]),
                    None => (msg, &b""[..]),
                };
                let seccomp = self.audit_type == Some(crate::record::AUDIT_SECCOMP)
                    || crate::record::is_seccomp_type(w);
                if !seccomp {
                    return Ok(Parsed::Other(match self.audit_type {
                        Some(n) => crate::record::RecordType::Number(n),
                        None => crate::record::type_of(w),
                    }));
                }
                let mut rec = crate::fields::parse_fields(fields, msg, crate::fields::Mode::Raw)?;
                rec.serial = self.audit_id;
                if let Some(us) = self.source_realtime_us.or(self.realtime_us) {
                    let ms = us.div_euclid(1000);
                    rec.time_sec = Some(ms.div_euclid(1000));
                    rec.time_ms = ms.rem_euclid(1000) as u32;
                }
                Parsed::Seccomp(rec)
            }
            // The kernel's text, or what a program wrote.
            _ => match crate::record::parse_line_with(msg, ctx)? {
                Parsed::Seccomp(mut rec) => {
                    if rec.time_sec.is_none() {
                        if let Some(us) = self.realtime_us {
                            let ms = us.div_euclid(1000);
                            rec.time_sec = Some(ms.div_euclid(1000));
                            rec.time_ms = ms.rem_euclid(1000) as u32;
                        }
                    }
                    Parsed::Seccomp(rec)
                }
                Parsed::Forged(_) => Parsed::Forged(Untrusted::Transport(transport)),
                other => other,
            },
        };
        match parsed {
            Parsed::Seccomp(mut rec) => {
                let dispatcher = self.identifier.as_deref().is_some_and(|i| {
                    matches!(
                        i,
                        b"audispd" | b"audisp-syslog" | b"audisp-remote" | b"auditd"
                    ) || ctx.trusted_tags.iter().any(|t| t.as_bytes() == i)
                }) && (msg.starts_with(b"type=") || msg.starts_with(b"node="));
                if !(trusted || dispatcher) {
                    return Ok(Parsed::Forged(if transport == b"kernel" {
                        Untrusted::Facility(self.facility.unwrap_or(1))
                    } else {
                        Untrusted::Transport(transport)
                    }));
                }
                if rec.node.is_none() {
                    rec.node = self.hostname.as_deref();
                }
                Ok(Parsed::Seccomp(rec))
            }
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDIT_JSON: &str = r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1740535410399012","_TRANSPORT":"audit","_AUDIT_TYPE":"1326","_AUDIT_ID":"1727850","_SOURCE_REALTIME_TIMESTAMP":"1740535410396000","SYSLOG_FACILITY":"4","SYSLOG_IDENTIFIER":"audit","_AUDIT_TYPE_NAME":"SECCOMP","_HOSTNAME":"gke-node-1","_PID":"3315793","MESSAGE":"SECCOMP auid=4294967295 uid=0 gid=0 ses=4294967295 subj==cri-containerd.apparmor.d (enforce) pid=3315793 comm=\"chmod\" exe=\"/bin/chmod\" sig=0 arch=c000003e syscall=268 compat=0 ip=0x7fd8c219ef24 code=0x7ffc0000"}"#;

    fn rec(e: &JournalEntry) -> crate::record::Record<'_> {
        match e.parse(&Context::DEFAULT).unwrap() {
            Parsed::Seccomp(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn audit_transport_gives_serial_time_and_host() {
        let e = JournalEntry::from_json(AUDIT_JSON.as_bytes()).unwrap();
        let r = rec(&e);
        assert_eq!(r.serial, Some(1727850));
        assert_eq!((r.time_sec, r.time_ms), (Some(1740535410), 396));
        assert_eq!(r.node, Some(&b"gke-node-1"[..]));
        assert_eq!((r.pid, r.syscall, r.arch), (3315793, 268, Some(0xc000003e)));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn the_same_text_from_another_transport_is_forged() {
        let j = AUDIT_JSON.replace(r#""_TRANSPORT":"audit""#, r#""_TRANSPORT":"syslog""#);
        let e = JournalEntry::from_json(j.as_bytes()).unwrap();
        // Through syslog the text `SECCOMP auid=...` is not even a record form.
        assert!(matches!(
            e.parse(&Context::DEFAULT).unwrap(),
            Parsed::NotAudit | Parsed::Forged(_)
        ));
        let k = r#"{"_TRANSPORT":"syslog","SYSLOG_IDENTIFIER":"mallory","__REALTIME_TIMESTAMP":"1","MESSAGE":"audit: type=1326 audit(1740535410.396:7): pid=1 comm=\"a\" exe=\"/a\" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x7ffc0000"}"#;
        let e = JournalEntry::from_json(k.as_bytes()).unwrap();
        assert_eq!(
            e.parse(&Context::DEFAULT).unwrap(),
            Parsed::Forged(Untrusted::Transport(b"syslog"))
        );
        let kern = k
            .replace(r#""_TRANSPORT":"syslog""#, r#""_TRANSPORT":"kernel""#)
            .replace(
                r#""SYSLOG_IDENTIFIER":"mallory""#,
                r#""SYSLOG_FACILITY":"0""#,
            );
        let e = JournalEntry::from_json(kern.as_bytes()).unwrap();
        assert_eq!(rec(&e).serial, Some(7));
        let user = kern.replace(r#""SYSLOG_FACILITY":"0""#, r#""SYSLOG_FACILITY":"1""#);
        let e = JournalEntry::from_json(user.as_bytes()).unwrap();
        assert_eq!(
            e.parse(&Context::DEFAULT).unwrap(),
            Parsed::Forged(Untrusted::Facility(1))
        );
    }

    #[test]
    fn byte_array_and_repeated_fields() {
        let j = r#"{"_TRANSPORT":["audit","x"],"_AUDIT_ID":"5","__REALTIME_TIMESTAMP":"1000000","MESSAGE":[83,69,67,67,79,77,80,32,112,105,100,61,49,32,115,121,115,99,97,108,108,61,49,32,99,111,100,101,61,48,120,48]}"#;
        let e = JournalEntry::from_json(j.as_bytes()).unwrap();
        let r = rec(&e);
        assert_eq!(
            (r.pid, r.syscall, r.serial, r.time_sec),
            (1, 1, Some(5), Some(1))
        );
        assert!(JournalEntry::from_json(b"{not json").is_err());
        assert!(JournalEntry::from_json(br#"{"MESSAGE":[1,300]}"#).is_err());
    }
}
