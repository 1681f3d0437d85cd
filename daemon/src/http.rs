//! The daemon's HTTP endpoint (axum): `/metrics` (Prometheus text format), `/healthz`,
//! `/readyz`, and the JSON API `/api/v1/summary`, `/api/v1/events`, `/api/v1/alerts`.
//!
//! `run` binds it before it reports READY (so a taken port fails start-up), then serves it
//! until shutdown:
//! ```text
//! let server = http::Server::bind(&cfg.http).await?;           // None when disabled
//! let state = http::HttpState::new(readiness.clone()).with_backend(api);
//! tokio::spawn(server.run(state, shutdown_signal));
//! ```
//! An optional bearer token (`[http] token_file`) is required on every request; beyond
//! loopback it is required (unless `insecure_no_token = true`). Connections, timeouts,
//! request bodies and `Host` are bounded and checked in [`serve`].
//! The data endpoints ask an [`ApiBackend`] (the store, and the alerts module's list);
//! without one they answer 503.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::HttpConfig;
use crate::metrics::metrics;

pub mod serve;

pub use serve::{HostCheck, Limits, REJECT_REASONS};

/// Errors of binding and serving.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot read the HTTP token file {path}: {source}")]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the HTTP token file {0} is empty")]
    EmptyToken(PathBuf),
    #[error(
        "refusing to serve {0} without a token: anyone who can connect could read every \
         event and alert. Set [http] token_file, listen on 127.0.0.1, or set \
         insecure_no_token = true"
    )]
    NoToken(SocketAddr),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Errors a data endpoint answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The data cannot be had now (503): no store, database busy or broken.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// A boxed future of a data query.
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// `GET /api/v1/events` parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventQuery {
    /// Only events at or after this time (epoch milliseconds).
    pub since_ms: Option<i64>,
    /// Only this workload (its key, as in `seccomp_watch_workload_events_total`).
    pub workload: Option<String>,
    /// Only this syscall (by name).
    pub syscall: Option<String>,
    /// At most this many events, newest first.
    pub limit: u32,
}

/// `GET /api/v1/alerts` parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertQuery {
    pub since_ms: Option<i64>,
    pub limit: u32,
}

/// Default and maximum `limit` of the list endpoints.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 10_000;

/// What the data endpoints read: implemented over the store (and `alerts::list`) by `run`.
/// Results are JSON values, written out as they are.
pub trait ApiBackend: Send + Sync + 'static {
    /// Totals: events by action, top workloads and syscalls, alerts, time range.
    fn summary(&self) -> ApiFuture<'_, Value>;
    /// Events matching `q`, newest first (a JSON array).
    fn events(&self, q: EventQuery) -> ApiFuture<'_, Value>;
    /// Alerts matching `q`, newest first (a JSON array).
    fn alerts(&self, q: AlertQuery) -> ApiFuture<'_, Value>;
}

/// What `/readyz` checks: each expected source is up (`seccomp_watch_source_up` = 1, set
/// by the sources), the database is writable (the writer's last outcome, and a permission
/// probe of the file and its directory), the outbox is not stuck.
#[derive(Debug)]
pub struct Readiness {
    sources: Mutex<Vec<String>>,
    db_path: Option<PathBuf>,
    db_error: Mutex<Option<String>>,
    outbox_stuck_secs: Mutex<f64>,
}

/// One line of the `/readyz` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// The `/readyz` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadyReport {
    pub ready: bool,
    pub checks: Vec<Check>,
}

/// The oldest pending delivery may be this old (seconds) before the outbox counts as stuck.
pub const DEFAULT_OUTBOX_STUCK_SECS: f64 = 900.0;

impl Readiness {
    /// Readiness of a daemon whose database is `db_path` (None: no database check).
    pub fn new(db_path: Option<PathBuf>) -> Arc<Readiness> {
        Arc::new(Readiness {
            sources: Mutex::new(Vec::new()),
            db_path,
            db_error: Mutex::new(None),
            outbox_stuck_secs: Mutex::new(DEFAULT_OUTBOX_STUCK_SECS),
        })
    }

    /// Adds a source (`netlink`, `audit-log`, `kmsg`) that must be up for readiness.
    pub fn expect_source(&self, name: &str) {
        if let Ok(mut s) = self.sources.lock() {
            if !s.iter().any(|x| x == name) {
                s.push(name.to_string());
            }
        }
    }

