//! Tests of the HTTP server's bounds over real loopback connections: idle, half-sent,
//! slowloris and kept-alive connections closed, a stalled reader dropped, the connection
//! cap, the body limit, the `Host` check, a token beyond loopback, the unit's open files
//! limit.

use super::tests::{get, repo_file, start_with};
use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Whether the server closes `s` within `within` (EOF or reset; an answer before it is
/// read and ignored).
async fn closed_within(s: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn short_limits() -> HttpConfig {
    HttpConfig {
        listen: "127.0.0.1:0".into(),
        header_timeout_secs: 1,
        idle_timeout_secs: 2,
        max_connections: 8,
        max_body_bytes: 1024,
        ..HttpConfig::default()
    }
}

#[tokio::test]
async fn idle_slow_and_kept_alive_connections_are_closed() {
    let srv = start_with(HttpState::new(Readiness::new(None)), &short_limits()).await;
    let within = std::time::Duration::from_secs(8);
    // Connects and sends nothing.
    let mut silent = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    // Sends half its headers, then a byte a while (slowloris: the header timeout counts
    // from the start, not from the last byte).
    let mut slow = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            if slow.write_all(b"a").await.is_err() {
                return true;
            }
        }
        closed_within(&mut slow, std::time::Duration::from_millis(10)).await
    });
    // A full request on a kept-alive connection, then nothing more.
    let mut kept = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr).as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut silent, within).await,
        "a silent connection stays open"
    );
    assert!(
        closed_within(&mut kept, within).await,
        "an idle kept-alive connection stays open"
    );
    assert!(trickle.await.unwrap(), "a slowloris connection stays open");
    let text = metrics().render();
    assert!(
        text.lines().any(|l| l
            .starts_with("seccomp_watch_http_rejected_total{reason=\"header_timeout\"}")
            && !l.ends_with(" 0")),
        "header timeouts are counted"
    );
    srv.stop().await;
}

/// A backend whose summary is `size` bytes of JSON.
struct Big(usize);

impl ApiBackend for Big {
    fn summary(&self) -> ApiFuture<'_, Value> {
        let n = self.0;
        Box::pin(async move { Ok(json!({ "pad": "x".repeat(n) })) })
    }
    fn events(&self, _q: EventQuery) -> ApiFuture<'_, Value> {
        Box::pin(async { Ok(json!([])) })
    }
    fn alerts(&self, _q: AlertQuery) -> ApiFuture<'_, Value> {
        Box::pin(async { Ok(json!([])) })
    }
}

#[tokio::test]
async fn a_slow_reader_is_closed_after_the_idle_timeout() {
    // More than the server's socket send buffer can hold (tcp_wmem max, 4 MiB here).
    const SIZE: usize = 12 << 20;
    let state = HttpState::new(Readiness::new(None)).with_backend(Arc::new(Big(SIZE)));
    let srv = start_with(state, &short_limits()).await;
    // A small receive window: the answer cannot all sit in socket buffers.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut s = sock.connect(srv.addr).await.unwrap();
    s.write_all(format!("GET /api/v1/summary HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr).as_bytes())
        .await
        .unwrap();
    // Reads nothing for well over the idle timeout (2 s) once the answer has started,
    // then drains: the server gave up.
    let mut first = [0u8; 1];
    s.read_exact(&mut first).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let mut total = 1usize;
    let mut buf = vec![0u8; 1 << 16];
    let closed = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => total += n,
        }
    };
    assert!(closed, "the connection of a reader that stalled stays open");
    assert!(total < SIZE, "the whole answer was sent ({total} bytes)");
    srv.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_get_503_and_the_cap_frees_up() {
    let srv = start_with(HttpState::new(Readiness::new(None)), &short_limits()).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(tokio::net::TcpStream::connect(srv.addr).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The 9th: a 503 when it can be read before the close, else just the close (reset).
    let mut ninth = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        ninth.read_to_end(&mut buf),
    )
    .await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        matches!(r, Ok(Err(_)))
            || (matches!(r, Ok(Ok(_))) && (buf.is_empty() || text.starts_with("HTTP/1.1 503"))),
        "the 9th connection was served: {r:?} {text}"
    );
    drop(held);
    // The held ones are closed by the client; the slots free up at once.
    let mut ok = false;
    for _ in 0..50 {
        if get(srv.addr, "/healthz", None).await.0 == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "the cap never freed up");
    srv.stop().await;
}

async fn raw(addr: SocketAddr, req: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(req).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn bodies_and_hosts_are_checked() {
    let srv = start_with(HttpState::new(Readiness::new(None)), &short_limits()).await;
    let a = srv.addr;
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: {a}\r\nContent-Length: 2048\r\n\r\n{}",
        "x".repeat(2048)
    );
    assert!(raw(a, big.as_bytes()).await.starts_with("HTTP/1.1 413"));
    let small = format!(
        "GET /healthz HTTP/1.1\r\nHost: {a}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd"
    );
    assert!(raw(a, small.as_bytes()).await.starts_with("HTTP/1.1 200"));
    for host in ["evil.example", "evil.example:9717", "127.0.0.1.nip.example"] {
        let r = raw(
            a,
            format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 403"), "{host}: {r}");
    }
    for host in ["localhost:1", "127.0.0.1", "[::1]:9717"] {
        let r = raw(
            a,
            format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{host}: {r}");
    }
    // HTTP/1.0 without Host.
    let r = raw(a, b"GET /healthz HTTP/1.0\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.") && r.contains(" 200 "), "{r}");
    srv.stop().await;
}

#[tokio::test]
async fn beyond_loopback_a_token_is_required() {
    let cfg = HttpConfig {
        listen: "0.0.0.0:0".into(),
        ..HttpConfig::default()
    };
    let e = Server::bind(&cfg).await.unwrap_err();
    assert!(matches!(e, HttpError::NoToken(_)), "{e}");
    assert!(e.to_string().contains("insecure_no_token"), "{e}");
    let cfg = HttpConfig {
        insecure_no_token: true,
        ..cfg
    };
    assert!(Server::bind(&cfg).await.unwrap().is_some());
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("token");
    std::fs::write(&tf, "x\n").unwrap();
    let cfg = HttpConfig {
        insecure_no_token: false,
        token_file: Some(tf.clone()),
        ..cfg
    };
    assert!(Server::bind(&cfg).await.unwrap().is_some());
    // A token file others can read is warned about.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o640)).unwrap();
    let w = crate::config::secret_file_warning("the HTTP token file", &tf).unwrap();
    assert!(w.contains("mode 0640"), "{w}");
    std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(crate::config::secret_file_warning("x", &tf), None);
}

#[test]
fn the_unit_leaves_room_for_the_connection_cap() {
    let unit = std::fs::read_to_string(repo_file("packaging/seccomp-watch.service")).unwrap();
    let limit: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("LimitNOFILE="))
        .expect("the unit sets LimitNOFILE=")
        .trim()
        .parse()
        .expect("a number");
    let cap = HttpConfig::default().max_connections as u64;
    assert!(
        limit >= cap + serve::RESERVED_FDS + 256,
        "LimitNOFILE={limit} leaves too little room beside {cap} connections"
    );
}
