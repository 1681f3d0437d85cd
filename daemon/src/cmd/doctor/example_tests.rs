//! Tests that the shipped examples (`packaging/config.toml`, `packaging/rules.toml`) are
//! valid and document every key.

use std::path::Path;

use crate::config::Config;

fn packaging(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The field names a config table accepts, from serde's "unknown field" message.
fn fields_of(table: Option<&str>) -> Vec<String> {
    let text = match table {
        Some("sinks") => "[[sinks]]\nzz_unknown = 1\n".to_string(),
        Some(t) => format!("[{t}]\nzz_unknown = 1\n"),
        None => "zz_unknown = 1\n".to_string(),
    };
    let e = format!("{:#}", Config::parse(&text).unwrap_err());
    // serde says "expected one of `a`, `b`", "expected `a` or `b`" or "expected `a`".
    let list = e.split("expected").nth(1).unwrap_or_else(|| panic!("{e}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_config_is_valid_and_documents_every_key() {
    let text = packaging("config.toml");
    let cfg = Config::parse(&text).unwrap();
    assert_eq!(cfg.sandbox, "log");
    let d = Config::default();
    assert_eq!(
        format!("{:?}", cfg.attribution),
        format!("{:?}", d.attribution),
        "defaults as written"
    );
    assert_eq!(format!("{:?}", cfg.netlink), format!("{:?}", d.netlink));
    assert_eq!(format!("{:?}", cfg.store), format!("{:?}", d.store));
    assert_eq!(format!("{:?}", cfg.alerts), format!("{:?}", d.alerts));
    assert_eq!(format!("{:?}", cfg.http), format!("{:?}", d.http));
    assert_eq!(format!("{:?}", cfg.fleet), format!("{:?}", d.fleet));
    assert_eq!(cfg.db, d.db);
    let tables = [
        "netlink",
        "audit_log",
        "kmsg",
        "store",
        "attribution",
        "http",
        "metrics",
        "alerts",
        "sinks",
        "fleet",
    ];
    let mut checked = 0;
    for t in [None].into_iter().chain(tables.iter().map(|t| Some(*t))) {
        let fields = fields_of(t);
        assert!(!fields.is_empty(), "{t:?}");
        for k in fields {
            let documented = text.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("{k} ="))
                    || l.starts_with(&format!("[{k}]"))
                    || l.starts_with(&format!("[[{k}]]"))
            });
            assert!(
                documented,
                "config key {k} of {t:?} is not in packaging/config.toml"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

#[test]
fn the_example_rules_are_valid_and_use_every_key() {
    let text = packaging("rules.toml");
    let rs = rules::engine::RuleSet::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(rs
        .rules()
        .iter()
        .any(|r| r.name == "container-escape-attempt"));
    assert!(
        rs.rules().iter().any(|r| r.builtin),
        "builtin = true keeps the built-in rules"
    );
    for k in [
        "builtin",
        "[groups]",
        "name",
        "severity",
        "description",
        "enabled",
        "actions",
        "syscalls",
        "workloads",
        "containers",
        "namespaces",
        "pods",
        "images",
        "exes",
        "comms",
        "uids",
        "in_container",
        "profile_known",
        "novel",
        "not_in_profile",
        "rate",
        "[[rule.except]]",
    ] {
        let used = text
            .lines()
            .any(|l| !l.starts_with('#') && (l.starts_with(&format!("{k} =")) || l == k));
        assert!(used, "rules key {k} is not used in packaging/rules.toml");
    }
}

/// Issue 14 item 2: the unit raises the open files limit above what the HTTP server may
/// hold (its connection cap plus the 256 descriptors it keeps free), so that held
/// connections cannot starve the sources and the database of descriptors.
#[test]
fn the_unit_limits_open_files_above_the_http_connection_cap() {
    let unit = packaging("seccomp-watch.service");
    let n: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("LimitNOFILE="))
        .expect("LimitNOFILE= in the unit")
        .trim()
        .parse()
        .expect("a number");
    let cap = Config::parse("").unwrap().http.max_connections as u64;
    assert!(
        n >= cap + 256 + 64,
        "LimitNOFILE={n}, max_connections {cap}"
    );
}
