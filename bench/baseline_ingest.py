#!/usr/bin/env python3
"""Baseline for `seccomp-watch ingest`: a Python regex + sqlite3 importer of SECCOMP records.

usage: baseline_ingest.py DB FILE...

What a competent script does: one regex per line, WAL, synchronous=NORMAL, executemany
with 10k rows per transaction, a UNIQUE key (node, time, serial) with INSERT OR IGNORE so
that it is idempotent too. Prints one line: events stored, seconds, events/s.
"""
import re
import sqlite3
import sys
import time

LINE = re.compile(
    rb'^(?:node=(\S+) )?type=SECCOMP msg=audit\((\d+)\.(\d+):(\d+)\): '
    rb'auid=(\d+) uid=(\d+) gid=(\d+) ses=(\d+)(?: subj=(\S+))? pid=(\d+) '
    rb'comm=("[^"]*"|\S+) exe=("[^"]*"|\S+) sig=(-?\d+) arch=([0-9a-f]+) '
    rb'syscall=(-?\d+) compat=(\d) ip=(0x[0-9a-f]+) code=(0x[0-9a-f]+)'
)


def text(v):
    if v is None:
        return None
    if v.startswith(b'"'):
        return v[1:-1].decode("utf-8", "replace")
    try:
        return bytes.fromhex(v.decode()).decode("utf-8", "replace")
    except ValueError:
        return v.decode("utf-8", "replace")


def main():
    db, files = sys.argv[1], sys.argv[2:]
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE IF NOT EXISTS events (node TEXT NOT NULL, time_ms INTEGER NOT NULL, "
        "serial INTEGER NOT NULL, auid INTEGER, uid INTEGER, gid INTEGER, ses INTEGER, subj TEXT, "
        "pid INTEGER, comm TEXT, exe TEXT, sig INTEGER, arch INTEGER, syscall INTEGER, "
        "compat INTEGER, ip INTEGER, code INTEGER, UNIQUE (node, time_ms, serial))"
    )
    t0 = time.monotonic()
    stored = 0
    rows = []

    def flush():
        nonlocal stored
        con.execute("BEGIN")
        before = con.total_changes
        con.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        stored += con.total_changes - before
        con.execute("COMMIT")
        rows.clear()

    for f in files:
        with open(f, "rb") as fh:
            for line in fh:
                m = LINE.match(line)
                if not m:
                    continue
                g = m.groups()
                rows.append((
                    (g[0] or b"").decode(), int(g[1]) * 1000 + int(g[2]), int(g[3]), int(g[4]),
                    int(g[5]), int(g[6]), int(g[7]), g[8] and g[8].decode(), int(g[9]), text(g[10]),
                    text(g[11]), int(g[12]), int(g[13], 16), int(g[14]), int(g[15]),
                    int(g[16], 16) - (1 << 64 if int(g[16], 16) >= 1 << 63 else 0), int(g[17], 16),
                ))
                if len(rows) >= 10000:
                    flush()
    if rows:
        flush()
    secs = time.monotonic() - t0
    print("stored %d events in %.2f s: %.0f events/s" % (stored, secs, stored / secs))


if __name__ == "__main__":
    main()
