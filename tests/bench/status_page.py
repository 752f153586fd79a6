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
            with the CA unreachable, so most of them see a changed store),
            timed by this script (a socket read to the end, in Python)
  curl      median [min-max] of --tries GETs by curl, each right after
            one of those: time to the last byte (%{time_total}), the body
            thrown away, so the client's own copying is not counted
  restart   the first GET after a graceful restart (new children, the
            rendered page already in the store)
with the 1-minute load average when each row was measured (the machine may
be shared), and the server's CPU time per GET (user+sys of every child,
over the warm GETs of both clients, from /proc, minus the same span idle)
where it can be read.
Prints a Markdown table. Needs root. ACME_BUILD_DIR as for tests/bench/run.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_common  # noqa: E402
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


def curl_ms(srv, path, accept):
    """Milliseconds curl takes to the last byte of GET path (plain port)."""
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
           "http://127.0.0.1:%d%s" % (srv.http, path)]
    if accept:
        cmd[1:1] = ["-H", "Accept: " + accept]
    code, total = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    if code != "200":
        raise RuntimeError("curl GET %s: %s" % (path, code))
    return float(total) * 1000


def children_cpu(srv):
    """user+sys seconds of every child of srv's parent, from /proc."""
    return bench_common.cpu_seconds(srv.pid(), own=False)


def graceful(srv, timeout):
    subprocess.run(srv.cmd("-k", "graceful"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=srv.env(), check=True)
    time.sleep(2)
    deadline = time.monotonic() + timeout
    while not srv.http_ok() and time.monotonic() < deadline:
        time.sleep(0.05)


def run_one(args, so, workdir, cert, n):
    with bench_common.server(workdir, "acme", n, so, cert) as srv:
        srv.start(args.timeout + n * 0.02)
        store = os.path.join(srv.root, "acme")
        bench_common.wait_records(store, n, args.timeout + n * 0.05)
        if args.live:
            plant_live(store, srv.names, cert[0])
        time.sleep(1.5)        # let the store settle (writes within a second are never trusted)
        out = {}
        pages = (("json", "/acme-status?format=json", None), ("html", "/acme-status", "text/html"))
        for kind, path, accept in pages:
            first = srv.get_ms(path, accept, tries=1)
            t0, c0 = time.monotonic(), children_cpu(srv)
            warm, curl = [], []
            for _ in range(args.tries):
                warm.append(srv.get_ms(path, accept, tries=1))
                curl.append(curl_ms(srv, path, accept))
            busy, span = children_cpu(srv) - c0, time.monotonic() - t0
            c0 = children_cpu(srv)
            time.sleep(span)
            idle = children_cpu(srv) - c0
            out[kind] = [first, warm, (busy - idle) * 1000 / (2 * args.tries),
                         os.getloadavg()[0], curl]
        graceful(srv, args.timeout)
        for kind, path, accept in pages:
            out[kind].append(srv.get_ms(path, accept, tries=1))
        return out


def main():
    ap = bench_common.arguments(__doc__, "1000,10000", 0.02)
    ap.add_argument("--tries", type=int, default=10, help="warm GETs per page [10]")
    ap.add_argument("--live", action="store_true", help="give every domain a live certificate")
    args = ap.parse_args()
    rows = []

    def measure_all(so, workdir):
        cert = scale.static_cert(workdir)
        for n in bench_common.counts(args):
            got = run_one(args, so, workdir, cert, n)
            for kind in ("json", "html"):
                first, warm, cpu, load, curl, restart = got[kind]
                rows.append((kind.upper(), n, "%.1f ms" % first,
                             scale.median_spread(warm, "%.1f ms"),
                             scale.median_spread(curl, "%.1f ms"), "%.1f ms" % cpu,
                             "%.1f ms" % restart, "%.1f" % load))
                print("# N=%d %s: %s" % (n, kind, " | ".join(rows[-1][2:])), flush=True)

    where, _ = bench_common.run("acme-status-bench-", measure_all)
    print("| status page | N | first GET | warm GET, median [min–max] | warm GET by curl "
          "(last byte), median [min–max] | server CPU per warm GET "
          "| first GET after a graceful restart | load (1 min) | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s | %s | ≤ 100 ms |"
              % (r[0], "{:,}".format(r[1]), r[2], r[3], r[4], r[5], r[6], r[7]))
    print()
    print("%s live certificates. Machine: %s." % ("With" if args.live else "Without", where))


if __name__ == "__main__":
    main()
