//! The doctor's checks of this configuration's set-up: the configuration and rules files,
//! which sources would run, the database path, the container runtimes' state
//! directories, the sandbox profile and the HTTP settings.

use std::path::{Path, PathBuf};

use super::report::{f, Level, Report};
use crate::config::{Config, DEFAULT_CONFIG, DEFAULT_DB, DEFAULT_RULES};
use crate::sources;

pub(super) fn check_config(r: &mut Report, path: Option<&Path>) -> Config {
    let shown = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let exists = shown.exists();
    match Config::load(path) {
        Ok(c) if exists => {
            r.push(f(
                "config",
                Level::Ok,
                format!("{} is valid", shown.display()),
                None,
            ));
            c
        }
        Ok(c) => {
            r.push(f(
                "config",
                Level::Info,
                format!("{} does not exist: using the defaults", shown.display()),
                None,
            ));
            c
        }
        Err(e) => {
            r.push(f(
                "config",
                Level::Fatal,
                format!("{e:#}"),
                Some("correct the file (the example in /usr/share/doc/seccomp-watch/examples/config.toml documents every key)"),
            ));
            Config::default()
        }
    }
}

pub(super) fn check_rules(r: &mut Report, cfg: &Config) {
    let (path, required) = match &cfg.rules {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_RULES), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            r.push(f(
                "rules",
                Level::Info,
                format!(
                    "{} does not exist: using the built-in rules",
                    path.display()
                ),
                None,
            ));
            return;
        }
        Err(e) => {
            r.push(f(
                "rules",
                Level::Fatal,
                format!("cannot read {}: {e}", path.display()),
                Some("fix the path in `rules =` or create the file"),
            ));
            return;
        }
    };
    match rules::engine::RuleSet::parse(&text) {
        Ok(rs) => r.push(f(
            "rules",
            Level::Ok,
            format!("{} is valid ({} rules)", path.display(), rs.rules().len()),
            None,
        )),
        Err(e) => r.push(f(
            "rules",
            Level::Fatal,
            format!("{}: {}", path.display(), e.to_string().replace('\n', "; ")),
            Some("correct the rules file (see /usr/share/doc/seccomp-watch/examples/rules.toml)"),
        )),
    }
}

pub(super) fn check_sources(r: &mut Report, cfg: &Config) {
    let access = sources::HostAccess::probe(cfg);
    if let Err(why) = &access.audit_log {
        if cfg.audit_log.path.exists() {
            r.push(f(
                "audit-log",
                Level::Warn,
                why.clone(),
                Some("run as root, or with CAP_DAC_READ_SEARCH (the shipped unit), or add the user to auditd's log_group"),
            ));
        }
    }
    match sources::plan(cfg, &access) {
        Ok(p) => {
            let names: Vec<&str> = p.run.iter().map(|k| k.as_str()).collect();
            let level = if p.run.contains(&crate::pipeline::SourceKind::Kmsg) { Level::Warn } else { Level::Ok };
            r.push(f(
                "sources",
                level,
                format!("the daemon would run: {} ({})", names.join(", "), p.reasons.join("; ")),
                (level == Level::Warn).then_some("kmsg is rate limited by the kernel (records are lost): give the daemon CAP_AUDIT_READ for netlink"),
            ));
        }
        Err(e) => r.push(f(
            "sources",
            Level::Fatal,
            format!("{e:#}").replace('\n', " "),
            Some("run as root or under the shipped unit (CAP_AUDIT_READ), or start auditd so that audit.log exists"),
        )),
    }
}

pub(super) fn check_database(r: &mut Report, db: &Path) {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        let by_systemd = db == Path::new(DEFAULT_DB);
        r.push(f(
            "database",
            if by_systemd {
                Level::Info
            } else {
                Level::Fatal
            },
            format!("{} does not exist", dir.display()),
            Some(if by_systemd {
                "systemd creates it on the first start (StateDirectory=seccomp-watch)"
            } else {
                "create the directory, or set `db =` to a writable path"
            }),
        ));
        return;
    }
    match crate::http::db_writable(db) {
        Ok(()) => r.push(f("database", Level::Ok, format!("{} is writable", db.display()), None)),
        Err(e) => r.push(f(
            "database",
            Level::Fatal,
            e,
            Some("make the file and its directory writable by the daemon's user (the unit's StateDirectory is), or set `db =`"),
        )),
    }
}

