//! Alert sinks: where the dispatcher delivers, one per `[[sinks]]` table.
//!
//! - `webhook`: `POST url` with the JSON payload. With a secret (`secret_file` or
//!   `secret_env`) every request is signed:
//!   `X-Seccomp-Watch-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is the lowercase hex
//!   HMAC-SHA256, keyed with the secret, of the bytes `UNIX_SECONDS` `.` `BODY` (the exact
//!   request body). A receiver recomputes it, compares in constant time, and rejects old
//!   timestamps (replays). `X-Seccomp-Watch-Alert-Id` and `Idempotency-Key` carry the
//!   alert id. A token (`token_file`/`token_env`) is sent as `Authorization: Bearer`;
//!   `headers` adds custom headers.
//! - `splunk_hec`: Splunk HTTP Event Collector, `POST /services/collector/event` (appended
//!   when `url` has no path) with `Authorization: Splunk TOKEN`; the payload is the event,
//!   `index` and `sourcetype` (default `seccomp-watch:alert`) as configured.
//! - `alertmanager`: Prometheus Alertmanager API v2, `POST /api/v2/alerts` (appended when
//!   missing): `alertname` is the rule; labels `severity`, `workload`, `syscall`, `action`,
//!   `node`, `alert_id`; annotations `summary`, `description` (the hint), `count`, ...
//! - `syslog`: RFC 5424 over UDP (one datagram a message) or TCP (octet-counting framing,
//!   RFC 6587), facility authpriv, with a CEF message (ArcSight, QRadar, Sentinel parse
//!   it). UDP cannot confirm delivery: a sent datagram counts as delivered.
//!
//! HTTP sinks never follow redirects: a 3xx answer is a failed delivery (retried with
//! backoff, like any other failure), logged with its `Location`.
//!
//! TLS is rustls with the system's roots, plus `ca_file` (PEM) when set. Secrets are read
//! once at start and never logged (their `Debug` prints `***`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::SinkConfig;
use anyhow::{bail, Context};
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rules::engine::glob::Glob;
use rules::engine::{Alert, Severity};
use serde_json::{json, Value};
use sha2::Sha256;

pub use super::syslog::{cef_message, syslog_message};
use super::syslog::{send_tcp, send_udp};

/// A secret read from a file or the environment.
#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Secret {
    /// From `file` (its content without the final newline) or the variable `env`.
    fn load(what: &str, file: Option<&Path>, env: Option<&str>) -> anyhow::Result<Option<Secret>> {
        let value = match (file, env) {
            (Some(_), Some(_)) => {
                bail!("{what}: give the file or the environment variable, not both")
            }
            (Some(p), None) => {
                let v = std::fs::read_to_string(p)
                    .with_context(|| format!("{what}: cannot read {}", p.display()))?;
                if let Some(w) = crate::config::secret_file_warning(&format!("the {what} file"), p)
                {
                    tracing::warn!("{w}");
                }
                v
            }
            (None, Some(v)) => std::env::var(v)
                .with_context(|| format!("{what}: environment variable {v} is not set"))?,
            (None, None) => return Ok(None),
        };
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.is_empty() {
            bail!("{what} is empty");
        }
        Ok(Some(Secret(value)))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

/// Which alerts a sink takes.
#[derive(Debug, Clone)]
pub struct SinkFilter {
    pub min_severity: Severity,
    /// Rule names (all when empty).
    pub rules: Vec<String>,
    /// Workload globs (all when empty).
    pub workloads: Vec<Glob>,
}

impl SinkFilter {
    pub fn from_config(c: &SinkConfig) -> anyhow::Result<SinkFilter> {
        let min_severity = Severity::parse(&c.min_severity).with_context(|| {
            format!(
                "min_severity {:?}: use info, low, medium, high or critical",
                c.min_severity
            )
        })?;
        let workloads = c
            .workloads
            .iter()
            .map(|w| {
                let w = w.get_ref();
                Glob::new(w).with_context(|| format!("workloads: bad glob {w:?}"))
            })
            .collect::<anyhow::Result<Vec<Glob>>>()?;
        Ok(SinkFilter {
            min_severity,
            rules: c.rules.clone(),
            workloads,
        })
    }

    /// True when the sink takes `alert`. The overflow summary stands for alerts of any rule
    /// and workload: only the severity applies to it.
    pub fn accepts(&self, alert: &Alert) -> bool {
        if alert.severity < self.min_severity {
            return false;
        }
        if alert.is_overflow() {
            return true;
        }
        (self.rules.is_empty() || self.rules.contains(&alert.rule))
            && (self.workloads.is_empty()
                || self.workloads.iter().any(|g| g.matches(&alert.workload)))
    }
}

/// The names of the sinks of `cfgs`, in order: `name`, else the type; repeats get `-2`,
/// `-3`, ... (delivery rows are keyed by these names).
pub fn sink_names(cfgs: &[SinkConfig]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(cfgs.len());
    for c in cfgs {
        let base = c.name.clone().unwrap_or_else(|| c.kind.clone());
        let mut name = base.clone();
        let mut n = 2;
        while out.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        out.push(name);
    }
    out
}

/// Why a delivery failed (retried with backoff). Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Udp,
    Tcp,
}

