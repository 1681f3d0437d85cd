//! The Debian package of this build (tests/src/package.rs): what it holds, read back with
//! `dpkg-deb`. Installing it is the systemd container test's job (systemd.rs).

use std::process::Command;

use seccomp_watch_tests::{package, tool_or_skip};

fn dpkg_deb(args: &[&str], deb: &std::path::Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("dpkg-deb");
    assert!(
        out.status.success(),
        "dpkg-deb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_package_holds_the_binary_unit_config_and_docs() {
    const TEST: &str = "the_package_holds_the_binary_unit_config_and_docs";
    if !tool_or_skip(TEST, "dpkg-deb") {
        return;
    }
    let Some(deb) = package::deb_or_skip(TEST) else {
        return;
    };
    // Made once: a second call (and another test binary) gets the same file.
    assert_eq!(package::deb(), deb);
    let list = dpkg_deb(&["-c"], &deb);
    for path in [
        "./usr/bin/seccomp-watch",
        "./etc/seccomp-watch/config.toml",
        "seccomp-watch.service",
        "./usr/share/man/man1/seccomp-watch.1.gz",
        "./usr/share/man/man1/seccomp-watch-doctor.1.gz",
        "./usr/share/bash-completion/completions/seccomp-watch",
        "./usr/share/seccomp-watch/seccomp-watch.seccomp.json",
        "./usr/share/seccomp-watch/dashboards/seccomp-watch.json",
        "./usr/share/seccomp-watch/dashboards/alerts.yml",
        "./usr/share/doc/seccomp-watch/examples/rules.toml",
    ] {
        assert!(list.contains(path), "{path} missing:\n{list}");
    }
    let info = dpkg_deb(&["-I"], &deb);
    assert!(info.contains("Package: seccomp-watch"), "{info}");
    let out = Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .arg("conffiles")
        .output()
        .unwrap();
    let conffiles = String::from_utf8_lossy(&out.stdout);
    assert_eq!(conffiles.trim(), "/etc/seccomp-watch/config.toml");
    // The binary is stripped (the debug build's would be 200 MB).
    let size = std::fs::metadata(&deb).unwrap().len();
    assert!(size < 40 << 20, "{size} bytes: not stripped?");
}
