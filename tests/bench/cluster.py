#!/usr/bin/python3
"""Cluster benchmark: three AcmeCluster nodes (one real redis-server, a
round-robin balancer on the port Pebble validates at) against one node
without AcmeCluster, for N domains (default 50), each against a fresh Pebble.

Per setup it prints: start -> every name served (TLS, chain verified against
Pebble's root, hostname checked) on every node; orders at Pebble per
certificate (must be 1); and for the cluster the Redis round trips: every
command a client sent (counted with MONITOR; commands run inside Lua scripts
are not round trips and are left out), per issued certificate, with the
share of the background traffic (each node's 2 s version poll and 10 s
heartbeat) measured over an idle period afterwards and taken out. The load
average before and after each setup is printed with it: the machine may be
shared. A benchmark, not a test: it reports, and fails only when a setup did
not finish (a name not served by the timeout, more than one order per name).

  tests/bench/run-cluster [--n 50] [--timeout S] [--idle 20] [--setups single,cluster]
ACME_BUILD_DIR names the build directory holding .libs/mod_acme.so.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from cluster import REDIS_CLI, Balancer, Redis, key_file, node_config  # noqa: E402
from harness import free_port, ssl_vhost  # noqa: E402


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Monitor:
    """redis-cli MONITOR in the background: counts client commands (one line
    each; '[db lua]' lines are commands inside scripts) by command name."""

    def __init__(self, redis):
        self.proc = subprocess.Popen([REDIS_CLI, "-h", "127.0.0.1", "-p", str(redis.port),
                                      "MONITOR"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, errors="replace")
        self.lock = threading.Lock()
        self.by_command = collections.Counter()
        self.clients = set()
        self.total = 0
        self.lua = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        line_re = re.compile(r'^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"(?: "mod_acme:([a-z]+))?')
        for line in self.proc.stdout:
            m = line_re.match(line)
            if not m:
                continue
            with self.lock:
                if m.group(1) == "lua":
                    self.lua += 1
                    continue
                self.total += 1
                self.by_command[m.group(2).upper() + (" " + m.group(3) if m.group(3) else "")] += 1
                self.clients.add(m.group(1))

    def snapshot(self):
        with self.lock:
            return self.total, collections.Counter(self.by_command), len(self.clients), self.lua

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def served_everywhere(nodes, names, deadline):
    """Waits until every node serves every name a certificate that verifies
    against Pebble's root; returns the serials per name."""
    serials = {}
    for node in nodes:
        for name in names:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s not served by %s in time" % (name, node.serverroot))
            cert = node.wait_for_pebble_cert(name, timeout=left)
            serials.setdefault(name, set()).add(cert.serial_number)
    return serials