enum Kind {
    Webhook {
        url: reqwest::Url,
        secret: Option<Secret>,
        token: Option<Secret>,
        headers: HeaderMap,
    },
    Splunk {
        url: reqwest::Url,
        token: Secret,
        index: Option<String>,
        sourcetype: String,
        headers: HeaderMap,
    },
    Alertmanager {
        url: reqwest::Url,
        token: Option<Secret>,
        headers: HeaderMap,
    },
    Syslog {
        proto: Proto,
        address: String,
        tcp: tokio::sync::Mutex<Option<tokio::net::TcpStream>>,
    },
}

/// One configured sink.
pub struct Sink {
    pub name: String,
    pub filter: SinkFilter,
    kind: Kind,
    client: Option<reqwest::Client>,
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Webhook { .. } => "webhook",
            Kind::Splunk { .. } => "splunk_hec",
            Kind::Alertmanager { .. } => "alertmanager",
            Kind::Syslog { .. } => "syslog",
        };
        f.debug_struct("Sink")
            .field("name", &self.name)
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

fn headers_of(c: &SinkConfig) -> anyhow::Result<HeaderMap> {
    let mut h = HeaderMap::new();
    for (k, v) in &c.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .with_context(|| format!("headers: invalid header name {k:?}"))?;
        // The value may be a secret: never in an error message.
        let value = HeaderValue::from_str(v)
            .with_context(|| format!("headers: the value of {k} is not a valid header value"))?;
        h.insert(name, value);
    }
    Ok(h)
}

