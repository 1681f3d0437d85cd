//! Round trips of the fixture profiles: byte-identical JSON, lossless edits, and the
//! Kubernetes SeccompProfile form.

use rules::profile::{K8sSeccompProfile, Profile, SyscallArg, SyscallRule};
use std::path::PathBuf;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/profiles")
}

fn fixtures() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(fixtures_dir()).expect("fixture dir") {
        let path = e.expect("dir entry").path();
        if path.extension().and_then(|x| x.to_str()) == Some("json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&path).expect("read fixture")));
        }
    }
    out.sort();
    out
}

fn strip_nulls(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        v => v,
    }
}

fn load(name: &str) -> Profile {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).expect("read fixture");
    Profile::from_json(&text).expect("parse fixture")
}

#[test]
fn every_fixture_round_trips_byte_for_byte() {
    let all = fixtures();
    assert!(all.len() >= 9, "fixtures missing: {}", all.len());
    for (name, text) in &all {
        let p = Profile::from_json(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&p.to_json(), text, "{name} not byte-identical");
        // The typed view agrees with a plain serde_json reading.
        let plain: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(p.to_value(), plain, "{name}");
        // The typed view keeps everything but explicit nulls (`"args": null` in Podman's).
        assert!(
            strip_nulls(serde_json::to_value(p.spec()).unwrap()) == strip_nulls(plain),
            "{name}: typed view lost something"
        );
    }
}

#[test]
fn indentation_is_detected() {
    assert_eq!(load("docker-default.json").indent(), "\t");
    assert_eq!(load("podman-default.json").indent(), "\t");
    assert_eq!(load("docker-example.json").indent(), "    ");
    assert_eq!(load("fedora_ls_lisa.json").indent(), "  ");
}