    /// Records the writer's last outcome: `Some(reason)` after a failed transaction, None
    /// after a successful one.
    pub fn set_db_error(&self, err: Option<String>) {
        if let Ok(mut e) = self.db_error.lock() {
            *e = err;
        }
    }

    /// Sets after how many seconds a pending delivery makes the outbox count as stuck.
    pub fn set_outbox_stuck_after(&self, secs: f64) {
        if let Ok(mut s) = self.outbox_stuck_secs.lock() {
            *s = secs;
        }
    }

    /// Runs every check (cheap: no database query).
    pub fn check(&self) -> ReadyReport {
        let mut checks = Vec::new();
        let m = metrics();
        let sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        for s in sources {
            let up = m.source_up.with_label_values(&[s.as_str()]).get() == 1;
            checks.push(Check {
                check: format!("source {s}"),
                ok: up,
                detail: if up {
                    "running".into()
                } else {
                    "not running".into()
                },
            });
        }
        if let Some(db) = &self.db_path {
            let last = self.db_error.lock().ok().and_then(|e| e.clone());
            let full = m.db_disk_full.get() == 1;
            let (ok, detail) = match (last, db_writable(db)) {
                _ if full => (
                    false,
                    format!(
                        "disk full: writes free space first (reserve given up, retention, the \
                         oldest raw events deleted: {} so far)",
                        m.lost.with_label_values(&["disk_full"]).get()
                    ),
                ),
                (Some(e), _) => (false, format!("last write failed: {e}")),
                (None, Err(e)) => (false, e),
                (None, Ok(())) => (true, "writable".into()),
            };
            checks.push(Check {
                check: "database".into(),
                ok,
                detail,
            });
        }
        let stuck_after = self
            .outbox_stuck_secs
            .lock()
            .map(|s| *s)
            .unwrap_or(DEFAULT_OUTBOX_STUCK_SECS);
        let age = m.outbox_oldest_age_seconds.get();
        let ok = age <= stuck_after;
        checks.push(Check {
            check: "outbox".into(),
            ok,
            detail: if ok {
                format!("{} pending, oldest {age:.0}s", m.outbox_depth.get())
            } else {
                format!("stuck: oldest pending delivery is {age:.0}s old (limit {stuck_after:.0}s)")
            },
        });
        ReadyReport {
            ready: checks.iter().all(|c| c.ok),
            checks,
        }
    }
}

/// Whether this process may write the database `db` (and create its journal next to it):
/// `faccessat(W_OK, AT_EACCESS)` on the file (when it exists) and its directory, which
/// fails on a read-only mount (EROFS), an immutable file or directory (EPERM, even for
/// root) and missing permissions (EACCES).
pub fn db_writable(db: &Path) -> Result<(), String> {
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut paths = vec![dir];
    for suffix in ["", "-wal", "-journal"] {
        let mut p = db.as_os_str().to_os_string();
        p.push(suffix);
        let p = PathBuf::from(p);
        if suffix.is_empty() || p.exists() {
            paths.push(p);
        }
    }
    for p in paths {
        if let Err(e) = access_w(&p) {
            if e.kind() == std::io::ErrorKind::NotFound && p.as_os_str() == db.as_os_str() {
                continue; // created on first write; the directory check covers it
            }
            return Err(format!(
                "{} is not writable: {e}",
                parsers::escape::escape(&p.display().to_string())
            ));
        }
    }
    Ok(())
}

fn access_w(p: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has a NUL byte")
    })?;
    // SAFETY: c is a valid NUL-terminated path.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Shared state of the handlers.
/// More `/metrics` text after the process's own registry (`serve`: figures of the fleet
/// database, read at each scrape).
pub trait ExtraMetrics: Send + Sync + 'static {
    /// Prometheus text format, complete lines.
    fn render(&self) -> Pin<Box<dyn Future<Output = String> + Send + '_>>;
}

#[derive(Clone)]
pub struct HttpState {
    readiness: Arc<Readiness>,
    backend: Option<Arc<dyn ApiBackend>>,
    extra: Option<Arc<dyn ExtraMetrics>>,
}

impl HttpState {
    pub fn new(readiness: Arc<Readiness>) -> HttpState {
        HttpState {
            readiness,
            backend: None,
            extra: None,
        }
    }

