//! The `syslog` sink's message and transport: RFC 5424 (facility authpriv, MSGID `alert`)
//! carrying a CEF message, over UDP (one datagram a message) or TCP (octet counting, RFC
//! 6587).
//!
//! Everything in an alert that came from a record or a runtime's labels (comm, exe,
//! workload, container name, image) is attacker-controlled: every CEF field is first put
//! in [`escape`]'s form, so no control byte (NUL, ESC, BEL, newline, ...) and no bidi or
//! invisible character reaches the receiver raw, then escaped per CEF.

use std::time::Duration;

use parsers::escape::escape;
use rules::engine::{Alert, Severity};
use tokio::io::AsyncWriteExt;

use super::sinks::DeliveryError;

/// CEF severity (0-10) of a severity.
fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// A CEF header field: the text in its escaped form ([`escape`]: control bytes, DEL, C1
/// controls, bidi and invisible characters as `\e`, `\x07`, `\u{202e}`, ...; no raw byte
/// below 0x20 is left), then CEF's own escapes of `\` and `|`.
fn cef_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in escape(s).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            c => out.push(c),
        }
    }
    out
}

/// A CEF extension value: the text in its escaped form ([`escape`]: a NUL, which ends the
/// message in C receivers, becomes `\x00`; a newline `\n` as text), then CEF's own escapes
/// of `\` and `=`. A receiver that undoes CEF's escaping gets exactly [`escape`]'s form, the
/// one every other human-facing output shows.
fn cef_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in escape(s).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            c => out.push(c),
        }
    }
    out
}

/// The CEF message of an alert.
pub fn cef_message(alert: &Alert) -> String {
    let mut ext: Vec<(&str, String)> = vec![
        ("externalId", alert.id.clone()),
        ("rt", alert.last_seen_ms.to_string()),
        ("start", alert.first_seen_ms.to_string()),
        ("end", alert.last_seen_ms.to_string()),
        ("cnt", alert.count.to_string()),
        ("act", alert.action.clone()),
        ("cs1Label", "workload".into()),
        ("cs1", alert.workload.clone()),
        ("cs2Label", "syscall".into()),
        ("cs2", alert.syscall.clone()),
        ("cs3Label", "arch".into()),
        ("cs3", alert.arch.clone()),
    ];
    if let Some(n) = &alert.node {
        ext.push(("dvchost", n.clone()));
    }
    if let Some(c) = &alert.container {
        ext.push(("cs4Label", "container".into()));
        ext.push(("cs4", c.name.clone().unwrap_or_else(|| c.id.clone())));
        if let Some(i) = &c.image {
            ext.push(("cs5Label", "image".into()));
            ext.push(("cs5", i.clone()));
        }
    }
    if let Some(h) = &alert.profile_hash {
        ext.push(("cs6Label", "profileHash".into()));
        ext.push(("cs6", h.clone()));
    }
    if let Some(s) = alert.samples.first() {
        ext.push(("spid", s.pid.to_string()));
        if let Some(c) = &s.comm {
            ext.push(("sproc", c.clone()));
        }
        if let Some(e) = &s.exe {
            ext.push(("filePath", e.clone()));
        }
        if let Some(u) = s.uid {
            ext.push(("suid", u.to_string()));
        }
    }
    ext.push(("msg", alert.hint()));
    let ext: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", cef_value(&v)))
        .collect();
    format!(
        "CEF:0|seccomp-watch|seccomp-watch|{}|{}|{}|{}|{}",
        env!("CARGO_PKG_VERSION"),
        cef_header(&alert.rule),
        cef_header(&alert.summary()),
        cef_severity(alert.severity),
        ext.join(" ")
    )
}

/// This host's name (for syslog's HOSTNAME when the alert has no node).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "-".into();
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[..end]).into_owned();
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