#[test]
fn typed_view_of_the_docker_default() {
    let p = load("docker-default.json");
    let s = p.spec();
    assert_eq!(s.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(s.default_errno_ret, Some(1));
    let covered = s.covered_arches();
    for a in [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_ARM",
    ] {
        assert!(covered.iter().any(|c| c == a), "{a} not covered");
    }
    let rules = s.rules();
    assert!(rules[0].names.as_ref().unwrap().len() > 300);
    assert!(rules[0].is_unconditional(parsers::Action::Allow));
    assert!(rules
        .iter()
        .any(|r| r.includes.as_ref().and_then(|i| i.min_kernel.as_deref()) == Some("4.8")));
    assert!(rules.iter().any(|r| r.errno_ret == Some(38)));

    let podman = load("podman-default.json");
    assert_eq!(podman.spec().extra["defaultErrno"], "ENOSYS");
    let keys: Vec<String> = podman
        .to_value()
        .as_object()
        .unwrap()
        .keys()
        .take(3)
        .cloned()
        .collect();
    assert_eq!(keys, ["defaultAction", "defaultErrnoRet", "defaultErrno"]);

    let old = load("docker-default-old-format.json");
    assert!(old
        .spec()
        .rules()
        .iter()
        .all(|r| r.name.is_some() && r.names.is_none()));
}

/// An edit changes only the lines of the entry it edits.
#[test]
fn edits_change_only_the_edited_lines() {
    for (name, text) in fixtures() {
        let mut p = Profile::from_json(&text).unwrap();
        let n = p.spec().rules().len();
        p.append_names(0, &["zz_new_call".to_string()]).unwrap();
        let edited = p.to_json();
        // At most: the last name gets a comma (1 line out, 1 in) plus the new name's line,
        // or, for a legacy one-`name` entry, a new 3-line `names` list.
        let diff = similar::TextDiff::from_lines(&text, &edited);
        let (mut ins, mut del) = (0, 0);
        for c in diff.iter_all_changes() {
            match c.tag() {
                similar::ChangeTag::Insert => ins += 1,
                similar::ChangeTag::Delete => del += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        assert!(del <= 1 && (1..=3).contains(&ins), "{name}: -{del} +{ins}");
        assert!(p.spec().rules()[0].has_name("zz_new_call"), "{name}");
        // Removing it again gives the original bytes, unless the entry had no `names` list.
        let set = ["zz_new_call".to_string()].into_iter().collect();
        p.remove_names(0, &set).unwrap();
        if Profile::from_json(&text).unwrap().spec().rules()[0]
            .names
            .is_some()
        {
            assert_eq!(p.to_json(), text, "{name}");
        }
        // Inserting and removing an entry is lossless as well.
        let mut q = Profile::from_json(&text).unwrap();
        q.insert_entry(n, &SyscallRule::new(vec!["x".into()], "SCMP_ACT_LOG"))
            .unwrap();
        assert_eq!(q.spec().rules().len(), n + 1);
        Profile::from_json(&q.to_json()).expect("edited profile parses");
        q.remove_entry(n).unwrap();
        assert_eq!(q.to_json(), text, "{name}");
    }
}

/// What a rule means to libseccomp: names, action, errno, argument conditions.
fn meaning(r: &SyscallRule) -> (Vec<String>, String, Option<u32>, Vec<SyscallArg>) {
    (
        r.all_names().map(str::to_string).collect(),
        r.action.clone(),
        r.errno_ret,
        r.args.clone().unwrap_or_default(),
    )
}

#[test]
fn k8s_round_trip_is_semantic() {
    for (name, text) in fixtures() {
        let p = Profile::from_json(&text).unwrap();
        let (res, notes) = K8sSeccompProfile::from_profile(&p, "demo");
        let yaml = res.to_yaml().unwrap();
        assert!(yaml.contains("kind: SeccompProfile"), "{name}");
        assert!(yaml.contains("apiVersion: security-profiles-operator.x-k8s.io/v1beta1"));
        let back = K8sSeccompProfile::from_yaml(&yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, res, "{name}");
        assert_eq!(back.metadata.name, "demo");
        let json = back.to_profile();
        assert_eq!(json.spec(), &res.spec, "{name}");
        assert_eq!(
            Profile::from_json(&json.to_json()).unwrap().spec(),
            &res.spec
        );

        // Same meaning: default action, arches, and every entry without includes/excludes.
        let spec = json.spec();
        assert_eq!(spec.default_action, p.spec().default_action, "{name}");
        assert_eq!(
            spec.covered_arches().len(),
            p.spec().covered_arches().len()
                - notes
                    .iter()
                    .filter(|n| n.starts_with("architecture"))
                    .count()
        );
        let kept: Vec<_> = p
            .spec()
            .rules()
            .iter()
            .filter(|r| {
                r.includes.as_ref().is_none_or(|f| f.is_empty())
                    && r.excludes.as_ref().is_none_or(|f| f.is_empty())
            })
            .map(meaning)
            .collect();
        let got: Vec<_> = spec.rules().iter().map(meaning).collect();
        assert_eq!(got, kept, "{name}");
        let dropped = p.spec().rules().len() - kept.len();
        assert_eq!(
            notes
                .iter()
                .filter(|n| n.contains("includes/excludes"))
                .count(),
            dropped,
            "{name}: {notes:?}"
        );
        if name.starts_with("fedora") || name.starts_with("run.hello") {
            assert!(notes.is_empty(), "{name}: {notes:?}");
        }
    }
    let (_, notes) = K8sSeccompProfile::from_profile(&load("podman-default.json"), "p");
    assert!(
        notes.iter().any(|n| n.contains("defaultErrnoRet 38")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("\"defaultErrno\"")),
        "{notes:?}"
    );
    let (_, notes) = K8sSeccompProfile::from_profile(&load("docker-default.json"), "p");
    assert!(
        notes.iter().any(|n| n.contains("SCMP_ARCH_LOONGARCH64")),
        "{notes:?}"
    );
}
