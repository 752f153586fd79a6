#!/usr/bin/env python3
"""Static requests/s with N AcmeDomain vhosts configured, mod_acme loaded
against not loaded (the hot path's cost), apart from the status page and
the scale rows of scale.py.

For each of acme, plain, acme (so a drift of the machine shows): the N SSL
vhosts of scale.Server with the CA unreachable, wrk (1 thread, 8 keep-alive
connections) on /small.txt of the plain vhost 3 s and 23 s after start.
Prints one line per server and the ratio of the medians. A benchmark: it
never fails on the numbers.

Usage: static_rps.py [--n 1000] [--seconds 5]   (root; wrk; ACME_BUILD_DIR)"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="AcmeDomain vhosts [1000]")
    ap.add_argument("--seconds", type=int, default=5, help="seconds per wrk run [5]")
    args = ap.parse_args()
    so = os.path.join(os.environ.get("ACME_BUILD_DIR", scale.REPO_ROOT), ".libs", "mod_acme.so")
    wd = tempfile.mkdtemp(prefix="acme-static-rps-")
    os.chmod(wd, 0o755)
    got = {"acme": [], "plain": []}
    try:
        cert = scale.static_cert(wd)
        for mode in ("acme", "plain", "acme"):
            srv = scale.Server(wd, mode, args.n, so, cert)
            try:
                srv.start(120 + args.n * 0.02)
                rates = []
                for wait in (3, 20):
                    time.sleep(wait)
                    rates.append(scale.wrk_rps(srv.http, "/small.txt", "localhost", args.seconds))
                got[mode] += rates
                print("%-5s N=%d: %s req/s, load %.1f" % (mode, args.n,
                      " / ".join("%.0f" % r for r in rates), os.getloadavg()[0]), flush=True)
            finally:
                srv.stop()
                shutil.rmtree(srv.root, ignore_errors=True)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    a, p = statistics.median(got["acme"]), statistics.median(got["plain"])
    print("static req/s, module loaded / not: %.0f / %.0f = %.2f (range %.2f-%.2f)"
          % (a, p, a / p, min(got["acme"]) / max(got["plain"]),
             max(got["acme"]) / min(got["plain"])))


if __name__ == "__main__":
    main()
