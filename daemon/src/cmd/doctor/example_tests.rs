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
