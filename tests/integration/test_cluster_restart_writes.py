"""AcmeCluster: a node's graceful restart, or its stop and start, writes
nothing to Redis for certificates Redis already holds as they are. Real
redis-server (watched with MONITOR), Pebble and httpd: a cluster that has
issued its certificates and is idle restarts one node; the write commands
it sends (also those inside Lua scripts, which MONITOR shows as "lua") on
certificate and key records are counted. What is needed is still written:
a key deleted from Redis comes back at the next restart (that one alone),
and during a key rotation the keys sealed with the old cluster key are
sealed again with the new one."""
import datetime
import hashlib
import re
import subprocess
import time

from cryptography.hazmat.primitives import serialization

from cluster import REDIS_CLI, cluster2, key_file, node_config, redis  # noqa: F401
from harness import make_tree, wait_for
from test_cluster_rotate import raw_hex

DAY = 86400
SLACK = 120                           # s: the test's own delays, clocks
WATCH = 12                            # s after a restart: a few polls and a heartbeat
WRITES = {"SET", "SETEX", "PSETEX", "SETNX", "GETSET", "GETDEL", "MSET", "APPEND", "DEL",
          "UNLINK", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "INCR", "INCRBY",
          "DECR", "SADD", "SREM", "RENAME", "COPY"}
# Writes that are not about certificates and keys, and happen whether or
# not anything changed:
#  - the heartbeat every 10 s (and at a parent's first poll): SET
#    mod_acme:node:<node> (the node's view, sealed), SADD mod_acme:nodes,
#    and one EVAL that renews the expiry of mod_acme:nodes, mod_acme:epoch
#    and mod_acme:keycheck (PEXPIRE): the cluster view and the cluster's
#    marks, docs/cluster.md "Cluster view" and "Nothing stays in Redis for ever".
EXCEPTED = [(("SET", "PEXPIRE"), re.compile(r"^mod_acme:node:")),
            (("SADD", "PEXPIRE"), re.compile(r"^mod_acme:nodes$")),
            (("PEXPIRE",), re.compile(r"^mod_acme:(epoch|keycheck)$"))]
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"')


def spki_id(cert):
    """mod_acme's key id: SHA-256 of the DER SubjectPublicKeyInfo, hex."""
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def left_of(cert):
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()


class Monitor:
    """redis-cli MONITOR into a file while the block runs; writes() are the
    write commands seen: (command, key, "lua" or the client's address)."""

    def __init__(self, redis, path):
        self.redis = redis
        self.path = path

    def __enter__(self):
        self.out = open(self.path, "w")
        self.proc = subprocess.Popen([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.redis.port),
                                      "MONITOR"], stdout=self.out, stderr=subprocess.STDOUT)
        wait_for(lambda: open(self.path).read().startswith("OK"), 10, what="MONITOR to start")
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()

    def writes(self):
        out = []
        with open(self.path, errors="replace") as f:
            for line in f:
                m = re.match(r"^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$", line.strip())
                if not m:
                    continue
                args = TOKEN.findall(m.group(2))
                if args and args[0].upper() in WRITES and len(args) > 1:
                    out.append((args[0].upper(), args[1], m.group(1)))
        return out


def record_writes(writes):
    """The writes that are not excepted (EXCEPTED: heartbeats, marks)."""
    return [w for w in writes
            if not any(w[0] in cmds and rx.search(w[1]) for cmds, rx in EXCEPTED)]


def watch(cluster, tag, action):
    """action() under MONITOR, and WATCH seconds after it; prints and
    returns (all writes, record writes)."""
    with Monitor(cluster.redis, "%s/monitor-%s.txt" % (cluster.key_dir, tag)) as mon:
        action()
        time.sleep(WATCH)
    writes = mon.writes()
    rec = record_writes(writes)
    print("%s: %d write command(s) in Redis, %d on certificate/key records: %s"
          % (tag, len(writes), len(rec), sorted((c, k) for c, k, _ in rec)))
    print("%s: excepted (heartbeats, marks): %s"
          % (tag, sorted(set((c, k) for c, k, _ in writes) - set((c, k) for c, k, _ in rec))))
    return writes, rec


def issued_and_idle(cluster, names):
    """Every node serves every name; every live key is in Redis; the epoch
    mark is older than a claim's lifetime (a node that starts with a store
    while the mark is a younger 'fresh' one takes Redis for emptied: see
    docs/cluster.md "Redis emptied"); every node idle. Returns {name: cert}."""
    certs = {}
    for name in names:
        got = {n.wait_for_pebble_cert(name, timeout=240).serial_number for n in cluster.nodes}
        assert len(got) == 1, (name, got)
        certs[name] = cluster.nodes[0].verified_cert(name)
    keys = ["mod_acme:key:%s/%s" % (n, spki_id(c)) for n, c in certs.items()]
    wait_for(lambda: set(keys) <= set(cluster.redis.keys()), 60, what="every live key in Redis")

    def mark_old():
        mark = cluster.redis.cli("GET", "mod_acme:epoch").split()
        now_ms = int(cluster.redis.cli("TIME").split()[0]) * 1000
        return len(mark) == 3 and now_ms - int(mark[1]) > 65000
    wait_for(mark_old, 120, interval=1, what="the epoch mark older than a claim's lifetime")
    for node in cluster.nodes:
        node.wait_idle(timeout=120)
    assert not cluster.redis.keys("mod_acme:lock:*"), cluster.redis.keys("mod_acme:lock:*")
    return certs


