"""AcmeCluster through redis-sentinel:// across a real failover: a
redis-server master, a replica of it and three redis-sentinel processes on
loopback (quorum 2, down-after 1 s). The master is killed (kill -9); the
sentinels promote the replica; the nodes follow it at their next
reconnection: their heartbeats reach the new master, and a renewal started
after the failover takes its order claim, publishes its challenge answer
and its certificate through the new master, with one order at the CA and
every node serving the new certificate."""
import os
import re
import time

import harness
from cluster import REDIS_BIN, REDIS_CLI, Cluster, Redis, Sentinel
from harness import kill9, run, wait_for

MASTER = "mymaster"


class Replica(Redis):
    """redis-server replicating master (no persistence), ready once its
    link to the master is up."""
    name = "redis-replica"

    def __init__(self, workdir, master):
        super().__init__(workdir)
        self.master = master

    def start(self, timeout=20):
        self._spawn([REDIS_BIN, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                     "--appendonly", "no", "--dir", self.workdir, "--protected-mode", "no",
                     "--replicaof", "127.0.0.1", str(self.master.port)])

        def linked():
            self.check_running()
            return "master_link_status:up" in self.cli("INFO", "replication")
        wait_for(linked, timeout, what="replica on 127.0.0.1:%d linked to its master" % self.port)
        return self


class QuickSentinel(Sentinel):
    """A sentinel of a group (quorum 2) with short timeouts: the master is
    down 1 s after it stops answering, a failover may take 3 s."""

    def start(self, timeout=10):
        conf = os.path.join(self.workdir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds %s 1000\n"
                    "sentinel failover-timeout %s 3000\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (self.port, self.workdir, self.master_name, self.master.port,
                       self.master_name, self.master_name, self.master_name))
        self._spawn([REDIS_BIN, conf, "--sentinel"])
        wait_for(lambda: self.check_running() or str(self.master.port) in self.ask(
            "get-master-addr-by-name"), timeout, what="sentinel on 127.0.0.1:%d" % self.port)
        return self

    def ask(self, command):
        """SENTINEL <command> <master name>: its output."""
        return run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port), "SENTINEL", command,
                    self.master_name], timeout=10).stdout

    def master_port(self):
        lines = self.ask("get-master-addr-by-name").split()
        return int(lines[1]) if len(lines) >= 2 else None


def test_sentinel_failover_nodes_follow_the_new_master(workdir, challtestsrv, httpd_factory,
                                                       unique):
    started = []

    def up(server, what):
        try:
            server.start()
        except Exception:
            server.stop()
            raise AssertionError("%s did not start:\n%s" % (what, harness.tail(server.log_path)))
        started.append(server)
        return server

    cluster = None
    try:
        master = up(Redis(harness.make_tree("it-fo-master-")), "redis master")
        # a full sync at once, not after the diskless delay
        master.cli("CONFIG", "SET", "repl-diskless-sync-delay", "0")
        replica = up(Replica(harness.make_tree("it-fo-replica-"), master), "redis replica")
        sentinels = [up(QuickSentinel(harness.make_tree("it-fo-sentinel%d-" % i), master),
                        "sentinel %d" % i) for i in range(3)]

        def group_known():
            return all(re.search(r"\b%d\b" % replica.port, s.ask("replicas"))
                       and s.ask("sentinels").count("127.0.0.1") >= 2 for s in sentinels)
        wait_for(group_known, 30, what="each sentinel to know the replica and the other two")

        name = unique("failover")
        cluster = Cluster(workdir, challtestsrv, httpd_factory, master, n=2, label="fo")
        url = "redis-sentinel://%s/%s" % (
            ",".join("127.0.0.1:%d" % s.port for s in sentinels), MASTER)
        cluster.configure([name], url=url)
        cluster.start()
        serials = {n.wait_for_pebble_cert(name, timeout=120).serial_number
                   for n in cluster.nodes}
        assert len(serials) == 1 and cluster.pebble.new_order_count() == 1, serials
        wait_for(lambda: replica.cli("GET", "mod_acme:fence:%s" % name).strip() == "1", 10,
                 what="the claim's fencing token replicated")

        # The master dies; the sentinels promote the replica.
        t0 = time.monotonic()
        kill9([master.proc.pid])
        wait_for(lambda: all(s.master_port() == replica.port for s in sentinels), 60,
                 interval=0.2, what="the sentinels to promote the replica")
        promoted = time.monotonic() - t0
        assert "role:master" in replica.cli("INFO", "replication")
        failed_over = harness.utcnow().replace(microsecond=0)

        # Every node's parent reaches the new master: its heartbeat is written
        # there, and its view says Redis is reachable again.
        def followed():
            if len(replica.keys("mod_acme:node:*")) < 2:
                return False
            views = [n.status().get("cluster") or {} for n in cluster.nodes]
            return all(v.get("redis") == "reachable"
                       and harness.parse_time(v.get("last_contact", "1970-01-01T00:00:00Z"))
                       >= failed_over for v in views)
        wait_for(followed, 60, what="both nodes' views to reach the new master")
        followed_s = time.monotonic() - t0

        # An issuance started after the failover: its claim, answers and
        # certificate go through the new master.
        renew_from = len(cluster.nodes[1].error_log_text())   # either node may have ordered the first
        out = cluster.nodes[1].acmectl("--store", cluster.nodes[1].store, "renew", name)
        assert out.returncode == 0, out
        fresh = set()
        for node in cluster.nodes:
            fresh.add(harness.wait_for_new_cert(node, name, next(iter(serials)), 180)
                      .serial_number)
        done = time.monotonic() - t0
        assert len(fresh) == 1 and not fresh & serials, (fresh, serials)
        assert cluster.pebble.new_order_count() == 2, cluster.pebble.request_lines()
        assert replica.cli("GET", "mod_acme:fence:%s" % name).strip() == "2", \
            "the claim was not taken on the new master"
        assert replica.keys("mod_acme:lock:*") == [], "claim not released on the new master"
        logs = [n.error_log_text() for n in cluster.nodes]
        assert len(re.findall(r"ACME01017: %s: certificate published" % re.escape(name),
                              logs[1][renew_from:])) == 1, \
            "the renewal was not published by the renewing node"
        assert sum(len(re.findall(r"ACME01017: %s: certificate published" % re.escape(name), t))
                   for t in logs) == 2
        print("sentinel failover: promoted %.1f s after kill -9, nodes on the new master after "
              "%.1f s, renewed certificate served on both nodes after %.1f s"
              % (promoted, followed_s, done))
    finally:
        if cluster:
            cluster.close()
        for server in reversed(started):
            server.stop()
