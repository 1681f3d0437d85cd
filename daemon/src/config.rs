//! The daemon's TOML configuration: embedded defaults, unknown keys rejected (with the
//! line), validated once at load.
//!
//! Every section is optional; `seccomp-watch run` with no file uses the defaults.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// Default database path.
pub const DEFAULT_DB: &str = "/var/lib/seccomp-watch/seccomp-watch.db";
/// Default audit.log path.
pub const DEFAULT_AUDIT_LOG: &str = "/var/log/audit/audit.log";
/// Default config path (read when it exists and no `--config` is given).
pub const DEFAULT_CONFIG: &str = "/etc/seccomp-watch/config.toml";
/// Default rules path (the built-in rules are used when it does not exist).
pub const DEFAULT_RULES: &str = "/etc/seccomp-watch/rules.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// SQLite database path.
    pub db: PathBuf,
    /// Days raw events are kept (aggregates are kept forever).
    pub retention_days: u32,
    /// This host's name in events that carry no `node=` (default: none).
    pub node: Option<String>,
    /// Which sources to run; empty = choose automatically (see `run`).
    pub sources: Vec<String>,
    pub netlink: NetlinkConfig,
    pub audit_log: AuditLogConfig,
    pub kmsg: KmsgConfig,
    pub store: StoreConfig,
    pub attribution: AttributionConfig,
    pub http: HttpConfig,
    pub metrics: MetricsConfig,
    pub alerts: AlertsConfig,
    /// Rules file; the built-in rules when absent.
    pub rules: Option<PathBuf>,
    /// Alert sinks, one `[[sinks]]` table each.
    pub sinks: Vec<SinkConfig>,
    /// The daemon's own seccomp sandbox: `enforce`, `log` or `off`.
    pub sandbox: String,
    /// Replication into the fleet's central PostgreSQL (off without `postgres`).
    pub fleet: FleetConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: DEFAULT_DB.into(),
            retention_days: 30,
            node: None,
            sources: Vec::new(),
            netlink: NetlinkConfig::default(),
            audit_log: AuditLogConfig::default(),
            kmsg: KmsgConfig::default(),
            store: StoreConfig::default(),
            attribution: AttributionConfig::default(),
            http: HttpConfig::default(),
            metrics: MetricsConfig::default(),
            alerts: AlertsConfig::default(),
            rules: None,
            sinks: Vec::new(),
            sandbox: "off".into(),
            fleet: FleetConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetlinkConfig {
    /// `multicast` (read-only, beside auditd) or `daemon` (register as the audit daemon:
    /// only on hosts without auditd).
    pub mode: String,
    /// Receive buffer in bytes, forced with SO_RCVBUFFORCE.
    pub rcvbuf_bytes: usize,
    /// How often AUDIT_GET status is polled, in seconds.
    pub status_interval_secs: u64,
}