pub(super) fn check_runtimes(r: &mut Report, cfg: &Config) {
    let a = &cfg.attribution;
    if !a.enabled {
        r.push(f(
            "runtimes",
            Level::Info,
            "attribution is disabled ([attribution] enabled = false)",
            None,
        ));
        return;
    }
    let mut dirs: Vec<&Path> = a.runc_roots.iter().map(PathBuf::as_path).collect();
    dirs.extend([
        a.containerd_root.as_path(),
        a.docker_root.as_path(),
        a.podman_root.as_path(),
        a.crio_root.as_path(),
    ]);
    let mut found = Vec::new();
    for d in dirs {
        match std::fs::read_dir(d) {
            Ok(_) => found.push(d.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => r.push(f(
                "runtimes",
                Level::Warn,
                format!("cannot read {}: {e}", d.display()),
                Some("grant CAP_DAC_READ_SEARCH (the shipped unit does) so that containers get names and profiles"),
            )),
        }
    }
    if found.is_empty() {
        r.push(f(
            "runtimes",
            Level::Info,
            "no container runtime state directory found: events are attributed by cgroup path and systemd unit only",
            None,
        ));
    } else {
        r.push(f(
            "runtimes",
            Level::Ok,
            format!("runtime state found: {}", found.join(", ")),
            None,
        ));
    }
    if a.proc_connector && sources::has_capability(12) == Some(false) {
        r.push(f(
            "proc-connector",
            Level::Warn,
            "no CAP_NET_ADMIN: the proc connector cannot follow short-lived processes (attribution falls back to /proc lookups)",
            Some("grant CAP_NET_ADMIN (the shipped unit does), or set [attribution] proc_connector = false"),
        ));
    }
}

pub(super) fn check_sandbox(r: &mut Report, cfg: &Config) {
    let mode = match crate::sandbox::Mode::parse(&cfg.sandbox) {
        Ok(m) => m,
        Err(e) => {
            r.push(f("sandbox", Level::Fatal, e.to_string(), None));
            return;
        }
    };
    if mode == crate::sandbox::Mode::Off {
        r.push(f(
            "sandbox",
            Level::Info,
            "sandbox = \"off\": the daemon installs no seccomp filter of its own",
            Some("try sandbox = \"log\", then \"enforce\""),
        ));
        return;
    }
    match crate::sandbox::compile(crate::sandbox::PROFILE_JSON, mode) {
        Ok(c) => r.push(f(
            "sandbox",
            Level::Ok,
            format!(
                "sandbox = {:?}: {} syscalls allowed, {} BPF instructions",
                cfg.sandbox,
                c.allowed.len(),
                c.program.len()
            ),
            None,
        )),
        Err(e) => r.push(f(
            "sandbox",
            Level::Fatal,
            e.to_string(),
            Some("set sandbox = \"off\" and report the problem"),
        )),
    }
}

pub(super) fn check_http(r: &mut Report, cfg: &Config) {
    let listen = cfg.http.listen.trim();
    if listen.is_empty() {
        r.push(f(
            "http",
            Level::Info,
            "HTTP is disabled ([http] listen is empty): no /metrics",
            None,
        ));
        return;
    }
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if !a.ip().is_loopback() && cfg.http.token_file.is_none() => r.push(f(
            "http",
            Level::Warn,
            format!(
                "{listen} is reachable from the network without a token: event data is exposed"
            ),
            Some("set [http] token_file, or listen on 127.0.0.1"),
        )),
        Ok(_) => r.push(f("http", Level::Ok, format!("listens on {listen}"), None)),
        Err(_) => r.push(f(
            "http",
            Level::Info,
            format!("listen = {listen:?} is resolved at start-up"),
            None,
        )),
    }
    if let Some(t) = &cfg.http.token_file {
        match std::fs::read_to_string(t) {
            Ok(s) if !s.trim().is_empty() => r.push(f(
                "http-token",
                Level::Ok,
                format!("{} holds a token", t.display()),
                None,
            )),
            Ok(_) => r.push(f(
                "http-token",
                Level::Fatal,
                format!("{} is empty", t.display()),
                Some("write a token into it"),
            )),
            Err(e) => r.push(f(
                "http-token",
                Level::Fatal,
                format!("cannot read {}: {e}", t.display()),
                Some("fix [http] token_file"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_config_is_fatal_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "db = 5\n").unwrap();
        let mut r = Report::default();
        check_config(&mut r, Some(&p));
        assert_eq!(r.findings[0].level, Level::Fatal);
        assert!(r.findings[0].detail.contains("line 1"), "{:?}", r.findings);
        std::fs::write(&p, "[http]\nlisten = \"0.0.0.0:9717\"\n").unwrap();
        let mut r = Report::default();
        let cfg = check_config(&mut r, Some(&p));
        assert_eq!(r.findings[0].level, Level::Ok);
        check_http(&mut r, &cfg);
        assert_eq!(r.findings[1].level, Level::Warn, "{:?}", r.findings);
    }

    #[test]
    fn rules_file_checks() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            rules: Some(dir.path().join("missing.toml")),
            ..Config::default()
        };
        let mut r = Report::default();
        check_rules(&mut r, &cfg);
        assert_eq!(r.worst(), Level::Fatal);
        let p = dir.path().join("rules.toml");
        std::fs::write(&p, "[[rule]]\nname = \n").unwrap();
        cfg.rules = Some(p);
        let mut r = Report::default();
        check_rules(&mut r, &cfg);
        assert_eq!(r.worst(), Level::Fatal);
        assert!(r.findings[0].detail.contains("line 2"), "{:?}", r.findings);
    }

    #[test]
    fn database_checks() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::default();
        check_database(&mut r, &dir.path().join("x.db"));
        check_database(&mut r, &dir.path().join("nodir/x.db"));
        assert_eq!(r.findings[0].level, Level::Ok);
        assert_eq!(r.findings[1].level, Level::Fatal);
    }
}