    /// Appends `extra` to every `/metrics` answer.
    pub fn with_extra_metrics(mut self, extra: Arc<dyn ExtraMetrics>) -> HttpState {
        self.extra = Some(extra);
        self
    }

    /// Serves the data endpoints from `backend`.
    pub fn with_backend(mut self, backend: Arc<dyn ApiBackend>) -> HttpState {
        self.backend = Some(backend);
        self
    }

    pub fn readiness(&self) -> &Arc<Readiness> {
        &self.readiness
    }
}

/// A bound listener with its token and limits, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    token: Option<String>,
    limits: Limits,
    hosts: HostCheck,
}

impl Server {
    /// Binds `cfg.listen` and reads the token file. None when `listen` is empty (disabled).
    /// An address beyond loopback without a token is refused unless
    /// `insecure_no_token = true`.
    pub async fn bind(cfg: &HttpConfig) -> Result<Option<Server>, HttpError> {
        let addr = cfg.listen.trim();
        if addr.is_empty() {
            return Ok(None);
        }
        let token = match &cfg.token_file {
            Some(p) => Some(read_token(p)?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| HttpError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| HttpError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        if token.is_none() && !local.ip().is_loopback() {
            if !cfg.insecure_no_token {
                return Err(HttpError::NoToken(local));
            }
            tracing::warn!(
                "http: serving {local} without a token (insecure_no_token = true): anyone who \
                 can connect reads every event and alert"
            );
        }
        Ok(Some(Server {
            listener,
            token,
            limits: Limits::from_config(cfg),
            hosts: HostCheck::new(cfg),
        }))
    }

    /// The address actually bound (port 0 picks one).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets the requests in flight finish.
    pub async fn run<F>(self, state: HttpState, shutdown: F) -> Result<(), HttpError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let app = router(state, self.token)
            .layer(middleware::from_fn_with_state(
                self.limits.max_body_bytes,
                serve::limit_body,
            ))
            .layer(middleware::from_fn_with_state(
                Arc::new(self.hosts),
                serve::check_host,
            ));
        serve::serve(self.listener, app, self.limits, shutdown)
            .await
            .map_err(HttpError::Serve)
    }
}

/// Binds and serves `cfg` until `shutdown` (returns at once when HTTP is disabled).
pub async fn serve<F>(cfg: &HttpConfig, state: HttpState, shutdown: F) -> Result<(), HttpError>
where
    F: Future<Output = ()> + Send + 'static,
{
    match Server::bind(cfg).await? {
        Some(s) => s.run(state, shutdown).await,
        None => Ok(()),
    }
}

fn read_token(p: &Path) -> Result<String, HttpError> {
    let text = std::fs::read_to_string(p).map_err(|source| HttpError::Token {
        path: p.to_path_buf(),
        source,
    })?;
    if let Some(w) = crate::config::secret_file_warning("the HTTP token file", p) {
        tracing::warn!("{w}");
    }
    let t = text.trim();
    if t.is_empty() {
        return Err(HttpError::EmptyToken(p.to_path_buf()));
    }
    Ok(t.to_string())
}

/// The routes, with the bearer-token check when `token` is set.
pub fn router(state: HttpState, token: Option<String>) -> Router {
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/summary", get(summary))
        .route("/api/v1/events", get(events))
        .route("/api/v1/alerts", get(alerts))
        .with_state(state);
    match token {
        Some(t) => app.layer(middleware::from_fn_with_state(Arc::new(t), require_token)),
        None => app,
    }
}

async fn require_token(State(token): State<Arc<String>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => {
            let mut r = (StatusCode::UNAUTHORIZED, "bearer token required\n").into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn metrics_handler(State(st): State<HttpState>) -> Response {
    let mut body = metrics().render();
    if let Some(extra) = &st.extra {
        body.push_str(&extra.render().await);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): State<HttpState>) -> Response {
    let report = st.readiness.check();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

fn backend(st: &HttpState) -> Result<&Arc<dyn ApiBackend>, ApiError> {
    st.backend
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("no database attached".into()))
}

async fn summary(State(st): State<HttpState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(backend(&st)?.summary().await?))
}

/// Raw query parameters (all optional strings, validated by [`EventQuery::parse`]).
#[derive(Debug, Default, Deserialize)]
pub struct RawQuery {
    pub since: Option<String>,
    pub workload: Option<String>,
    pub syscall: Option<String>,
    pub limit: Option<String>,
}

impl EventQuery {
    /// Validates the raw parameters; `now_ms` resolves relative `since` values.
    pub fn parse(raw: &RawQuery, now_ms: i64) -> Result<EventQuery, ApiError> {
        Ok(EventQuery {
            since_ms: raw
                .since
                .as_deref()
                .map(|s| parse_since(s, now_ms))
                .transpose()?,
            workload: non_empty(raw.workload.as_deref()),
            syscall: non_empty(raw.syscall.as_deref()),
            limit: parse_limit(raw.limit.as_deref())?,
        })
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse_limit(s: Option<&str>) -> Result<u32, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "limit must be a number from 1 to {MAX_LIMIT}"
            ))),
        },
    }
}