impl Default for NetlinkConfig {
    fn default() -> Self {
        NetlinkConfig {
            mode: "multicast".into(),
            rcvbuf_bytes: 64 << 20,
            status_interval_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditLogConfig {
    pub path: PathBuf,
    /// Poll interval (milliseconds) used besides inotify, as a safety net.
    pub poll_ms: u64,
}

impl Default for AuditLogConfig {
    fn default() -> Self {
        AuditLogConfig {
            path: DEFAULT_AUDIT_LOG.into(),
            poll_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KmsgConfig {
    /// Path of the kernel log device.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Events per transaction at most.
    pub batch_size: usize,
    /// A batch is written at the latest this long after its first event (milliseconds).
    pub flush_ms: u64,
    /// Capacity of the bounded channel in front of the writer (batches).
    pub queue_batches: usize,
    /// Disk space kept in reserve beside the database (`<db>-reserve`), given up when the
    /// disk is full so that retention and deletes can run (0: none).
    pub reserve_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            batch_size: 10_000,
            flush_ms: 200,
            queue_batches: 8,
            reserve_bytes: 8 << 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributionConfig {
    pub enabled: bool,
    /// Follow fork/exec/exit with the netlink proc connector (needs CAP_NET_ADMIN).
    pub proc_connector: bool,
    /// Where runtimes keep their state (OCI state and config files).
    pub runc_roots: Vec<PathBuf>,
    pub containerd_root: PathBuf,
    /// containerd's metadata database (read-only): images and labels of `ctr`/nerdctl
    /// containers.
    pub containerd_db: PathBuf,
    pub docker_root: PathBuf,
    pub podman_root: PathBuf,
    pub crio_root: PathBuf,
    /// libpod's state database (Podman's container labels and pod names).
    pub podman_db: PathBuf,
    /// Where a rootless Podman user's container state is: `{home}` (from /etc/passwd) and
    /// `{uid}` are replaced; each is a `overlay-containers` directory, whose files must be
    /// owned by that user.
    pub rootless_podman_roots: Vec<String>,
    /// How containers outside Kubernetes and compose are keyed: `image` (the image
    /// repository, so that every run of an image is one workload) or `name`.
    pub container_workload: parsers::workload::ContainerKeying,
    /// Root of /proc (tests may point it elsewhere).
    pub proc_root: PathBuf,
}

impl Default for AttributionConfig {
    fn default() -> Self {
        AttributionConfig {
            enabled: true,
            proc_connector: true,
            runc_roots: vec![
                "/run/runc".into(),
                "/run/docker/runtime-runc/moby".into(),
                "/run/containerd/runc/k8s.io".into(),
                "/run/crun".into(),
            ],
            containerd_root: "/run/containerd/io.containerd.runtime.v2.task".into(),
            containerd_db: "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db".into(),
            docker_root: "/var/lib/docker/containers".into(),
            podman_root: "/run/containers/storage/overlay-containers".into(),
            crio_root: "/var/lib/containers/storage/overlay-containers".into(),
            podman_db: "/var/lib/containers/storage/libpod/bolt_state.db".into(),
            rootless_podman_roots: vec![
                "{home}/.local/share/containers/storage/overlay-containers".into(),
                "/run/user/{uid}/containers/overlay-containers".into(),
            ],
            container_workload: parsers::workload::ContainerKeying::Image,
            proc_root: "/proc".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address of /metrics, /healthz, /readyz and the JSON API; empty disables.
    pub listen: String,
    /// File holding a bearer token required on every request (optional; required beyond
    /// loopback unless `insecure_no_token`).
    pub token_file: Option<PathBuf>,
    /// Listen beyond loopback without a token (anyone who can connect reads everything).
    pub insecure_no_token: bool,
    /// Names accepted in `Host` besides IP literals, `localhost`, this host's name and the
    /// listen address's (DNS rebinding: a web page cannot use them).
    pub allowed_hosts: Vec<String>,
    /// Connections open at once at most; the next one gets a 503 and is closed.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (from connecting, or after the
    /// previous response on a kept-alive connection).
    pub header_timeout_secs: u64,
    /// Seconds a connection may go without a byte moving either way.
    pub idle_timeout_secs: u64,
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:9717".into(),
            token_file: None,
            insecure_no_token: false,
            allowed_hosts: Vec::new(),
            max_connections: 64,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_body_bytes: 64 << 10,
        }
    }
}

/// A warning when the secret file `path` (a token, an HMAC key) can be read by its group
/// or by others; `None` when it cannot (or its mode cannot be read: reading it will say).
pub fn secret_file_warning(what: &str, path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{what} {} is readable by group or others (mode {:04o}): chmod 600 it",
            parsers::escape::escape(&path.display().to_string()),
            mode & 0o7777
        )
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Attributed workloads (containers, pods, units) with a label of their own at most;
    /// the rest are counted under `other`.
    pub workload_series_limit: usize,
    /// `exe:` workloads (executables, and every unresolved record) with a label of their
    /// own at most, on a budget of their own; the rest under `exe:other`.
    pub exe_workload_limit: usize,
    /// (syscall, action) series per workload label at most; the rest under syscall `other`.
    pub series_per_workload_limit: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        let d = crate::metrics::LabelLimits::default();
        MetricsConfig {
            workload_series_limit: d.workloads,
            exe_workload_limit: d.exe_workloads,
            series_per_workload_limit: d.series_per_workload,
        }
    }
}

impl MetricsConfig {
    /// The label limits of [`crate::metrics::Metrics::set_label_limits`].
    pub fn label_limits(&self) -> crate::metrics::LabelLimits {
        crate::metrics::LabelLimits {
            workloads: self.workload_series_limit,
            exe_workloads: self.exe_workload_limit,
            series_per_workload: self.series_per_workload_limit,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Roll-up window in seconds: one alert per (rule, workload, syscall, action) per window.
    pub window_secs: u64,
    /// Alerts per window at most; beyond, one summary alert counts the overflow.
    pub max_alerts_per_window: u64,
    /// Learning window per workload for `novel` (hours).
    pub learning_hours: u64,
    /// Deliveries older than this are marked dead (hours).
    pub max_age_hours: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            window_secs: 600,
            max_alerts_per_window: 1000,
            learning_hours: 24,
            max_age_hours: 24,
        }
    }
}

/// One `[[sinks]]` table. The type's own keys are checked by the sink when built.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `webhook`, `splunk_hec`, `alertmanager` or `syslog`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Name used in logs and metrics (default: the type).
    pub name: Option<String>,
    pub url: Option<String>,
    /// For syslog: `udp://host:port` or `tcp://host:port`.
    pub address: Option<String>,
    #[serde(default = "default_min_severity")]
    pub min_severity: String,
    /// Only alerts of these rules (all when empty).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Only alerts of these workloads (globs; all when empty). Spanned: a glob that cannot
    /// match any workload key is an error with its line.
    #[serde(default)]
    pub workloads: Vec<toml::Spanned<String>>,
    /// HMAC secret (webhook), token (splunk_hec, bearer): from a file or an env variable.
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub token_env: Option<String>,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// PEM file of a CA to trust besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Request timeout in seconds.
    pub timeout_secs: Option<u64>,
    /// Splunk HEC index and sourcetype.
    pub index: Option<String>,
    pub sourcetype: Option<String>,
}

fn default_min_severity() -> String {
    "low".into()
}

impl Config {
    /// Loads `path`, or the defaults (plus `/etc/seccomp-watch/config.toml` when it exists)
    /// when `path` is none. Errors name the file and the line.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default())
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read config {}", path.display()))
            }
        };
        let cfg =
            Config::parse(&text).with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let cfg: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!(toml_error(text, &e)))?;
        cfg.validate(text)?;
        Ok(cfg)
    }

