//! Helpers of the alerting tests (alerts.rs, alerts_delivery.rs): events, attributions
//! and batches, committing them the way the daemon does, a fast dispatcher, and a local
//! HTTP(S) receiver that verifies the HMAC signature of what it gets.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use parsers::{Attribution, ContainerInfo, Event};
use seccomp_watch::alerts::{self, DispatchOptions, Dispatcher, RuleStage};
use seccomp_watch::config::Config;
use seccomp_watch::pipeline::{Item, SourceKind, StoreBatch};
use seccomp_watch::store::{SqliteStore, Store, StoreWriter};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const X86_64: u32 = 0xc000_003e;
pub const LOG: u32 = 0x7ffc_0000;
pub const ERRNO: u32 = 0x0005_0000;
pub const KILL: u32 = 0x8000_0000;
pub const PTRACE: i64 = 101;
pub const GETPPID: i64 = 110;

pub fn event(t: i64, serial: u64, nr: i64, code: u32) -> Event {
    Event {
        time_ms: t,
        serial: Some(serial),
        node: Some("node-1".into()),
        audit_arch: X86_64,
        syscall_nr: nr,
        code,
        pid: 4242,
        uid: Some(0),
        gid: Some(0),
        auid: None,
        ses: None,
        comm: Some("cart".into()),
        exe: Some("/usr/bin/cart".into()),
        subj: None,
        sig: None,
        compat: false,
        ip: None,
        synthetic_key: None,
    }
}

pub fn container_attr(workload: &str, profile: Option<&str>) -> Attribution {
    let c = ContainerInfo {
        id: "0123456789abcdef".repeat(4),
        runtime: "containerd".into(),
        name: Some("api".into()),
        image: Some("registry.example/shop/cart:1.4".into()),
        pod: Some("cart-7d9f8b6c5-x2k4q".into()),
        namespace: Some("shop".into()),
        pod_uid: None,
    };
    Attribution {
        container: Some(c),
        unit: None,
        workload: workload.into(),
        attributed: true,
        profile_hash: profile.map(Into::into),
    }
}

pub fn batch(events: Vec<Event>, attr: &Attribution) -> StoreBatch {
    StoreBatch {
        items: events
            .into_iter()
            .map(|event| Item {
                event,
                source: SourceKind::Netlink,
                attribution: attr.clone(),
            })
            .collect(),
        source: Some(SourceKind::Netlink),
        ..StoreBatch::default()
    }
}

/// Evaluates and commits `batches` the way the daemon does (stage, then one transaction each).
pub async fn commit(store: &SqliteStore, stage: &mut RuleStage, batches: Vec<StoreBatch>) {
    let mut w = store.open_writer().await.expect("writer");
    for mut b in batches {
        stage.apply(&mut b);
        w.write(&[b]).await.expect("write");
    }
    w.close().await.expect("close writer");
}

pub fn fast() -> DispatchOptions {
    DispatchOptions {
        poll: Duration::from_millis(50),
        base_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(200),
        ..DispatchOptions::default()
    }
}

/// Ticks until nothing is pending (or `timeout`).
pub async fn drain(d: &mut Dispatcher, timeout: Duration) -> alerts::TickReport {
    let start = Instant::now();
    loop {
        let r = d.tick().await.expect("tick");
        if r.pending == 0 || start.elapsed() > timeout {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

// ---------------------------------------------------------------- HTTP(S) receiver

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
pub struct Received {
    pub requests: Vec<Request>,
    /// Requests whose signature did not verify.
    pub bad_signatures: usize,
}

/// A minimal HTTP/1.1 server (one request per connection), optionally TLS, that records
/// every request and, with a secret, verifies `X-Seccomp-Watch-Signature` independently.
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Received>>,
    /// HTTP status to answer.
    pub status: Arc<Mutex<u16>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(ts) = t.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let Ok(sig) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&sig).is_ok()
}

pub async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Request> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some(Request {
        path,
        headers,
        body,
    })
}

impl Receiver {
    pub async fn start(
        port: u16,
        secret: Option<&str>,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> Receiver {
        let got = Arc::new(Mutex::new(Received::default()));
        let status = Arc::new(Mutex::new(200u16));
        let mut r = Receiver {
            port,
            got,
            status,
            task: None,
        };
        r.listen(secret.map(|s| s.as_bytes().to_vec()), tls).await;
        r
    }

    async fn listen(
        &mut self,
        secret: Option<Vec<u8>>,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind receiver");
        self.port = listener.local_addr().unwrap().port();
        let got = self.got.clone();
        let status = self.status.clone();
        self.task = Some(tokio::spawn(async move {
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let got = got.clone();
                let status = status.clone();
                let secret = secret.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let handle = |req: Request| {
                        let code = *status.lock().unwrap();
                        let mut g = got.lock().unwrap();
                        if let Some(sec) = &secret {
                            let ok = req
                                .headers
                                .get("x-seccomp-watch-signature")
                                .is_some_and(|h| verify(sec, h, &req.body));
                            if !ok {
                                g.bad_signatures += 1;
                            }
                        }
                        if code == 200 {
                            g.requests.push(req);
                        }
                        format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        )
                    };
                    match acceptor {
                        Some(a) => {
                            let Ok(mut s) = a.accept(sock).await else {
                                return;
                            };
                            if let Some(req) = read_request(&mut s).await {
                                let resp = handle(req);
                                let _ = s.write_all(resp.as_bytes()).await;
                                let _ = s.shutdown().await;
                            }
                        }
                        None => {
                            let mut s = sock;
                            if let Some(req) = read_request(&mut s).await {
                                let resp = handle(req);
                                let _ = s.write_all(resp.as_bytes()).await;
                                let _ = s.shutdown().await;
                            }
                        }
                    }
                });
            }
        }));
    }

    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().requests.clone()
    }

    pub fn ids(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn tls_config(dir: &Path) -> (Arc<tokio_rustls::rustls::ServerConfig>, PathBuf) {
    use tokio_rustls::rustls;
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let ca = dir.join("receiver-ca.pem");
    std::fs::write(&ca, ck.cert.pem()).unwrap();
    let certs = vec![ck.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    (Arc::new(cfg), ca)
}

pub async fn open_store(dir: &Path) -> (SqliteStore, PathBuf) {
    let db = dir.join("sw.db");
    (SqliteStore::open(&db).await.expect("open store"), db)
}

pub fn config(text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|e| panic!("config: {e:#}\n{text}"))
}
