//! What sinks deliver and to whom, against real receivers: a webhook, Splunk HEC or
//! Alertmanager answering 302 or 307 is a failed delivery (never followed: no bodiless GET
//! marked delivered, no custom headers re-posted to another origin), logged with its
//! `Location`; control bytes from comm, exe and labels (NUL, ESC, BEL, ...) never reach a
//! syslog receiver raw, the CEF message carries them escaped.

#[path = "support/alerts.rs"]
mod alerts_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seccomp_watch::alerts::{self, Dispatcher, RuleStage, Sink, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use alerts_support::*;

/// An HTTP server answering every request with `status` and `Location: location`,
/// recording what it got (one request a connection).
struct Redirector {
    port: u16,
    got: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Redirector {
    async fn start(status: u16, location: String) -> Redirector {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                let g = g.clone();
                let location = location.clone();
                tokio::spawn(async move {
                    if let Some(req) = read_request(&mut s).await {
                        g.lock().unwrap().push(req);
                        let resp = format!(
                            "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let _ = s.write_all(resp.as_bytes()).await;
                        let _ = s.shutdown().await;
                    }
                });
            }
        });
        Redirector { port, got, task }
    }
}

impl Drop for Redirector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_never_follow_redirects() {
    let dir = tempfile::tempdir().unwrap();
    // Where a followed redirect would land: another origin (another port).
    let target = Receiver::start(0, None, None).await;
    let elsewhere = format!("http://127.0.0.1:{}/stolen", target.port);
    let r302 = Redirector::start(302, elsewhere.clone()).await;
    let r307 = Redirector::start(307, elsewhere.clone()).await;
    let r308 = Redirector::start(308, elsewhere.clone()).await;
    let cfg = config(&format!(
        r#"[[sinks]]
type = "webhook"
name = "found"
url = "http://127.0.0.1:{}/hook"
[[sinks]]
type = "webhook"
name = "temporary"
url = "http://127.0.0.1:{}/hook"
headers = {{ "X-Api-Key" = "custom-header-secret" }}
[[sinks]]
type = "alertmanager"
name = "am"
url = "http://127.0.0.1:{}"
"#,
        r302.port, r307.port, r308.port
    ));
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    commit(
        &store,
        &mut stage,
        vec![batch(
            vec![event(1_790_000_000_000, 1, PTRACE, KILL)],
            &container_attr("k8s:shop/cart/api", None),
        )],
    )
    .await;
    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    // A few rounds of attempts (with backoff): every one fails, none is followed.
    let mut failed = 0;
    for _ in 0..6 {
        let r = d.tick().await.unwrap();
        assert_eq!(r.delivered, 0, "a redirect was taken for a delivery: {r:?}");
        failed += r.failed;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(failed >= 3, "every sink must have failed at least once");
    for r in [&r302, &r307, &r308] {
        let got = r.got.lock().unwrap();
        assert!(!got.is_empty(), "the sink on port {} was not tried", r.port);
        assert!(got.iter().all(|q| !q.body.is_empty()), "bodiless request");
    }
    assert!(
        target.requests().is_empty(),
        "a redirect was followed to another origin: {:?}",
        target
            .requests()
            .iter()
            .map(|r| (r.path.clone(), r.headers.clone()))
            .collect::<Vec<_>>()
    );
    let rows = alerts::db::list(d.pool(), None, 0).await.unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        for del in &row.deliveries {
            assert_eq!(del.status, Status::Pending, "{del:?}");
            assert_eq!(del.delivered_ms, None, "{del:?}");
            let err = del.last_error.as_deref().unwrap_or_default();
            assert!(
                err.contains("redirect") && err.contains(&elsewhere),
                "the failure must name the redirect and its Location: {err:?}"
            );
        }
    }
    drop(store);
}