/// `since`: epoch seconds (`1732924481`, `1732924481.5`), an RFC 3339 time, or a duration
/// before now (`30s`, `15m`, `2h`, `7d`).
pub fn parse_since(s: &str, now_ms: i64) -> Result<i64, ApiError> {
    let s = s.trim();
    let bad = || {
        ApiError::BadRequest(format!(
            "since {:?}: expected epoch seconds, an RFC 3339 time or a duration like 15m",
            parsers::escape::escape(s)
        ))
    };
    if let Ok(secs) = s.parse::<f64>() {
        if (0.0..1e13).contains(&secs) {
            return Ok((secs * 1000.0) as i64);
        }
        return Err(bad());
    }
    if let Some((unit_ms, num)) = [
        ("s", 1_000i64),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ]
    .iter()
    .find_map(|(suf, ms)| s.strip_suffix(suf).map(|n| (*ms, n)))
    {
        if let Ok(n) = num.parse::<u32>() {
            return Ok(now_ms.saturating_sub(i64::from(n).saturating_mul(unit_ms)));
        }
    }
    match parsers::time::parse_iso8601_ms(s.as_bytes()) {
        Some((ms, used)) if used == s.len() => Ok(ms),
        _ => Err(bad()),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn events(
    State(st): State<HttpState>,
    q: Result<Query<RawQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(raw) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let q = EventQuery::parse(&raw, now_ms())?;
    Ok(Json(backend(&st)?.events(q).await?))
}

async fn alerts(
    State(st): State<HttpState>,
    q: Result<Query<RawQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(raw) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = now_ms();
    let q = AlertQuery {
        since_ms: raw
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()?,
        limit: parse_limit(raw.limit.as_deref())?,
    };
    Ok(Json(backend(&st)?.alerts(q).await?))
}

/// The data endpoints over a store (a node's SQLite file, or the fleet's PostgreSQL for
/// `serve`): events and summaries through the [`Store`] trait, alerts through the alerts
/// tables (`alerts::db::list_query`; the fleet's grouped by id). Reads only.
///
/// [`Store`]: crate::store::Store
#[derive(Clone)]
pub struct StoreApi {
    store: crate::store::AnyStore,
}

/// Rows per group in `/api/v1/summary`.
pub const SUMMARY_TOP: usize = 20;

impl StoreApi {
    pub fn new(store: crate::store::SqliteStore) -> StoreApi {
        StoreApi {
            store: crate::store::AnyStore::Sqlite(store),
        }
    }

    /// Over either backend.
    pub fn over(store: crate::store::AnyStore) -> StoreApi {
        StoreApi { store }
    }
}

fn store_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("database: {e}"))
}

fn summary_row(by: crate::store::SummaryBy, r: &crate::store::SummaryRow) -> Value {
    use crate::store::SummaryBy;
    let mut m = serde_json::Map::new();
    match by {
        SummaryBy::Workload => {
            m.insert("workload".into(), json!(r.workload));
            m.insert("syscalls".into(), json!(r.syscalls));
        }
        SummaryBy::Syscall => {
            let e = crate::store::call_event(r.arch.unwrap_or(0), r.syscall_nr.unwrap_or(-1));
            m.insert("arch".into(), json!(e.arch_name()));
            m.insert("syscall".into(), json!(e.syscall()));
            m.insert("syscall_nr".into(), json!(e.syscall_nr));
            m.insert("workloads".into(), json!(r.workloads));
        }
        SummaryBy::Action => {
            m.insert("action".into(), json!(r.action.map(|a| a.to_string())));
            m.insert("workloads".into(), json!(r.workloads));
            m.insert("syscalls".into(), json!(r.syscalls));
        }
        SummaryBy::Node => {
            m.insert("node".into(), json!(r.node));
            m.insert("workloads".into(), json!(r.workloads));
            m.insert("syscalls".into(), json!(r.syscalls));
        }
    }
    m.insert("events".into(), json!(r.events));
    m.insert(
        "first_seen".into(),
        json!(parsers::time::rfc3339_ms(r.first_ms)),
    );
    m.insert(
        "last_seen".into(),
        json!(parsers::time::rfc3339_ms(r.last_ms)),
    );
    Value::Object(m)
}

