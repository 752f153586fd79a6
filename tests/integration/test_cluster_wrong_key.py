"""AcmeCluster with a wrong AcmeClusterKeyFile on one node: the node says so
(both key ids), orders nothing, takes nothing in and overwrites nothing in
Redis; it never serves what it cannot open."""
import json
import re
import time

from cluster import assert_one_order_each, cluster3, key_file, node_config, redis  # noqa: F401
from harness import make_tree, ssl_vhost, wait_for


def test_wrong_key_file_on_one_node(cluster3, unique):
    name = unique("wkey")
    good, bad = cluster3.nodes[:2], cluster3.nodes[2]
    for node in good:
        node_config(node, [name], cluster3.redis.url(), cluster3.key)
    wrong = key_file(make_tree("it-cluster-wrongkey-"))
    node_config(bad, [name], cluster3.redis.url(), wrong)
    for node in good:
        node.start()
    serials = set(n.wait_for_pebble_cert(name, timeout=180).serial_number for n in good)
    assert len(serials) == 1, serials
    ver = cluster3.redis.cli("GET", "mod_acme:ver:%s" % name).strip()
    # the record changes only with its version (one Lua script writes both)
    cert_len = cluster3.redis.cli("STRLEN", "mod_acme:cert:%s" % name).strip()
    assert ver and int(cert_len) > 0
    bad.start()
    said = re.compile(r"ACME0102[14]: .*sealed with cluster key [0-9a-f]+, but this node's")
    wait_for(lambda: said.search(bad.error_log_text()), 60,
             what="the node with the wrong key to say so")
    time.sleep(8)                     # a gate retry and several polls later
    text = bad.error_log_text()
    assert "ACME01023" not in text, "took in what it cannot open"
    assert "ACME01015" not in text, "ordered with a wrong key"
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    assert cluster3.redis.cli("GET", "mod_acme:ver:%s" % name).strip() == ver
    assert cluster3.redis.cli("STRLEN", "mod_acme:cert:%s" % name).strip() == cert_len
    served = bad.served_cert(name)
    assert served.serial_number not in serials, "serves the cluster's certificate without its key"
    assert_no_status_prefix(text)


def assert_no_status_prefix(text):
    """The key's refusal is in the message: no errno or APR status before
    the tag (such a status would be left over from another call)."""
    stale = [l for l in text.splitlines()
             if re.search(r"\] \(\d+\)[^\]]*: ACME010(14|21|41|22|33|27)", l)]
    assert not stale, stale


METRICS = """<Location /acme-metrics>
    SetHandler acme-metrics
</Location>"""


def configure(node, name, redis_url, key):
    node.write_config(vhosts=ssl_vhost(name), plain_vhost_extra=METRICS,
                      acme={"AcmeCluster": redis_url, "AcmeClusterKeyFile": key,
                            "AcmeChallenges": "http-01"})


def redis_snapshot(redis, keep_heartbeat_of):
    """Every mod_acme key with what can tell a write by the node with the
    other key: for a sealed value (magic "mac1") the key id it was sealed
    with (a node re-publishing the same key rewrites it with a new nonce),
    else the value itself. The heartbeats the nodes with the right key
    refresh every 10 s are left out (the one of keep_heartbeat_of stays)."""
    snap = {}
    for k in redis.keys():
        if k.startswith("mod_acme:node:") and keep_heartbeat_of not in k:
            continue
        kind = redis.cli("TYPE", k).strip()
        if kind == "string" and redis.cli("--no-raw", "GETRANGE", k, "0", "3").strip() == '"mac1"':
            snap[k] = ("sealed with", redis.cli("--no-raw", "GETRANGE", k, "4", "11"))
        elif kind == "string":
            snap[k] = redis.cli("--no-raw", "GET", k)
        elif kind == "set":
            snap[k] = tuple(sorted(redis.cli("SMEMBERS", k).splitlines()))
        else:
            snap[k] = kind
    return snap


def metric(node, name):
    st, _, body = node.http_request("/acme-metrics")
    assert st == 200, st
    body = body.decode() if isinstance(body, bytes) else body
    m = re.search(r"^%s\{[^}]*\} (\S+)$" % re.escape(name), body, re.M)
    return float(m.group(1)) if m else None


def test_node_restarted_with_another_key_writes_nothing(cluster3, unique):
    """A node that had its certificate gets another AcmeClusterKeyFile and
    restarts: it finds that mod_acme:keycheck does not open with its key,
    says so naming the file (ACME01041), writes nothing sealed to Redis (no
    key under a new name; its heartbeat only in clear: its key id and when
    it was seen, no secret), orders nothing even when told to renew
    (ACME01014), shows it on the status page and in the metrics, and keeps
    serving the certificate it has."""
    name = unique("wkey2")
    for node in cluster3.nodes:
        configure(node, name, cluster3.redis.url(), cluster3.key)
    serials = assert_one_order_each(cluster3, [name], 180)[name]
    bad = cluster3.nodes[1]
    bad.stop()
    wrong = key_file(make_tree("it-cluster-wrongkey-"))
    configure(bad, name, cluster3.redis.url(), wrong)
    before = redis_snapshot(cluster3.redis, "\0")        # no heartbeat: they change
    assert any(k.startswith("mod_acme:key:%s/" % name) for k in before), before
    since = len(bad.error_log_text())
    bad.start()
    said = re.compile(r"ACME01041: cluster: this node's AcmeClusterKeyFile %s is not the "
                      r"cluster's: .*sealed with cluster key [0-9a-f]+, but this node's .*"
                      r"advice: copy %s" % (re.escape(wrong), re.escape(wrong)))
    wait_for(lambda: said.search(bad.error_log_text()[since:]), 60,
             what="the node with the other key to say so")
    r = bad.acmectl("--store", bad.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: re.search(r"ACME01014: cluster: .*AcmeClusterKeyFile: %s\); this node "
                               r"orders nothing" % re.escape(wrong),
                               bad.error_log_text()[since:]), 90,
             what="the renewal refused for the key")

    def shown():
        c = bad.status().get("cluster") or {}
        return c.get("key_mismatch") is True and c
    c = wait_for(shown, 40, what="the status page to show the key mismatch")
    assert wrong in c["error"] and c["redis"] == "reachable" and "down_since" not in c, c
    assert metric(bad, "acme_cluster_key_mismatch") == 1
    assert metric(cluster3.nodes[0], "acme_cluster_key_mismatch") == 0
    time.sleep(4)                     # more polls of the node with the other key
    assert_no_status_prefix(bad.error_log_text())
    after = redis_snapshot(cluster3.redis, "\0")
    beat = [k for k in cluster3.redis.keys("mod_acme:node:*") if k.endswith(bad.serverroot)]
    assert len(beat) == 1, beat
    beat = json.loads(cluster3.redis.cli("GET", beat[0]))
    assert beat["key_mismatch"] is True and beat["key_ids"] == [c["key_id"]], beat
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                             if before.get(k) != after.get(k)}
    assert bad.verified_cert(name).serial_number in serials
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    text = bad.error_log_text()[since:]
    assert "ACME01015" not in text and "ACME01023" not in text, text[-3000:]
