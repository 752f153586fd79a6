#!/usr/bin/python3
"""Status page benchmark: GET /acme-status (JSON and HTML) with N managed
domains, each with a status record and (with --live) a live certificate.

The server is scale.py's 'acme' server (CA unreachable): the watchdog writes
status/<name>.json for every domain; with --live the benchmark then links a
live certificate for every domain (domains/<name> -> archive/<name>/bench),
as after N issuances. It waits until N status records exist, then times:
  first     the first GET (nothing rendered yet)
  warm      median [min-max] of --tries further GETs (they land on
            different children; the watchdog keeps rewriting records, as
            with the CA unreachable, so most of them see a changed store)
  restart   the first GET after a graceful restart (new children, the
            rendered page already in the store)
with the 1-minute load average when each row was measured (the machine may
be shared), and the server's CPU time per GET (user+sys of every child,
from /proc, minus the same span idle) where it can be read.
Prints a Markdown table. Needs root. ACME_BUILD_DIR as for tests/bench/run.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scale  # noqa: E402


def plant_live(store, names, cert):
    """domains/<name> -> ../archive/<name>/bench, holding a copy of cert."""
    with open(cert) as f:
        pem = f.read()
    for name in names:
        version = os.path.join(store, "archive", name, "bench")
        os.makedirs(version, exist_ok=True)
        with open(os.path.join(version, "cert.pem"), "w") as f:
            f.write(pem)
        link = os.path.join(store, "domains", name)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..", "archive", name, "bench"), link)


def wait_records(store, n, timeout):
    status = os.path.join(store, "status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if sum(1 for e in os.listdir(status) if e.endswith(".json")) >= n:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("fewer than %d status records after %.0f s" % (n, timeout))


def children_cpu(srv):
    """user+sys seconds of every child of srv's parent, from /proc."""
    parent, total = srv.pid(), 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def graceful(srv, timeout):
    subprocess.run(srv.cmd("-k", "graceful"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=srv.env(), check=True)
    time.sleep(2)
    deadline = time.monotonic() + timeout
    while not srv.http_ok() and time.monotonic() < deadline:
        time.sleep(0.05)


def run_one(args, so, workdir, cert, n):
    srv = scale.Server(workdir, "acme", n, so, cert)
    try:
        srv.start(args.timeout + n * 0.02)
        store = os.path.join(srv.root, "acme")
        wait_records(store, n, args.timeout + n * 0.05)
        if args.live:
            plant_live(store, srv.names, cert[0])
        time.sleep(1.5)        # let the store settle (writes within a second are never trusted)
        out = {}
        pages = (("json", "/acme-status?format=json", None), ("html", "/acme-status", "text/html"))
        for kind, path, accept in pages:
            first = srv.get_ms(path, accept, tries=1)
            t0, c0 = time.monotonic(), children_cpu(srv)
            warm = [srv.get_ms(path, accept, tries=1) for _ in range(args.tries)]
            busy, span = children_cpu(srv) - c0, time.monotonic() - t0
            c0 = children_cpu(srv)
            time.sleep(span)
            idle = children_cpu(srv) - c0
            out[kind] = [first, warm, (busy - idle) * 1000 / args.tries, os.getloadavg()[0]]
        graceful(srv, args.timeout)
        for kind, path, accept in pages:
            out[kind].append(srv.get_ms(path, accept, tries=1))
        return out
    finally:
        srv.stop()
        shutil.rmtree(srv.root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="1000,10000", help="domain counts [1000,10000]")
    ap.add_argument("--tries", type=int, default=10, help="warm GETs per page [10]")
    ap.add_argument("--live", action="store_true", help="give every domain a live certificate")
    ap.add_argument("--timeout", type=float, default=120, help="start timeout, + 0.02 s per domain")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("must run as root (httpd binds and switches to www-data)")
    so = os.path.join(os.environ.get("ACME_BUILD_DIR", scale.REPO_ROOT), ".libs", "mod_acme.so")
    where = scale.machine()
    workdir = tempfile.mkdtemp(prefix="acme-status-bench-")
    os.chmod(workdir, 0o755)
    rows = []
    try:
        cert = scale.static_cert(workdir)
        for n in [int(x) for x in args.n.split(",") if x.strip()]:
            got = run_one(args, so, workdir, cert, n)
            for kind in ("json", "html"):
                first, warm, cpu, load, restart = got[kind]
                rows.append((kind.upper(), n, "%.1f ms" % first,
                             scale.median_spread(warm, "%.1f ms"), "%.1f ms" % cpu,
                             "%.1f ms" % restart, "%.1f" % load))
                print("# N=%d %s: %s" % (n, kind, " | ".join(rows[-1][2:])), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("| status page | N | first GET | warm GET, median [min–max] | server CPU per warm GET "
          "| first GET after a graceful restart | load (1 min) | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s | ≤ 100 ms |"
              % (r[0], "{:,}".format(r[1]), r[2], r[3], r[4], r[5], r[6]))
    print()
    print("%s live certificates. Machine: %s." % ("With" if args.live else "Without", where))


if __name__ == "__main__":
    main()