    fn validate(&self, text: &str) -> anyhow::Result<()> {
        for s in &self.sources {
            if !matches!(s.as_str(), "netlink" | "audit-log" | "kmsg") {
                bail!("sources: unknown source {s:?} (netlink, audit-log, kmsg)");
            }
        }
        if !matches!(self.netlink.mode.as_str(), "multicast" | "daemon") {
            bail!(
                "netlink.mode must be \"multicast\" or \"daemon\", not {:?}",
                self.netlink.mode
            );
        }
        if !matches!(self.sandbox.as_str(), "enforce" | "log" | "off") {
            bail!(
                "sandbox must be \"enforce\", \"log\" or \"off\", not {:?}",
                self.sandbox
            );
        }
        if self.http.max_connections == 0
            || self.http.header_timeout_secs == 0
            || self.http.idle_timeout_secs == 0
        {
            bail!(
                "http.max_connections, header_timeout_secs and idle_timeout_secs must be positive"
            );
        }
        if self.store.batch_size == 0 || self.store.queue_batches == 0 {
            bail!("store.batch_size and store.queue_batches must be positive");
        }
        self.fleet.validate()?;
        for (i, s) in self.sinks.iter().enumerate() {
            if !matches!(
                s.kind.as_str(),
                "webhook" | "splunk_hec" | "alertmanager" | "syslog"
            ) {
                bail!(
                    "sinks[{i}]: unknown type {:?} (webhook, splunk_hec, alertmanager, syslog)",
                    s.kind
                );
            }
            if !matches!(
                s.min_severity.as_str(),
                "info" | "low" | "medium" | "high" | "critical"
            ) {
                bail!("sinks[{i}]: min_severity must be info, low, medium, high or critical");
            }
            for w in &s.workloads {
                let line = text[..w.span().start.min(text.len())].matches('\n').count() + 1;
                match rules::engine::glob::Glob::new(w.get_ref()) {
                    Err(e) => bail!("line {line}: sinks[{i}].workloads: bad glob {:?}: {e}", w.get_ref()),
                    Ok(g) if !g.can_match_workload_key() => bail!(
                        "line {line}: sinks[{i}].workloads: glob {:?} cannot match any workload key (keys look like {})",
                        w.get_ref(),
                        rules::engine::glob::WORKLOAD_KEY_FORMS
                    ),
                    Ok(_) => {}
                }
            }
            if s.kind == "syslog" && s.address.is_none() || s.kind != "syslog" && s.url.is_none() {
                bail!(
                    "sinks[{i}] ({}): needs {}",
                    s.kind,
                    if s.kind == "syslog" { "address" } else { "url" }
                );
            }
        }
        Ok(())
    }
}