fn client_of(c: &SinkConfig) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(c.timeout_secs.unwrap_or(10).max(1)))
        .connect_timeout(Duration::from_secs(5))
        // Never follow a redirect: a 302 would turn the alert into a bodiless GET and a 307
        // re-post it, custom headers included, to whatever origin the receiver names.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("seccomp-watch/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &c.ca_file {
        let pem =
            std::fs::read(ca).with_context(|| format!("ca_file: cannot read {}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("ca_file {}: not PEM certificates", ca.display()))?;
        if certs.is_empty() {
            bail!("ca_file {}: no certificate in it", ca.display());
        }
        for cert in certs {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().context("cannot build the HTTP client")
}

fn url_of(c: &SinkConfig) -> anyhow::Result<reqwest::Url> {
    let raw = c.url.as_deref().context("url is required")?;
    let url = reqwest::Url::parse(raw).map_err(|e| anyhow::anyhow!("url: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("url: scheme must be http or https");
    }
    Ok(url)
}

impl Sink {
    /// Builds the sink of one `[[sinks]]` table, named `name` (see [`sink_names`]).
    pub fn from_config(c: &SinkConfig, name: &str) -> anyhow::Result<Sink> {
        let ctx = || format!("sink {name} ({})", c.kind);
        let filter = SinkFilter::from_config(c).with_context(ctx)?;
        let token = Secret::load("token", c.token_file.as_deref(), c.token_env.as_deref())
            .with_context(ctx)?;
        let secret = Secret::load("secret", c.secret_file.as_deref(), c.secret_env.as_deref())
            .with_context(ctx)?;
        let (kind, client) = match c.kind.as_str() {
            "webhook" => {
                let url = url_of(c).with_context(ctx)?;
                (
                    Kind::Webhook {
                        url,
                        secret,
                        token,
                        headers: headers_of(c).with_context(ctx)?,
                    },
                    Some(client_of(c).with_context(ctx)?),
                )
            }
            "splunk_hec" => {
                let mut url = url_of(c).with_context(ctx)?;
                if url.path() == "/" || url.path().is_empty() {
                    url.set_path("/services/collector/event");
                }
                let token = token.or(secret).with_context(|| {
                    format!("{}: splunk_hec needs token_file or token_env", ctx())
                })?;
                let kind = Kind::Splunk {
                    url,
                    token,
                    index: c.index.clone(),
                    sourcetype: c
                        .sourcetype
                        .clone()
                        .unwrap_or_else(|| "seccomp-watch:alert".into()),
                    headers: headers_of(c).with_context(ctx)?,
                };
                (kind, Some(client_of(c).with_context(ctx)?))
            }
            "alertmanager" => {
                let mut url = url_of(c).with_context(ctx)?;
                if !url.path().ends_with("/api/v2/alerts") {
                    let p = format!("{}/api/v2/alerts", url.path().trim_end_matches('/'));
                    url.set_path(&p);
                }
                (
                    Kind::Alertmanager {
                        url,
                        token,
                        headers: headers_of(c).with_context(ctx)?,
                    },
                    Some(client_of(c).with_context(ctx)?),
                )
            }
            "syslog" => {
                let raw = c
                    .address
                    .as_deref()
                    .with_context(|| format!("{}: address is required", ctx()))?;
                let (proto, address) = match raw.split_once("://") {
                    Some(("udp", a)) => (Proto::Udp, a),
                    Some(("tcp", a)) => (Proto::Tcp, a),
                    Some((p, _)) => bail!("{}: address scheme {p:?}: use udp:// or tcp://", ctx()),
                    None => (Proto::Udp, raw),
                };
                if !address.contains(':') {
                    bail!("{}: address {address:?} needs a port (host:port)", ctx());
                }
                (
                    Kind::Syslog {
                        proto,
                        address: address.to_string(),
                        tcp: tokio::sync::Mutex::new(None),
                    },
                    None,
                )
            }
            other => bail!("{}: unknown type {other:?}", ctx()),
        };
        Ok(Sink {
            name: name.to_string(),
            filter,
            kind,
            client,
        })
    }

    /// Builds every sink of a configuration.
    pub fn all_from_config(cfgs: &[SinkConfig]) -> anyhow::Result<Vec<Arc<Sink>>> {
        cfgs.iter()
            .zip(sink_names(cfgs))
            .map(|(c, n)| Sink::from_config(c, &n).map(Arc::new))
            .collect()
    }

    /// Delivers one alert (`payload` is [`Alert::payload`]).
    pub async fn deliver(&self, alert: &Alert, payload: &Value) -> Result<(), DeliveryError> {
        match &self.kind {
            Kind::Webhook {
                url,
                secret,
                token,
                headers,
            } => {
                let body = serde_json::to_vec(payload).map_err(|e| DeliveryError(e.to_string()))?;
                let mut req = self.post(
                    url,
                    headers,
                    token.as_ref().map(|t| format!("Bearer {}", t.expose())),
                    &alert.id,
                );
                if let Some(s) = secret {
                    let t = super::now_ms() / 1000;
                    req = req.header(
                        "X-Seccomp-Watch-Signature",
                        signature(s.expose().as_bytes(), t, &body),
                    );
                }
                self.send(req.body(body)).await
            }
            Kind::Splunk {
                url,
                token,
                index,
                sourcetype,
                headers,
            } => {
                let mut ev = json!({
                    "time": alert.last_seen_ms as f64 / 1000.0,
                    "source": "seccomp-watch",
                    "sourcetype": sourcetype,
                    "event": payload,
                });
                if let Some(h) = &alert.node {
                    ev["host"] = json!(h);
                }
                if let Some(i) = index {
                    ev["index"] = json!(i);
                }
                let body = serde_json::to_vec(&ev).map_err(|e| DeliveryError(e.to_string()))?;
                let req = self.post(
                    url,
                    headers,
                    Some(format!("Splunk {}", token.expose())),
                    &alert.id,
                );
                self.send(req.body(body)).await
            }
            Kind::Alertmanager {
                url,
                token,
                headers,
            } => {
                let body = serde_json::to_vec(&alertmanager_body(alert, payload))
                    .map_err(|e| DeliveryError(e.to_string()))?;
                let req = self.post(
                    url,
                    headers,
                    token.as_ref().map(|t| format!("Bearer {}", t.expose())),
                    &alert.id,
                );
                self.send(req.body(body)).await
            }
            Kind::Syslog {
                proto,
                address,
                tcp,
            } => {
                let msg = syslog_message(alert, super::now_ms());
                match proto {
                    Proto::Udp => send_udp(address, msg.as_bytes()).await,
                    Proto::Tcp => send_tcp(address, tcp, msg.as_bytes()).await,
                }
            }
        }
    }

    fn post(
        &self,
        url: &reqwest::Url,
        headers: &HeaderMap,
        auth: Option<String>,
        id: &str,
    ) -> reqwest::RequestBuilder {
        let client = self.client.clone().unwrap_or_default();
        let mut req = client
            .post(url.clone())
            .headers(headers.clone())
            .header("Content-Type", "application/json")
            .header("X-Seccomp-Watch-Alert-Id", id)
            .header("Idempotency-Key", id);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(), DeliveryError> {
        let resp = req
            .send()
            .await
            .map_err(|e| DeliveryError(describe(&e.without_url())))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
            let location: String = location
                .as_deref()
                .unwrap_or("(no Location)")
                .chars()
                .take(500)
                .collect();
            return Err(DeliveryError(format!(
                "HTTP {status}: redirect to {} not followed (sinks never follow redirects: \
                 set the sink's url to the final address)",
                parsers::escape::escape(&location)
            )));
        }
        let text = resp.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        Err(DeliveryError(format!(
            "HTTP {status}: {}",
            parsers::escape::escape(text.trim())
        )))
    }
}

/// A reqwest error with its causes (TLS and connection errors hide the useful part there).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// The `X-Seccomp-Watch-Signature` value for `body` sent at unix time `t`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The Alertmanager v2 body (a list of one alert).
pub fn alertmanager_body(alert: &Alert, payload: &Value) -> Value {
    let mut labels = serde_json::Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            labels.insert(k.into(), json!(v));
        }
    };
    put("alertname", Some(&alert.rule));
    put("severity", Some(alert.severity.as_str()));
    put("alert_id", Some(&alert.id));
    put("workload", Some(&alert.workload));
    put("syscall", Some(&alert.syscall));
    put("arch", Some(&alert.arch));
    put("action", Some(&alert.action));
    put("node", alert.node.as_deref());
    put(
        "namespace",
        alert
            .container
            .as_ref()
            .and_then(|c| c.namespace.as_deref()),
    );
    put(
        "container",
        alert.container.as_ref().and_then(|c| c.name.as_deref()),
    );
    put("source", Some("seccomp-watch"));
    let s = |k: &str| {
        payload
            .get(k)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_default()
    };
    json!([{
        "labels": labels,
        "annotations": {
            "summary": s("summary"),
            "description": s("hint"),
            "count": alert.count.to_string(),
            "first_seen": s("first_seen"),
            "last_seen": s("last_seen"),
            "container_id": alert.container.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
            "image": alert.container.as_ref().and_then(|c| c.image.clone()).unwrap_or_default(),
            "pod": alert.container.as_ref().and_then(|c| c.pod.clone()).unwrap_or_default(),
            "profile_hash": alert.profile_hash.clone().unwrap_or_default(),
        },
        "startsAt": s("first_seen"),
    }])
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use parsers::ContainerInfo;

    pub(crate) fn alert() -> Alert {
        Alert {
            id: "0123".into(),
            rule: "dangerous-syscall-in-container".into(),
            rule_description: None,
            severity: Severity::Critical,
            node: Some("node-1".into()),
            workload: "k8s:shop/cart/api".into(),
            container: Some(ContainerInfo {
                id: "c1".into(),
                runtime: "containerd".into(),
                name: Some("api".into()),
                image: Some("shop/cart:1".into()),
                ..Default::default()
            }),
            syscall: "ptrace".into(),
            syscall_nr: Some(101),
            arch: "SCMP_ARCH_X86_64".into(),
            action: "SCMP_ACT_ERRNO".into(),
            count: 3,
            first_seen_ms: 1_000,
            last_seen_ms: 2_000,
            window_start_ms: 0,
            window_end_ms: 600_000,
            containers: 1,
            container_ids: vec!["c1".into()],
            samples: vec![rules::engine::Sample {
                time_ms: 1_000,
                pid: 7,
                comm: Some("a=b|c".into()),
                exe: Some("/bin/x".into()),
                uid: Some(0),
                container_id: None,
            }],
            profile_hash: None,
            suppressed_alerts: 0,
        }
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Known answer: `printf '1700000000.{}' | openssl dgst -sha256 -hmac key`.
        assert_eq!(
            signature(b"key", 1_700_000_000, b"{}"),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn alertmanager_labels() {
        let a = alert();
        let b = alertmanager_body(&a, &a.payload(false));
        assert_eq!(
            b[0]["labels"]["alertname"],
            "dangerous-syscall-in-container"
        );
        assert_eq!(b[0]["labels"]["alert_id"], "0123");
        assert_eq!(b[0]["labels"]["severity"], "critical");
        assert_eq!(b[0]["annotations"]["count"], "3");
        assert_eq!(b[0]["startsAt"], "1970-01-01T00:00:01.000Z");
        assert!(
            b[0]["labels"].get("namespace").is_none(),
            "empty labels are left out"
        );
    }

    fn sink_cfg(toml_text: &str) -> SinkConfig {
        let c = crate::config::Config::parse(toml_text).unwrap();
        c.sinks[0].clone()
    }

    #[test]
    fn filters_and_names() {
        let c = sink_cfg("[[sinks]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\nmin_severity = \"high\"\nworkloads = [\"k8s:shop/*\"]\n");
        let f = SinkFilter::from_config(&c).unwrap();
        let mut a = alert();
        assert!(f.accepts(&a));
        a.severity = Severity::Medium;
        assert!(!f.accepts(&a));
        a.severity = Severity::High;
        a.workload = "docker:web".into();
        assert!(!f.accepts(&a));
        a.rule = rules::engine::OVERFLOW_RULE.into();
        assert!(
            f.accepts(&a),
            "the overflow summary ignores rule and workload filters"
        );
        let two = crate::config::Config::parse("[[sinks]]\ntype = \"webhook\"\nurl = \"http://a/\"\n[[sinks]]\ntype = \"webhook\"\nurl = \"http://b/\"\n[[sinks]]\ntype = \"syslog\"\nname = \"siem\"\naddress = \"udp://127.0.0.1:514\"\n").unwrap();
        assert_eq!(sink_names(&two.sinks), ["webhook", "webhook-2", "siem"]);
    }

    #[test]
    fn secrets_are_required_and_never_printed() {
        let c = sink_cfg("[[sinks]]\ntype = \"splunk_hec\"\nurl = \"https://splunk:8088\"\n");
        let e = Sink::from_config(&c, "s").unwrap_err();
        assert!(format!("{e:#}").contains("token"), "{e:#}");
        std::env::set_var("SW_TEST_SPLUNK_TOKEN", "s3cr3t-value");
        let c = sink_cfg("[[sinks]]\ntype = \"splunk_hec\"\nurl = \"https://splunk:8088\"\ntoken_env = \"SW_TEST_SPLUNK_TOKEN\"\n");
        let s = Sink::from_config(&c, "s").unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        match &s.kind {
            Kind::Splunk { url, token, .. } => {
                assert_eq!(url.path(), "/services/collector/event");
                assert_eq!(format!("{token:?}"), "***");
            }
            _ => panic!("not splunk"),
        }
        let c = sink_cfg("[[sinks]]\ntype = \"alertmanager\"\nurl = \"http://am:9093\"\n");
        match Sink::from_config(&c, "am").unwrap().kind {
            Kind::Alertmanager { url, .. } => {
                assert_eq!(url.as_str(), "http://am:9093/api/v2/alerts")
            }
            _ => panic!("not alertmanager"),
        }
        let c = sink_cfg("[[sinks]]\ntype = \"syslog\"\naddress = \"tcp://siem\"\n");
        assert!(Sink::from_config(&c, "x").is_err(), "no port");
    }
}