/// The RFC 5424 line (facility authpriv, no structured data, MSGID `alert`) with the CEF
/// message.
pub fn syslog_message(alert: &Alert, now_ms: i64) -> String {
    let sev = match alert.severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    };
    let pri = 10 * 8 + sev;
    // HOSTNAME: printable US-ASCII without spaces, at most 255.
    let host: String = alert
        .node
        .clone()
        .unwrap_or_else(hostname)
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let host = if host.is_empty() {
        "-".to_string()
    } else {
        host
    };
    format!(
        "<{pri}>1 {} {host} seccomp-watch {} alert - {}",
        parsers::time::rfc3339_ms(now_ms),
        std::process::id(),
        cef_message(alert)
    )
}

pub(super) async fn send_udp(address: &str, msg: &[u8]) -> Result<(), DeliveryError> {
    let err = |e: std::io::Error| DeliveryError(format!("syslog udp {address}: {e}"));
    let target = tokio::net::lookup_host(address)
        .await
        .map_err(err)?
        .next()
        .ok_or_else(|| DeliveryError(format!("syslog udp {address}: no address")))?;
    let local = if target.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let sock = tokio::net::UdpSocket::bind(local).await.map_err(err)?;
    sock.connect(target).await.map_err(err)?;
    sock.send(msg).await.map_err(err)?;
    Ok(())
}

pub(super) async fn send_tcp(
    address: &str,
    conn: &tokio::sync::Mutex<Option<tokio::net::TcpStream>>,
    msg: &[u8],
) -> Result<(), DeliveryError> {
    let err = |e: std::io::Error| DeliveryError(format!("syslog tcp {address}: {e}"));
    let mut framed = format!("{} ", msg.len()).into_bytes();
    framed.extend_from_slice(msg);
    let mut guard = conn.lock().await;
    // One reconnect when a kept connection turns out to be closed.
    for attempt in 0..2 {
        if guard.is_none() {
            let s = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect(address),
            )
            .await
            .map_err(|_| DeliveryError(format!("syslog tcp {address}: connect timed out")))?
            .map_err(err)?;
            *guard = Some(s);
        }
        let Some(s) = guard.as_mut() else { continue };
        match s.write_all(&framed).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                *guard = None;
                if attempt == 1 {
                    return Err(err(e));
                }
            }
        }
    }
    Err(DeliveryError(format!("syslog tcp {address}: cannot send")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        super::super::sinks::tests::alert()
    }

    #[test]
    fn cef_and_syslog_format() {
        let m = syslog_message(&alert(), 0);
        assert!(
            m.starts_with("<82>1 1970-01-01T00:00:00.000Z node-1 seccomp-watch "),
            "{m}"
        );
        assert!(
            m.contains(" alert - CEF:0|seccomp-watch|seccomp-watch|"),
            "{m}"
        );
        assert!(m.contains("|dangerous-syscall-in-container|"), "{m}");
        assert!(m.contains("|10|externalId=0123 "), "{m}");
        assert!(m.contains("cs1=k8s:shop/cart/api"), "{m}");
        assert!(
            m.contains("sproc=a\\=b|c"),
            "extension values escape '=': {m}"
        );
        assert!(m.contains("cnt=3"), "{m}");
        assert!(!m.contains('\n'));
        // A backslash is escape()'s `\\`, then each is CEF-escaped.
        assert_eq!(cef_header("a|b\\c"), "a\\|b\\\\\\\\c");
    }

    #[test]
    fn control_bytes_are_escaped_in_header_and_extension() {
        let mut a = alert();
        a.rule = "r\x1b[2J|x".into();
        a.workload = "docker:w\0eb\x07".into();
        a.samples[0].comm = Some("c\0\x1b\x07\u{9b}\u{202e}\u{200b}\n=|\\".into());
        let m = syslog_message(&a, 0);
        assert!(
            !m.bytes().any(|b| b < 0x20 || b == 0x7f),
            "raw control bytes in {m:?}"
        );
        assert!(m.contains("|r\\\\e[2J\\|x|"), "{m}");
        assert!(m.contains("cs1=docker:w\\\\x00eb\\\\x07 "), "{m}");
        assert!(
            m.contains("sproc=c\\\\x00\\\\e\\\\x07\\\\x9b\\\\u{202e}\\\\u{200b}\\\\n\\=|\\\\\\\\ "),
            "{m}"
        );
    }
}
