//! Serving HTTP connections within bounds: at most `http.max_connections` at once (the
//! next one gets a 503 and is closed, so file descriptors stay far below the process's
//! limit and the sources can still open files), the request head within
//! `http.header_timeout_secs` of the connection or of the previous response (idle and
//! half-sent connections are closed: the bearer-token check cannot help before the headers
//! are read, the timeouts can), no connection without a byte moving either way for
//! `http.idle_timeout_secs` (slow readers), request bodies of at most `http.max_body_bytes`
//! (413), and a `Host` that names this server (403 otherwise: DNS rebinding).
//!
//! Each connection is hyper's HTTP/1.1 server with its header-read timer; the router is
//! axum's. Refusals are counted in `seccomp_watch_http_rejected_total{reason}`.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::HttpConfig;
use crate::metrics::metrics;

/// File descriptors kept free for everything else (sources, database, sinks).
pub const RESERVED_FDS: u64 = 256;

/// The bounds of the HTTP server (from `[http]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_body_bytes: usize,
}

impl Limits {
    /// The limits of `cfg`, the connection cap lowered when the process's open files
    /// limit leaves less room (with a warning).
    pub fn from_config(cfg: &HttpConfig) -> Limits {
        let mut max_connections = cfg.max_connections.max(1);
        if let Some(soft) = nofile_soft_limit() {
            let room = soft.saturating_sub(RESERVED_FDS).max(1);
            if max_connections as u64 > room {
                tracing::warn!(
                    "http.max_connections = {max_connections} does not fit the open files limit \
                     ({soft}, {RESERVED_FDS} kept for the rest): using {room} (raise LimitNOFILE=)"
                );
                max_connections = room as usize;
            }
        }
        Limits {
            max_connections,
            header_timeout: Duration::from_secs(cfg.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(cfg.idle_timeout_secs.max(1)),
            max_body_bytes: cfg.max_body_bytes,
        }
    }
}

fn nofile_soft_limit() -> Option<u64> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a valid rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
        return None;
    }
    (l.rlim_cur != libc::RLIM_INFINITY).then_some(l.rlim_cur)
}

/// Counts a refusal in `seccomp_watch_http_rejected_total{reason}`.
fn rejected(reason: &'static str) {
    metrics().http_rejected.with_label_values(&[reason]).inc();
}

/// Every `reason` of `seccomp_watch_http_rejected_total`.
pub const REJECT_REASONS: [&str; 5] = [
    "connection_limit",
    "header_timeout",
    "idle_timeout",
    "host",
    "body_too_large",
];

/// Which `Host` headers name this server: any IP literal (a rebinding page can only send
/// its own DNS name), `localhost`, this host's name, the listen address's name, and
/// `http.allowed_hosts`; the port is not compared. A request without `Host` (HTTP/1.0) is
/// served.
#[derive(Debug, Clone, Default)]
pub struct HostCheck {
    names: HashSet<String>,
}

impl HostCheck {
    pub fn new(cfg: &HttpConfig) -> HostCheck {
        let mut names: HashSet<String> = HashSet::new();
        names.insert("localhost".into());
        if let Some(h) = hostname() {
            if let Some((short, _)) = h.split_once('.') {
                names.insert(short.to_string());
            }
            names.insert(h);
        }
        if let Some(h) = host_part(cfg.listen.trim()) {
            names.insert(h);
        }
        for n in &cfg.allowed_hosts {
            if let Some(h) = host_part(n.trim()) {
                names.insert(h);
            }
        }
        names.retain(|n| !n.is_empty());
        HostCheck { names }
    }

    /// Whether a request with this `Host` header may be served.
    pub fn allows(&self, host: Option<&HeaderValue>) -> bool {
        let Some(v) = host else { return true };
        let Ok(s) = v.to_str() else { return false };
        let s = s.trim();
        if s.starts_with('[') {
            // An IPv6 literal, `[::1]:9717`.
            return s
                .split_once(']')
                .is_some_and(|(ip, _)| ip[1..].parse::<std::net::Ipv6Addr>().is_ok());
        }
        match host_part(s) {
            Some(h) if h.parse::<IpAddr>().is_ok() => true,
            Some(h) => self.names.contains(&h),
            None => false,
        }
    }
}

/// The host of `host[:port]`, lower case, without a final dot; an IPv6 literal without
/// its brackets.
fn host_part(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').map(|(ip, _)| ip.to_string());
    }
    let host = match s.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => s,
    };
    if host.contains(':') {
        return None;
    }
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    (!s.is_empty()).then_some(s)
}

