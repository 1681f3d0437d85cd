//! Benchmark: parse-to-struct and parse-to-JSON throughput on an audit.log corpus.
//!
//! `cargo bench -p parsers -- FILE` (default: `bench/corpus-1m.log`, made by
//! `python3 bench/gen-audit-log.py 1000000 bench/corpus-1m.log`). One core, one thread.

use std::time::Instant;

use parsers::{parse_line, Event, Parsed};

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/corpus-1m.log").to_string()
        });
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot read {path}: {e}; make it with: python3 bench/gen-audit-log.py 1000000 {path}");
            return;
        }
    };
    let lines: Vec<&[u8]> = data
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    println!(
        "corpus: {path}: {} lines, {} bytes",
        lines.len(),
        data.len()
    );
    for round in 0..3 {
        let t = Instant::now();
        let (mut sec, mut other, mut err) = (0u64, 0u64, 0u64);
        let mut check = 0u64;
        for l in &lines {
            match parse_line(l) {
                Ok(Parsed::Seccomp(r)) => {
                    sec += 1;
                    check = check.wrapping_add(r.syscall as u64 ^ r.pid as u64);
                }
                Ok(_) => other += 1,
                Err(_) => err += 1,
            }
        }
        let dt = t.elapsed().as_secs_f64();
        println!(
            "round {round}: parse-to-struct {:.2} M lines/s ({:.0} ns/line); seccomp {sec} other {other} errors {err} (check {check})",
            lines.len() as f64 / dt / 1e6,
            dt * 1e9 / lines.len() as f64
        );
    }
    let t = Instant::now();
    let mut out = Vec::with_capacity(1 << 20);
    let mut bytes = 0usize;
    for l in &lines {
        if let Ok(Parsed::Seccomp(r)) = parse_line(l) {
            if let Ok(e) = Event::from_record(&r) {
                e.write_json(&mut out);
                out.push(b'\n');
                if out.len() > (1 << 20) {
                    bytes += out.len();
                    out.clear();
                }
            }
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "parse-to-JSON: {:.2} M lines/s ({} bytes of JSON)",
        lines.len() as f64 / dt / 1e6,
        bytes + out.len()
    );
}
