//! The PostgreSQL connection of the fleet: the URL of `[fleet] postgres` with the password
//! from `password_file` or `password_env` (never logged: URLs are shown redacted), TLS
//! with `sslmode` and a CA file.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::ConnectOptions;

use crate::config::FleetConfig;

/// Where and how to connect to the fleet database.
#[derive(Clone, Default)]
pub struct PgTarget {
    pub url: String,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub sslmode: Option<String>,
    pub ca_file: Option<PathBuf>,
}

impl PgTarget {
    /// The target of a `[fleet]` section (None without `postgres`).
    pub fn from_config(cfg: &FleetConfig) -> Option<PgTarget> {
        Some(PgTarget {
            url: cfg.postgres.clone()?,
            password_file: cfg.password_file.clone(),
            password_env: cfg.password_env.clone(),
            sslmode: cfg.sslmode.clone(),
            ca_file: cfg.ca_file.clone(),
        })
    }

    /// The URL with any password replaced by `***` (for logs and errors).
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    /// The connection options (reads the password file or variable).
    pub fn options(&self) -> anyhow::Result<PgConnectOptions> {
        let mut o = PgConnectOptions::from_str(&self.url).map_err(|e| {
            anyhow::anyhow!(
                "fleet.postgres {}: {}",
                self.redacted(),
                scrub(&e.to_string(), &self.url)
            )
        })?;
        if let Some(f) = &self.password_file {
            o = o.password(&read_password(f)?);
        } else if let Some(v) = &self.password_env {
            let p = std::env::var(v)
                .with_context(|| format!("fleet.password_env: variable {v} is not set"))?;
            o = o.password(p.trim_end_matches(['\r', '\n']));
        }
        if let Some(m) = &self.sslmode {
            o = o.ssl_mode(parse_sslmode(m)?);
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                bail!("fleet.ca_file {}: no such file", ca.display());
            }
            o = o.ssl_root_cert(ca);
        }
        Ok(o.application_name("seccomp-watch")
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(5)))
    }

    /// A small pool (the replicator uses one connection at a time).
    pub async fn pool(&self, max: u32) -> anyhow::Result<PgPool> {
        let o = self.options()?;
        PgPoolOptions::new()
            .max_connections(max)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(300))
            .connect_with(o)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to {}: {}",
                    self.redacted(),
                    scrub(&e.to_string(), &self.url)
                )
            })
    }
}

/// The first line of a password file; warns when others may read it.
fn read_password(path: &Path) -> anyhow::Result<String> {
    if let Some(w) = crate::config::secret_file_warning("fleet.password_file", path) {
        tracing::warn!("{w}");
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read fleet.password_file {}", path.display()))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// An `sslmode` value.
pub fn parse_sslmode(m: &str) -> anyhow::Result<PgSslMode> {
    PgSslMode::from_str(m).map_err(|_| {
        anyhow::anyhow!(
            "fleet.sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not {:?}",
            parsers::escape::escape(m)
        )
    })
}

/// A postgres URL with its password (userinfo or `password=` parameter) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let auth_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..auth_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// An error text with the URL's password, should it appear, replaced.
pub fn scrub_text(text: &str, url: &str) -> String {
    scrub(text, url)
}

fn scrub(text: &str, url: &str) -> String {
    let mut t = text.replace(url, &redact_url(url));
    if let Some(pw) = url_password(url) {
        if pw.len() >= 4 {
            t = t.replace(&pw, "***");
        }
    }
    t
}

fn url_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let auth = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &auth[..auth.rfind('@')?];
    Some(userinfo.split_once(':')?.1.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://sw:s3cret@db:5432/fleet?sslmode=verify-full"),
            "postgres://sw:***@db:5432/fleet?sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgres://db/fleet?user=sw&password=s3cret"),
            "postgres://db/fleet?user=sw&password=***"
        );
        assert_eq!(
            redact_url("postgres://sw@db/fleet"),
            "postgres://sw@db/fleet"
        );
        assert_eq!(
            scrub("bad s3cret here", "postgres://sw:s3cret@db/x"),
            "bad *** here"
        );
    }

    #[test]
    fn sslmodes() {
        assert!(parse_sslmode("verify-full").is_ok());
        assert!(parse_sslmode("sometimes").is_err());
    }
}