impl ApiBackend for StoreApi {
    fn summary(&self) -> ApiFuture<'_, Value> {
        use crate::store::{Store, SummaryBy};
        Box::pin(async move {
            let stats = self.store.stats().await.map_err(store_error)?;
            let mut out = serde_json::Map::new();
            out.insert("events".into(), json!(stats.events));
            out.insert("db_bytes".into(), json!(stats.db_bytes));
            let mut groups = vec![
                ("by_action", SummaryBy::Action),
                ("top_workloads", SummaryBy::Workload),
                ("top_syscalls", SummaryBy::Syscall),
            ];
            // The fleet's nodes come from its aggregates (cheap); a node's own file would
            // scan its raw events, so it has no `by_node`.
            if self.store.as_postgres().is_some() {
                groups.push(("by_node", SummaryBy::Node));
            }
            for (key, by) in groups {
                let rows = self.store.summary(by).await.map_err(store_error)?;
                let rows: Vec<Value> = rows
                    .iter()
                    .take(SUMMARY_TOP)
                    .map(|r| summary_row(by, r))
                    .collect();
                out.insert(key.into(), Value::Array(rows));
            }
            let losses = self.store.losses().await.map_err(store_error)?;
            out.insert(
                "losses".into(),
                Value::Object(losses.into_iter().map(|(k, v)| (k, json!(v))).collect()),
            );
            Ok(Value::Object(out))
        })
    }

    fn events(&self, q: EventQuery) -> ApiFuture<'_, Value> {
        use crate::store::{Store, SyscallFilter};
        Box::pin(async move {
            let syscall = match q.syscall.as_deref() {
                None => None,
                Some(s) => match s.parse::<i64>() {
                    Ok(n) => Some(SyscallFilter::Number(n)),
                    Err(_)
                        if parsers::arch::ScmpArch::ALL
                            .iter()
                            .any(|a| parsers::syscalls::syscall_number(*a, s).is_some()) =>
                    {
                        Some(SyscallFilter::Name(s.to_string()))
                    }
                    Err(_) => {
                        return Err(ApiError::BadRequest(format!(
                            "unknown syscall {:?}",
                            parsers::escape::escape(s)
                        )))
                    }
                },
            };
            let sq = crate::store::EventQuery {
                since_ms: q.since_ms,
                syscall,
                workload: q.workload.clone(),
                limit: q.limit as usize,
                newest_first: true,
                ..Default::default()
            };
            let page = self.store.events(&sq).await.map_err(store_error)?;
            Ok(Value::Array(
                page.events
                    .iter()
                    .map(|e| Value::Object(crate::query::event_json(&e.item)))
                    .collect(),
            ))
        })
    }

    fn alerts(&self, q: AlertQuery) -> ApiFuture<'_, Value> {
        Box::pin(async move {
            let now = now_ms();
            let pool = match &self.store {
                crate::store::AnyStore::Sqlite(s) => s.pool(),
                crate::store::AnyStore::Postgres(p) => {
                    let rows =
                        crate::store::postgres::fleet_alerts(p, q.since_ms, q.limit as usize)
                            .await
                            .map_err(store_error)?;
                    return Ok(Value::Array(rows.iter().map(|r| r.to_json(now)).collect()));
                }
            };
            let lq = crate::alerts::db::ListQuery {
                status: None,
                since_ms: q.since_ms,
                limit: q.limit as usize,
            };
            let rows = crate::alerts::db::list_query(pool, &lq)
                .await
                .map_err(store_error)?;
            Ok(Value::Array(rows.iter().map(|r| r.to_json(now)).collect()))
        })
    }
}

#[cfg(test)]
mod serve_tests;
#[cfg(test)]
mod tests;