/// `[fleet]`: replication of the local database into a central PostgreSQL
/// ([`crate::fleet`]).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// `postgres://user@host:port/db?...`; replication is off without it. A password in
    /// it works but belongs in `password_file` or `password_env` (never logged either way).
    pub postgres: Option<String>,
    /// File holding the password (its first line).
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full` (default: the
    /// URL's `sslmode`, else `prefer`).
    pub sslmode: Option<String>,
    /// PEM file of the CA that signed the server's certificate (for verify-ca/verify-full).
    pub ca_file: Option<PathBuf>,
    /// This node's name in the fleet (default: the top-level `node`, else the host name).
    pub node: Option<String>,
    /// Days of raw events PostgreSQL keeps: older day partitions are dropped (0: never).
    pub retention_days: u32,
    /// Events per replication transaction at most.
    pub batch_size: usize,
    /// How often the replicator looks for new events when it has caught up (milliseconds).
    pub interval_ms: u64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            postgres: None,
            password_file: None,
            password_env: None,
            sslmode: None,
            ca_file: None,
            node: None,
            retention_days: 30,
            batch_size: 50_000,
            interval_ms: 500,
        }
    }
}

// The URL may hold a password: never print it.
impl std::fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetConfig")
            .field(
                "postgres",
                &self.postgres.as_deref().map(crate::fleet::conn::redact_url),
            )
            .field("password_file", &self.password_file)
            .field("password_env", &self.password_env)
            .field("sslmode", &self.sslmode)
            .field("ca_file", &self.ca_file)
            .field("node", &self.node)
            .field("retention_days", &self.retention_days)
            .field("batch_size", &self.batch_size)
            .field("interval_ms", &self.interval_ms)
            .finish()
    }
}

impl FleetConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.postgres {
            if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                bail!("fleet.postgres must be a postgres:// URL");
            }
        }
        if let Some(m) = &self.sslmode {
            crate::fleet::conn::parse_sslmode(m)?;
        }
        if self.password_file.is_some() && self.password_env.is_some() {
            bail!("fleet: password_file and password_env are exclusive");
        }
        if self.batch_size == 0 || self.interval_ms == 0 {
            bail!("fleet.batch_size and fleet.interval_ms must be positive");
        }
        Ok(())
    }
}

/// A TOML error as `line N: message`.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", e.message())
        }
        None => e.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.db, PathBuf::from(DEFAULT_DB));
        assert_eq!(c.retention_days, 30);
        assert!(c.netlink.rcvbuf_bytes >= 32 << 20);
    }

    #[test]
    fn a_sink_workload_glob_that_matches_no_key_is_rejected_with_the_line() {
        let text = "[[sinks]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nworkloads = [\n  \"k8s:prod/*\",\n  \"k8s/prod/*\",\n]\n";
        let msg = format!("{:#}", Config::parse(text).unwrap_err());
        assert!(
            msg.contains("line 6") && msg.contains("\"k8s/prod/*\" cannot match any workload key"),
            "{msg}"
        );
        let c = Config::parse(&text.replace("  \"k8s/prod/*\",\n", "")).unwrap();
        assert_eq!(c.sinks[0].workloads[0].get_ref(), "k8s:prod/*");
        let msg = format!(
            "{:#}",
            Config::parse(&text.replace("k8s/prod/*", "web-[0-9")).unwrap_err()
        );
        assert!(msg.contains("line 6") && msg.contains("bad glob"), "{msg}");
    }

    /// The example config, with its commented sink tables switched on, loads: its globs
    /// match workload keys.
    #[test]
    fn the_example_config_with_its_sinks_enabled_loads() {
        let text = include_str!("../../packaging/config.toml");
        // Uncomment `# [[sinks]]` tables and their `# key = value` lines, up to the next
        // commented table of another kind or uncommented line.
        let mut in_sinks = false;
        let mut on = Vec::new();
        for l in text.lines() {
            let rest = l.strip_prefix("# ");
            match rest {
                Some(r) if r.starts_with("[[sinks]]") => {
                    in_sinks = true;
                    on.push(r.to_string());
                    continue;
                }
                Some(r) if r.starts_with('[') => in_sinks = false,
                None if !l.starts_with('#') && !l.trim().is_empty() => in_sinks = false,
                _ => {}
            }
            let key_line = rest
                .and_then(|r| r.split_once(" = "))
                .is_some_and(|(k, _)| !k.is_empty() && !k.contains(' ') && !k.starts_with('#'));
            match rest {
                Some(r) if in_sinks && key_line => {
                    on.push(r.split("   #").next().unwrap().to_string())
                }
                _ => on.push(l.to_string()),
            }
        }
        let on = on.join("\n");
        let c = Config::parse(&on).unwrap_or_else(|e| panic!("{e:#}\n{on}"));
        assert!(c.sinks.len() >= 4, "{}", c.sinks.len());
        assert!(c.sinks.iter().any(|s| !s.workloads.is_empty()));
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_line() {
        let e =
            Config::parse("db = \"/tmp/x.db\"\n\n[netlink]\nmode = \"multicast\"\nrcvbuf = 5\n")
                .unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("line 5"), "{msg}");
        assert!(msg.contains("rcvbuf"), "{msg}");
    }

    #[test]
    fn invalid_values_are_rejected() {
        assert!(Config::parse("[netlink]\nmode = \"spy\"\n").is_err());
        assert!(Config::parse("sources = [\"tcp\"]\n").is_err());
        assert!(Config::parse("[[sinks]]\ntype = \"webhook\"\n").is_err());
    }
}
