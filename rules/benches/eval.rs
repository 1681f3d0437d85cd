//! Benchmark: rule evaluation and roll-up per event, with the built-in rules and with 1,000
//! generated rules. `cargo bench -p rules --bench eval [-- N] [builtin|many|identical]`. One core, one thread; prints
//! nanoseconds per event (observe + one drain per 10,000 events, as the daemon does per
//! batch).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use parsers::{Attribution, ContainerInfo, Event};
use rules::engine::{Engine, EngineOptions, Input, RuleSet};

/// A deterministic xorshift generator (no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SYSCALLS: [i64; 16] = [
    0, 1, 3, 9, 16, 39, 56, 59, 101, 110, 165, 257, 262, 272, 321, 435,
];
const CODES: [u32; 4] = [0x7ffc_0000, 0x7ffc_0000, 0x0005_0000, 0x8000_0000];

fn corpus(n: usize) -> (Vec<Event>, Vec<Attribution>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let attrs: Vec<Attribution> = (0..50)
        .map(|i| {
            let c = ContainerInfo {
                id: format!("{i:064x}"),
                runtime: "containerd".into(),
                name: Some(format!("app{i}")),
                image: Some(format!("registry.example/app{i}:1.0")),
                pod: Some(format!("app{i}-7d9f8b6c5-x2k4q")),
                namespace: Some(if i % 2 == 0 {
                    "prod".into()
                } else {
                    "dev".into()
                }),
                pod_uid: None,
            };
            Attribution {
                workload: format!("k8s:{}/app{i}/app{i}", c.namespace.as_deref().unwrap_or("")),
                container: Some(c),
                unit: None,
                attributed: true,
                profile_hash: (i % 3 == 0).then(|| format!("{i:064x}")),
            }
        })
        .collect();
    let events = (0..n)
        .map(|i| Event {
            time_ms: 1_700_000_000_000 + i as i64,
            serial: Some(i as u64),
            node: Some("node-1".into()),
            audit_arch: 0xc000_003e,
            syscall_nr: SYSCALLS[rng.below(SYSCALLS.len() as u64) as usize],
            code: CODES[rng.below(CODES.len() as u64) as usize],
            pid: 1000 + rng.below(100) as u32,
            uid: Some(0),
            gid: Some(0),
            auid: None,
            ses: None,
            comm: Some("app".into()),
            exe: Some("/usr/bin/app".into()),
            subj: None,
            sig: None,
            compat: false,
            ip: None,
            synthetic_key: None,
        })
        .collect();
    (events, attrs)
}

fn generated_rules(n: usize) -> String {
    let mut rng = Rng(42);
    let names = [
        "read", "write", "open", "openat", "mmap", "ptrace", "mount", "socket", "connect", "bind",
        "execve", "clone", "unshare", "setns", "bpf", "keyctl", "getppid", "getpid",
    ];
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nseverity = \"medium\"\n"
        ));
        let k = 1 + rng.below(3) as usize;
        let sys: Vec<String> = (0..k)
            .map(|_| format!("\"{}\"", names[rng.below(names.len() as u64) as usize]))
            .collect();
        out.push_str(&format!("syscalls = [{}]\n", sys.join(", ")));
        // Like a site's own rules: each about one application (of 250; 50 run here).
        let app = rng.below(250);
        match i % 4 {
            0 => out.push_str(&format!("workloads = [\"k8s:*/app{app}/*\"]\n")),
            1 => out.push_str(&format!(
                "actions = [\"kill_process\", \"errno\"]\nimages = [\"*/app{app}:*\"]\n"
            )),
            2 => out.push_str(&format!(
                "containers = [\"app{app}\"]\nnamespaces = [\"prod\", \"dev\"]\n"
            )),
            _ => out.push_str(&format!(
                "pods = [\"app{app}-*\"]\n[[rule.except]]\ncomms = [\"sh\"]\n"
            )),
        }
    }
    out
}

fn run(label: &str, rules: RuleSet, events: &[Event], attrs: &[Attribution]) {
    let rules = Arc::new(rules);
    for round in 0..3 {
        let mut e = Engine::new(
            rules.clone(),
            EngineOptions {
                learning_ms: 60_000,
                ..EngineOptions::default()
            },
        );
        let t = Instant::now();
        let mut alerts = 0usize;
        let mut fired = 0usize;
        for (i, ev) in events.iter().enumerate() {
            let a = &attrs[i % attrs.len()];
            fired += e.observe(&Input::new(ev, a)).len();
            if i % 10_000 == 9_999 {
                alerts += black_box(e.drain()).alerts.len();
            }
        }
        alerts += e.drain().alerts.len();
        let ns = t.elapsed().as_nanos() as f64 / events.len() as f64;
        println!("{label}: round {round}: {ns:.1} ns/event ({} events, {fired} matches, {alerts} alert changes drained)", events.len());
    }
}

fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(1_000_000);
    let only = std::env::args()
        .skip(1)
        .find(|a| ["builtin", "many", "identical"].contains(&a.as_str()));
    let want = |m: &str| only.as_deref().is_none_or(|o| o == m);
    let (events, attrs) = corpus(n);
    if want("builtin") {
        run("built-in rules", RuleSet::builtin(), &events, &attrs);
    }
    if want("many") {
        let text = generated_rules(1000);
        let t = Instant::now();
        let big = RuleSet::parse(&text).expect("generated rules are valid");
        println!(
            "parsing 1,000 rules: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        run("1,000 rules", big, &events, &attrs);
    }
    if want("identical") {
        // The roll-up's common case: a burst of identical events.
        let one = vec![events[0].clone(); 100_000];
        run(
            "built-in, 100k identical",
            RuleSet::builtin(),
            &one,
            &attrs[..1],
        );
    }
}