def test_restart_writes_only_what_is_missing(cluster2, unique):
    names = [unique("rsw%d" % i) for i in range(3)]
    cluster2.configure(names)
    cluster2.start()
    certs = issued_and_idle(cluster2, names)
    orders = cluster2.pebble.new_order_count()
    assert orders == len(names), cluster2.pebble.request_lines()
    node0, node1 = cluster2.nodes

    _, rec = watch(cluster2, "graceful", node0.graceful)
    assert rec == [], "a graceful restart wrote certificate/key records Redis had: %r" % rec

    def stop_start():
        node1.stop()
        node1.start()
        for name in names:
            node1.wait_for_pebble_cert(name, timeout=30)
    _, rec = watch(cluster2, "stop-start", stop_start)
    assert rec == [], "a stop and start wrote certificate/key records Redis had: %r" % rec

    # A key Redis lost comes back at the next restart: that one alone.
    lost = "mod_acme:key:%s/%s" % (names[0], spki_id(certs[names[0]]))
    assert cluster2.redis.cli("DEL", lost).strip() == "1"
    _, rec = watch(cluster2, "after DEL", node0.graceful)
    assert [(c, k) for c, k, _ in rec] == [("SET", lost)], rec
    ttl = int(cluster2.redis.cli("PTTL", lost).strip()) / 1000.0
    left = left_of(certs[names[0]])
    assert left <= ttl <= left + DAY + SLACK, (ttl, left)
    assert cluster2.redis.cli("GETRANGE", lost, "0", "3").strip() == "mac1"
    for node in cluster2.nodes:
        for name in names:
            assert node.verified_cert(name).serial_number == certs[name].serial_number
    assert cluster2.pebble.new_order_count() == orders, cluster2.pebble.request_lines()


def cluster_key_id(path):
    """mod_acme's id of a cluster key file (as test_cluster_rotate.py)."""
    with open(path, "rb") as f:
        return hashlib.sha256(b"mod_acme cluster key id\0" + f.read()).hexdigest()[:16]


def sealed_with(redis, key):
    """The key id (hex) key's value is sealed with (bytes 4..11)."""
    return raw_hex(redis.cli("--no-raw", "GETRANGE", key, "4", "11").strip())


def test_restart_during_rotation_seals_again(cluster2, unique):
    """AcmeClusterKeyFile NEW OLD on both nodes: the rotation seals
    everything again with NEW and says done; a restart then writes no
    record. A live key Redis still holds sealed with OLD (put back as it was
    before the rotation) is sealed again with NEW by the next restart, that
    key alone, its expiry kept."""
    name = unique("rsr")
    old_key = cluster2.key
    cluster2.configure([name])
    cluster2.start()
    cert = issued_and_idle(cluster2, [name])[name]
    live = "mod_acme:key:%s/%s" % (name, spki_id(cert))
    assert sealed_with(cluster2.redis, live) == cluster_key_id(old_key)
    # outside mod_acme:*, where the rotation does not look
    assert cluster2.redis.cli("COPY", live, "rsw-saved").strip() == "1"

    new_key = key_file(make_tree("it-cluster-newkey-"))
    marks = [len(n.error_log_text()) for n in cluster2.nodes]
    for node in cluster2.nodes:
        node_config(node, [name], cluster2.redis.url(), "%s %s" % (new_key, old_key))
        node.graceful()
    wait_for(lambda: any("ACME01051: cluster: key rotation done" in n.error_log_text()[m:]
                         for n, m in zip(cluster2.nodes, marks)), 150,
             what="a node to say the rotation is done (ACME01051)")
    assert sealed_with(cluster2.redis, live) == cluster_key_id(new_key)
    node0 = cluster2.nodes[0]
    _, rec = watch(cluster2, "rotated graceful", node0.graceful)
    assert rec == [], rec

    assert cluster2.redis.cli("COPY", "rsw-saved", live, "REPLACE").strip() == "1"
    assert sealed_with(cluster2.redis, live) == cluster_key_id(old_key)
    writes, rec = watch(cluster2, "old-sealed graceful", node0.graceful)
    assert [(c, k) for c, k, _ in rec] == [("SET", live)], rec
    assert rec[0][2] != "lua", "sealed again by the rotation's step, not by the restart"
    assert sealed_with(cluster2.redis, live) == cluster_key_id(new_key)
    assert int(cluster2.redis.cli("TTL", live).strip()) > left_of(cert)
    for node in cluster2.nodes:
        assert node.verified_cert(name).serial_number == cert.serial_number
    assert cluster2.pebble.new_order_count() == 1, cluster2.pebble.request_lines()
