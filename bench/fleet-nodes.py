#!/usr/bin/env python3
"""Three nodes at once: three `seccomp-watch run` daemons (release build), each tailing an
audit.log of its own that this script appends to at RATE events/s in total (20k by
default) for SECS seconds, replicating into one PostgreSQL. Samples every daemon's
seccomp_watch_fleet_replication_lag_seconds once a second (p50, p99, max over all samples
of all nodes) and compares the daemons' CPU per event with replication on and off (the
same load, run twice).

usage: bench/fleet-nodes.py [--rate N] [--secs S] [--bin PATH]
Starts its own PostgreSQL cluster (initdb + pg_ctl from $PG_BIN or the newest
/usr/lib/postgresql/*/bin, as user postgres when run as root) on a free port in a temp
dir, and stops it by its pid at the end.
"""
import argparse, glob, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

p = argparse.ArgumentParser()
p.add_argument("--rate", type=int, default=20000)
p.add_argument("--secs", type=int, default=60)
p.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "seccomp-watch"))
a = p.parse_args()
BIN = os.path.realpath(a.bin)
PG_BIN = os.environ.get("PG_BIN") or sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
ROOT = os.geteuid() == 0


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def as_pg(cmd):
    full = ["su", "postgres", "-s", "/bin/sh", "-c", cmd] if ROOT else ["sh", "-c", cmd]
    subprocess.run(full, check=True, stdout=subprocess.DEVNULL)


work = tempfile.mkdtemp(prefix="sw-fleet-nodes.")
os.chmod(work, 0o755)
pgdir = os.path.join(work, "pg"); os.mkdir(pgdir)
if ROOT:
    shutil.chown(pgdir, "postgres", "postgres")
pgport = free_port()
as_pg(f"'{PG_BIN}/initdb' -D '{pgdir}/data' -U postgres --auth=trust -E UTF8")
as_pg(f"'{PG_BIN}/pg_ctl' -D '{pgdir}/data' -l '{pgdir}/log' -w -o \"-p {pgport} -k '{pgdir}' -c listen_addresses=127.0.0.1\" start")
pgpid = int(open(f"{pgdir}/data/postmaster.pid").readline())
URL = f"postgres://postgres@127.0.0.1:{pgport}/postgres"


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except Exception:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith("seccomp_watch_") and " " in line and "{" not in line:
            k, v = line.rsplit(" ", 1)
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def cpu_secs(pid):
    # utime + stime from /proc (clock ticks; the process collector's metric is whole seconds)
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def line(node, t_ms, serial):
    nr = (101, 165, 272, 110, 16)[serial % 5]
    return (f"type=SECCOMP msg=audit({t_ms // 1000}.{t_ms % 1000:03d}:{serial}): auid=1000 uid=1000 gid=1000 "
            f"ses=1 pid={1000 + serial % 50} comm=\"w{serial % 20}\" exe=\"/usr/bin/{node}-w{serial % 20}\" sig=0 "
            f"arch=c000003e syscall={nr} compat=0 ip=0x7f0000001000 code=0x7ffc0000\n")


def run(mode):
    nodes = []
    for i in range(3):
        d = os.path.join(work, f"{mode}-{i}"); os.mkdir(d)
        log = os.path.join(d, "audit.log"); open(log, "w").close()
        port = free_port()
        fleet = f"\n[fleet]\npostgres = \"{URL}\"\nnode = \"{mode}-node-{i}\"\n" if mode == "on" else ""
        cfg = (f"[http]\nlisten = \"127.0.0.1:{port}\"\n\n[audit_log]\npoll_ms = 100\n\n"
               f"[attribution]\nenabled = false\n{fleet}")
        open(os.path.join(d, "config.toml"), "w").write(cfg)
        proc = subprocess.Popen([BIN, "run", "--config", os.path.join(d, "config.toml"), "--db", os.path.join(d, "sw.db"),
                                 "--source", "audit-log", "--audit-log", log],
                                stdout=open(os.path.join(d, "daemon.log"), "w"), stderr=subprocess.STDOUT)
        nodes.append((proc, port, log, f"{mode}-node-{i}"))
    for proc, port, _, _ in nodes:
        for _ in range(100):
            if scrape(port):
                break
            time.sleep(0.1)
    cpu0 = [cpu_secs(proc.pid) for proc, _, _, _ in nodes]
    lags, stop = [], threading.Event()

    def sampler():
        while not stop.is_set():
            for _, port, _, _ in nodes:
                v = scrape(port).get("seccomp_watch_fleet_replication_lag_seconds")
                if v is not None and mode == "on":
                    lags.append(v)
            time.sleep(1)

    th = threading.Thread(target=sampler); th.start()
    files = [open(log, "a") for _, _, log, _ in nodes]
    per_slice = a.rate // 3 // 100  # per node per 10 ms
    serial, t_end, written = 1, time.time() + a.secs, 0
    next_t = time.time()
    while time.time() < t_end:
        now = int(time.time() * 1000)
        for f, (_, _, _, name) in zip(files, nodes):
            f.write("".join(line(name, now, serial + k) for k in range(per_slice)))
            f.flush()
        serial += per_slice
        written += per_slice * 3
        next_t += 0.01
        time.sleep(max(0.0, next_t - time.time()))
    # Let every node store and (when on) ship everything.
    deadline = time.time() + 120
    while time.time() < deadline:
        m = [scrape(port) for _, port, _, _ in nodes]
        stored = sum(x.get("seccomp_watch_db_batch_events_sum", 0.0) for x in m)
        lag = sum(x.get("seccomp_watch_fleet_replication_lag_events", 0.0) for x in m)
        if stored >= written and (mode == "off" or lag == 0):
            break
        time.sleep(0.5)
    stop.set(); th.join()
    cpu1 = [cpu_secs(proc.pid) for proc, _, _, _ in nodes]
    for proc, _, _, _ in nodes:
        proc.send_signal(signal.SIGTERM); proc.wait(timeout=60)
    cpu = sum(b - a_ for a_, b in zip(cpu0, cpu1))
    return written, cpu, sorted(lags)


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


try:
    off_n, off_cpu, _ = run("off")
    on_n, on_cpu, lags = run("on")
    shipped = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(pgport), "-U", "postgres", "-c",
                              "SELECT count(*) FROM events"], capture_output=True, text=True).stdout.strip()
    print(f"load: 3 nodes, {a.rate} events/s in total for {a.secs} s")
    print(f"replication off: {off_n} events, daemon CPU {off_cpu:.2f} s = {off_cpu * 1e6 / off_n:.2f} us/event")
    print(f"replication on:  {on_n} events, daemon CPU {on_cpu:.2f} s = {on_cpu * 1e6 / on_n:.2f} us/event; "
          f"{shipped} events in PostgreSQL")
    print(f"replication lag seconds over {len(lags)} samples: p50 {pct(lags, 0.5):.2f}, p99 {pct(lags, 0.99):.2f}, "
          f"max {lags[-1] if lags else float('nan'):.2f}")
finally:
    os.kill(pgpid, signal.SIGINT)
    while True:
        try:
            os.kill(pgpid, 0); time.sleep(0.2)
        except ProcessLookupError:
            break
    shutil.rmtree(work, ignore_errors=True)
