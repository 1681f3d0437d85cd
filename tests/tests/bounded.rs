//! Bounded memory on any input: a gzip holding one 1 GiB line between real records,
//! read by `seccomp-watch parse` and `ingest` as child processes. The line is skipped
//! and counted, the records around it kept, and the peak RSS of the child (its
//! `ru_maxrss` from `wait4`) stays far below the line's size.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use seccomp_watch_tests::{bin, fixture};

/// The bound asserted: generous (the measured figure is printed), 20 times less than the
/// line.
const MAX_RSS_KB: i64 = 50 * 1024;

const HUGE_PREFIX: &[u8] =
    b"type=SECCOMP msg=audit(1795997054.937:1): auid=0 uid=0 gid=0 ses=1 pid=1 comm=\"";
/// The length of the long line: the prefix, 1 GiB, a quote.
const HUGE_LEN: u64 = HUGE_PREFIX.len() as u64 + (1 << 30) + 1;

/// Writes `audit.log` lines, a 1 GiB line (a record whose comm never ends), and the same
/// lines again, gzip-compressed at the fast level; returns the records of one copy.
fn make_input(path: &Path) -> usize {
    let lines = std::fs::read_to_string(fixture("audit/auditd-raw.log")).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::fast());
    gz.write_all(lines.as_bytes()).unwrap();
    gz.write_all(HUGE_PREFIX).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(b"\"\n").unwrap();
    gz.write_all(lines.as_bytes()).unwrap();
    gz.finish().unwrap().flush().unwrap();
    lines.lines().filter(|l| l.contains("type=SECCOMP")).count()
}

/// Runs `seccomp-watch ARGS`: (exit status, stdout, stderr, peak RSS in KiB).
fn run_measured(args: &[&str]) -> (std::process::ExitStatus, String, String, i64) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4");
    std::mem::forget(child); // reaped above
    (
        std::process::ExitStatus::from_raw(status),
        std::fs::read_to_string(out.path()).unwrap(),
        std::fs::read_to_string(err.path()).unwrap(),
        ru.ru_maxrss,
    )
}

#[test]
fn a_one_gibibyte_line_in_a_gzip_is_skipped_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("huge-line.log.gz");
    let per_copy = make_input(&gz);
    let size = std::fs::metadata(&gz).unwrap().len();
    assert!(size < 8 << 20, "{size} bytes compressed");

    let (st, stdout, stderr, rss) = run_measured(&["parse", "--stats", gz.to_str().unwrap()]);
    eprintln!(
        "parse: peak RSS {} KiB on a {size}-byte gzip holding a 1 GiB line",
        rss
    );
    assert!(st.success(), "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        2 * per_copy,
        "the records around the line"
    );
    assert!(stderr.contains("lines too long (skipped): 1"), "{stderr}");
    assert!(
        stderr.contains(&format!("line of {HUGE_LEN} bytes skipped")),
        "{stderr}"
    );
    assert!(rss < MAX_RSS_KB, "parse peak RSS {rss} KiB");

    let db = dir.path().join("w.db");
    let (st, stdout, stderr, rss) = run_measured(&[
        "ingest",
        "--quiet",
        "--db",
        db.to_str().unwrap(),
        gz.to_str().unwrap(),
    ]);
    eprintln!("ingest: peak RSS {} KiB", rss);
    assert!(st.success(), "{stderr}");
    assert!(stdout.contains("too long         1"), "{stdout}");
    // The second copy repeats the first: stored once.
    assert!(
        stdout.contains(&format!("stored           {per_copy}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("duplicates       {per_copy}\n")),
        "{stdout}"
    );
    assert!(rss < MAX_RSS_KB, "ingest peak RSS {rss} KiB");
}