def run_setup(kind, n, timeout, idle, keep):
    workdir = harness.make_tree("bench-cluster-")
    row = {"setup": kind, "n": n, "load_before": load()}
    dns = redis = balancer = pebble = monitor = None
    nodes = []
    try:
        dns = harness.ChallTestSrv(workdir).start()
        tag = uuid.uuid4().hex[:6]
        names = ["c%03d-%s.bench.test" % (i, tag) for i in range(n)]
        if kind == "cluster":
            redis = Redis(harness.make_tree("bench-redis-")).start()
            ports = [free_port() for _ in range(3)]
            balancer = Balancer(ports)
            pebble = harness.private_pebble(workdir, dns.dns_port, "cluster",
                                            http_port=balancer.port)
            key = key_file(workdir)
            for i, p in enumerate(ports):
                node = harness.Httpd(pebble=pebble, http_port=p, https_port=free_port(),
                                     prefix="bench-cluster-n%d-" % i)
                node_config(node, names, redis.url(), key)
                nodes.append(node)
            monitor = Monitor(redis)
            time.sleep(0.5)           # MONITOR attached before the first node starts
        else:
            pebble = harness.private_pebble(workdir, dns.dns_port, "single")
            node = harness.Httpd(pebble=pebble, prefix="bench-single-")
            node.write_config(vhosts="".join(ssl_vhost(x) for x in names),
                              acme={"AcmeChallenges": "http-01"})
            nodes.append(node)
        t0 = time.monotonic()
        for node in nodes:
            node.start()
        serials = served_everywhere(nodes, names, t0 + timeout)
        row["served_s"] = time.monotonic() - t0
        row["orders"] = pebble.new_order_count()
        row["orders_per_cert"] = row["orders"] / n
        if monitor:
            total, by_command, clients, lua = monitor.snapshot()
            time.sleep(idle)          # background only: polls and heartbeats
            total2, _, _, _ = monitor.snapshot()
            rate = (total2 - total) / idle
            row.update(rt_total=total, rt_per_cert=total / n, rt_background_per_s=rate,
                       rt_issuance_per_cert=max(0.0, total - rate * row["served_s"]) / n,
                       rt_top=", ".join("%s %d" % kv for kv in by_command.most_common(10)),
                       connections=clients, lua_inner=lua)
        logs = "".join(nd.error_log_text() for nd in nodes)
        problems = ["%s: %d serials" % (x, len(serials[x])) for x in names if len(serials[x]) != 1]
        if kind == "cluster":         # one publisher per name
            counts = {x: len(re.findall(r"ACME01017: %s: certificate published" % re.escape(x),
                                        logs)) for x in names}
            problems += ["%s published %d times" % (x, c) for x, c in counts.items() if c != 1]
        if row["orders"] != n:
            problems.append("%d orders for %d certificates" % (row["orders"], n))
        row["status"] = "error: %s" % "; ".join(problems[:5]) if problems else "ok"
        keep = keep or bool(problems)
    except (TimeoutError, harness.HarnessError, AssertionError) as exc:
        row["status"] = "error: %s" % str(exc).splitlines()[0][:200]
        keep = True
    finally:
        row["load_after"] = load()
        if monitor:
            monitor.stop()
        for node in nodes:
            try:
                node.stop()
            except Exception:         # noqa: BLE001 (a benchmark reports and goes on)
                pass
            node.kill_leftovers()
            if not keep:
                node.cleanup()
        for d in (balancer, pebble, redis, dns):
            if d:
                (d.close if isinstance(d, Balancer) else d.stop)()
        if keep:
            print("kept %s and the nodes' trees" % workdir, file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if redis:
                shutil.rmtree(redis.workdir, ignore_errors=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50, help="domains [50]")
    ap.add_argument("--setups", default="single,cluster", help="single,cluster")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per setup [120 + 6 per domain]")
    ap.add_argument("--idle", type=float, default=20,
                    help="seconds of background traffic measured after [20]")
    ap.add_argument("--keep", action="store_true", help="keep every directory")
    args = ap.parse_args()
    harness.require_build()
    timeout = args.timeout or 120 + 6 * args.n
    rows = [run_setup(kind, args.n, timeout, args.idle, args.keep)
            for kind in args.setups.split(",")]
    print("\n| setup | N | start → all served on every node | orders per certificate "
          "| Redis round trips per certificate (all / issuance) | background round trips/s "
          "| load before → after | status |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        served = "%.1f s" % r["served_s"] if "served_s" in r else "-"
        opc = "%.2f" % r["orders_per_cert"] if "orders_per_cert" in r else "-"
        rt = ("%.1f / %.1f" % (r["rt_per_cert"], r["rt_issuance_per_cert"])
              if "rt_per_cert" in r else "-")
        bg = "%.1f" % r["rt_background_per_s"] if "rt_background_per_s" in r else "-"
        print("| %s | %d | %s | %s | %s | %s | %s → %s | %s |" % (
            "cluster of 3" if r["setup"] == "cluster" else "single node", r["n"], served, opc,
            rt, bg, r["load_before"], r["load_after"], r["status"]))
    for r in rows:
        if "rt_top" in r:
            print("\ncluster: %d client commands in all (%s), %d client connections, "
                  "%d commands inside Lua scripts (not round trips)"
                  % (r["rt_total"], r["rt_top"], r["connections"], r["lua_inner"]))
    bad = [r for r in rows if r["status"] != "ok"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
