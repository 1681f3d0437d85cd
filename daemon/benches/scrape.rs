//! Benchmark: `/metrics` render time with 10,000 workloads' series (goal: under 50 ms).
//!
//! `cargo bench -p seccomp-watch --bench scrape [-- WORKLOADS SYSCALLS]`: WORKLOADS
//! workloads (default 10000) times SYSCALLS syscalls (default 1) workload series, plus the
//! per-source/action/arch counters; prints the median and worst of 30 renders and the
//! exposition size.

use std::time::{Duration, Instant};

use seccomp_watch::metrics::metrics;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let workloads = args.first().copied().unwrap_or(10_000);
    let syscalls = args.get(1).copied().unwrap_or(1);
    let m = metrics();
    m.set_label_limits(seccomp_watch::metrics::LabelLimits {
        workloads,
        series_per_workload: syscalls.max(1),
        ..Default::default()
    });
    m.init_series();
    let names = [
        "getppid",
        "ptrace",
        "mount",
        "unshare",
        "bpf",
        "keyctl",
        "setns",
        "personality",
    ];
    for w in 0..workloads {
        let key = format!("k8s:namespace-{}/deployment-{w}/container", w % 50);
        for s in names.iter().cycle().take(syscalls) {
            let (label, s) = m.workload_series(&key, s, "SCMP_ACT_LOG");
            m.workload_events
                .with_label_values(&[label.as_str(), s, "SCMP_ACT_LOG"])
                .inc_by(w as u64 + 1);
        }
    }
    for src in ["netlink", "audit-log", "kmsg", "ingest"] {
        for act in ["SCMP_ACT_LOG", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"] {
            m.events
                .with_label_values(&[src, act, "SCMP_ARCH_X86_64"])
                .inc();
        }
    }
    let mut times: Vec<Duration> = Vec::new();
    let mut size = 0;
    for _ in 0..30 {
        let t = Instant::now();
        let text = m.render();
        times.push(t.elapsed());
        size = text.len();
    }
    times.sort();
    let series = workloads * syscalls;
    println!(
        "scrape: {series} workload series ({workloads} workloads x {syscalls} syscalls), {} KiB: median {:.1} ms, worst {:.1} ms",
        size / 1024,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}