/// The middleware refusing a `Host` that does not name this server.
pub async fn check_host(State(hosts): State<Arc<HostCheck>>, req: Request, next: Next) -> Response {
    if hosts.allows(req.headers().get(header::HOST)) {
        return next.run(req).await;
    }
    rejected("host");
    (
        StatusCode::FORBIDDEN,
        [(header::CONNECTION, "close")],
        "this Host is not served here (add it to [http] allowed_hosts)\n",
    )
        .into_response()
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The middleware refusing a body larger than the limit (by `Content-Length`, before it is
/// read) and capping a chunked one (reading past the limit is an error).
pub async fn limit_body(State(max): State<usize>, req: Request, next: Next) -> Response {
    if content_length(req.headers()).is_some_and(|n| n > max as u64) {
        rejected("body_too_large");
        // Closing: the unread body is not drained.
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(header::CONNECTION, "close")],
            format!("request body larger than {max} bytes\n"),
        )
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let body = axum::body::Body::new(http_body_util::Limited::new(body, max));
    next.run(Request::from_parts(parts, body)).await
}

/// Milliseconds since `base`, for the activity clock.
fn since(base: Instant) -> u64 {
    base.elapsed().as_millis() as u64
}

/// A TCP stream that notes when bytes last moved (either way).
struct Tracked {
    inner: TcpStream,
    base: Instant,
    last: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        self.last.store(since(self.base), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Decrements the counter when dropped.
struct Gauge(Arc<AtomicUsize>);

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One open connection: counted in `seccomp_watch_http_connections` until dropped.
struct OpenConn(Arc<AtomicUsize>);

impl OpenConn {
    fn new(open: &Arc<AtomicUsize>) -> OpenConn {
        let n = open.fetch_add(1, Ordering::Relaxed) + 1;
        metrics().http_connections.set(n as i64);
        OpenConn(open.clone())
    }
}

impl Drop for OpenConn {
    fn drop(&mut self) {
        let n = self.0.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        metrics().http_connections.set(n as i64);
    }
}

/// Accepts and serves connections on `listener` until `shutdown`; then stops accepting,
/// lets the requests in flight finish (at most 5 s) and closes the rest.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let open = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_accept_error: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and the like: say so (at most every 10 s), back off a little.
                    let due = match last_accept_error {
                        Some(t) => t.elapsed() > Duration::from_secs(10),
                        None => true,
                    };
                    if due {
                        tracing::warn!("http: accept failed: {e}");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if open.load(Ordering::Relaxed) >= limits.max_connections {
            rejected("connection_limit");
            // Best effort, never waiting: the client learns why, then the socket closes.
            let _ = stream.try_write(
                b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 21\r\n\r\ntoo many connections\n",
            );
            drop(stream);
            continue;
        }
        // Reap the finished ones (their results are nothing).
        while tasks.try_join_next().is_some() {}
        let guard = OpenConn::new(&open);
        tasks.spawn(connection(
            stream,
            peer,
            app.clone(),
            limits,
            stop.clone(),
            guard,
        ));
    }
    drop(listener);
    stop.cancel();
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        tracing::debug!("http: connections still open at shutdown were closed");
        tasks.abort_all();
    }
    Ok(())
}

/// Serves one connection within the limits.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    stop: CancellationToken,
    _open: OpenConn,
) {
    let _ = stream.set_nodelay(true);
    let base = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicUsize::new(0));
    let io = hyper_util::rt::TokioIo::new(Tracked {
        inner: stream,
        base,
        last: last.clone(),
    });
    let svc_busy = busy.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        svc_busy.fetch_add(1, Ordering::Relaxed);
        let done = Gauge(svc_busy.clone());
        let app = app.clone();
        async move {
            let r = app.oneshot(req.map(axum::body::Body::new)).await;
            drop(done);
            r
        }
    });
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    let conn = b.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval((limits.idle_timeout / 4).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    if e.is_timeout() {
                        rejected("header_timeout");
                    } else {
                        tracing::debug!(%peer, "http connection: {e}");
                    }
                }
                break;
            }
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick() => {
                let quiet = since(base).saturating_sub(last.load(Ordering::Relaxed));
                if busy.load(Ordering::Relaxed) == 0 && quiet >= limits.idle_timeout.as_millis() as u64 {
                    rejected("idle_timeout");
                    break; // dropping the connection closes the socket
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(extra: &[&str]) -> HostCheck {
        HostCheck::new(&HttpConfig {
            listen: "127.0.0.1:9717".into(),
            allowed_hosts: extra.iter().map(|s| s.to_string()).collect(),
            ..HttpConfig::default()
        })
    }

    #[test]
    fn host_names() {
        let c = check(&["Metrics.Example.Com", "prom:9090"]);
        let ok = |h: &str| c.allows(Some(&HeaderValue::from_str(h).unwrap()));
        for good in [
            "127.0.0.1:9717",
            "127.0.0.1",
            "10.1.2.3:9717",
            "[::1]:9717",
            "[fe80::1]",
            "localhost:9717",
            "LOCALHOST.",
            "metrics.example.com:443",
            "prom",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "evil.example:9717",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "metrics.example.com.evil",
            "[not-ip]:1",
            "a:b:c",
            "",
        ] {
            assert!(!ok(bad), "{bad}");
        }
        assert!(c.allows(None), "HTTP/1.0 without Host");
    }
}