/// Undoes CEF extension escaping (`\\`, `\=`, `\n`, `\r`).
fn cef_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// The value of extension key `key` in a CEF message (up to the next ` key=`).
fn cef_ext<'a>(msg: &'a str, key: &str) -> Option<&'a str> {
    let start = msg.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &msg[start..];
    // The next unescaped " word=".
    let b = rest.as_bytes();
    let mut end = rest.len();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b' ' {
            let word: String = rest[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if !word.is_empty() && rest[i + 1 + word.len()..].starts_with('=') {
                end = i;
                break;
            }
        }
        i += 1;
    }
    Some(&rest[..end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_bytes_never_reach_syslog_receivers_raw() {
    let dir = tempfile::tempdir().unwrap();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(&format!(
        "[[sinks]]\ntype = \"syslog\"\nname = \"udp\"\naddress = \"udp://{}\"\n\
         [[sinks]]\ntype = \"syslog\"\nname = \"tcp\"\naddress = \"tcp://{}\"\n",
        udp.local_addr().unwrap(),
        tcp.local_addr().unwrap()
    ));
    // Every C0 control, DEL, a C1 control (CSI) and a bidi override, in comm, exe and the
    // workload (a container name, from the runtime's labels).
    let mut nasty: String = (0u8..0x20).map(char::from).collect();
    nasty.push('\x7f');
    nasty.push('\u{9b}');
    nasty.push('\u{202e}');
    let comm = format!("x{nasty}|=\\y");
    let exe = format!("/bin/a\0b\x1b[2Jc\x07d{nasty}");
    let workload = format!("docker:web\x1b]0;pwned\x07\0{nasty}");
    let mut ev = event(1_790_000_000_000, 1, PTRACE, KILL);
    ev.comm = Some(comm.clone());
    ev.exe = Some(exe.clone());
    let mut attr = container_attr(&workload, None);
    if let Some(c) = attr.container.as_mut() {
        c.name = Some(format!("web\x1b[31m\0{nasty}"));
    }
    let tcp_task = tokio::spawn(async move {
        let (mut s, _) = tcp.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut tmp = [0u8; 65536];
        let mut msgs: Vec<Vec<u8>> = Vec::new();
        loop {
            while let Some(sp) = buf.iter().position(|&c| c == b' ') {
                let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
                if buf.len() < sp + 1 + len {
                    break;
                }
                msgs.push(buf[sp + 1..sp + 1 + len].to_vec());
                buf.drain(..sp + 1 + len);
            }
            if !msgs.is_empty() {
                return msgs;
            }
            let n = s.read(&mut tmp).await.unwrap();
            assert!(n > 0, "tcp closed early");
            buf.extend_from_slice(&tmp[..n]);
        }
    });
    let (store, db) = open_store(dir.path()).await;
    let mut stage = RuleStage::from_config(&cfg).unwrap();
    commit(&store, &mut stage, vec![batch(vec![ev], &attr)]).await;
    let mut d = Dispatcher::open(&db, Sink::all_from_config(&cfg.sinks).unwrap(), fast())
        .await
        .unwrap();
    assert_eq!(drain(&mut d, Duration::from_secs(10)).await.pending, 0);

    let mut buf = [0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(5), udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let mut msgs = tokio::time::timeout(Duration::from_secs(5), tcp_task)
        .await
        .unwrap()
        .unwrap();
    msgs.push(buf[..n].to_vec());
    for raw in msgs {
        let bad: Vec<(usize, u8)> = raw
            .iter()
            .enumerate()
            .filter(|(_, &b)| b < 0x20 || b == 0x7f)
            .map(|(i, &b)| (i, b))
            .collect();
        assert!(
            bad.is_empty(),
            "raw control bytes {bad:?} in {:?}",
            String::from_utf8_lossy(&raw)
        );
        let msg = String::from_utf8(raw).expect("UTF-8");
        assert!(
            !msg.contains('\u{9b}') && !msg.contains('\u{202e}'),
            "C1 control or bidi override raw: {msg:?}"
        );
        let cef = msg.split_once(" - CEF:").expect("CEF message").1;
        // The header has its 8 fields (no pipe leaked from a value).
        let header_pipes = cef.split('|').count();
        assert!(header_pipes >= 8, "{cef}");
        // Decoded, each value is the escaped form every human-facing output uses.
        for (key, value) in [("sproc", &comm), ("filePath", &exe), ("cs1", &workload)] {
            let got = cef_ext(cef, key).unwrap_or_else(|| panic!("no {key} in {cef}"));
            assert_eq!(
                cef_unescape(got),
                parsers::escape::escape(value),
                "{key} in {cef}"
            );
        }
        let name = cef_ext(cef, "cs4").expect("cs4");
        assert!(name.starts_with("web\\\\e[31m\\\\x00"), "{name}");
    }
    drop(store);
}
