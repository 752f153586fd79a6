"""AcmeCluster key rotation: 'AcmeClusterKeyFile NEW OLD' on every node
(graceful restarts, one node after the other) opens what OLD sealed, seals
everything again with NEW and says when nothing is left under OLD
(ACME01051); then 'AcmeClusterKeyFile NEW' alone works: nothing reordered,
every node kept serving, and a renewal afterwards is taken in by the other
node with NEW only. Real redis-server, Pebble and httpd."""
import hashlib
import os
import re
import time


from cluster import cluster2, key_file, node_config, redis  # noqa: F401
from harness import make_tree, wait_for


def key_id(path):
    """mod_acme's id of a cluster key file: SHA-256 of a label (with its
    NUL) and the key, first 8 bytes, hex."""
    with open(path, "rb") as f:
        return hashlib.sha256(b"mod_acme cluster key id\0" + f.read()).hexdigest()[:16]


def sealed_ids(redis):
    """{key: key id (hex) it is sealed with} of every sealed mod_acme value."""
    out = {}
    for k in redis.keys():
        if redis.cli("TYPE", k).strip() != "string":
            continue
        if redis.cli("GETRANGE", k, "0", "3").strip() != "mac1":
            continue              # plain (claims, versions, fences, the epoch mark)
        raw = redis.cli("--no-raw", "GETRANGE", k, "4", "11").strip()
        out[k] = raw_hex(raw)
    return out


def raw_hex(quoted):
    """redis-cli --no-raw's quoted string ("a\\x01...") as hex."""
    s = quoted[1:-1] if quoted.startswith('"') else quoted
    b = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1] == "x":
            b.append(int(s[i + 2:i + 4], 16))
            i += 4
        elif s[i] == "\\":
            b.append({"n": 10, "r": 13, "t": 9, "a": 7, "b": 8, "\\": 92, '"': 34}[s[i + 1]])
            i += 2
        else:
            b.append(ord(s[i]))
            i += 1
    return bytes(b).hex()


def test_rotate_cluster_key(cluster2, unique):
    name = unique("rot")
    old_key = cluster2.key
    cluster2.configure([name])
    cluster2.start()
    certs = [n.wait_for_pebble_cert(name, timeout=180) for n in cluster2.nodes]
    serial = certs[0].serial_number
    assert {c.serial_number for c in certs} == {serial}
    wait_for(lambda: any(k.startswith("mod_acme:key:%s/" % name) for k in cluster2.redis.keys()),
             30, what="the live key in Redis")
    old_id = key_id(old_key)
    before = sealed_ids(cluster2.redis)
    assert before and set(before.values()) == {old_id}, before

    new_key = key_file(make_tree("it-cluster-newkey-"))
    new_id = key_id(new_key)
    marks = [len(n.error_log_text()) for n in cluster2.nodes]
    for node in cluster2.nodes:   # one node after the other, as an admin would
        node_config(node, [name], cluster2.redis.url(), "%s %s" % (new_key, old_key))
        node.graceful()
        assert node.verified_cert(name).serial_number == serial

    def done():
        return any("ACME01051: cluster: key rotation done" in n.error_log_text()[m:]
                   for n, m in zip(cluster2.nodes, marks))
    wait_for(done, 90, what="a node to say the rotation is done (ACME01051)")
    texts = [n.error_log_text()[m:] for n, m in zip(cluster2.nodes, marks)]
    assert any(re.search(r"ACME01050: cluster: key rotation: \d+ value\(s\) in Redis sealed "
                         r"again with key %s" % new_id, t) for t in texts), texts
    assert any("ACME01007: cluster node" in t and "replacing key %s" % old_id in t for t in texts)
    after = sealed_ids(cluster2.redis)
    assert after and set(after.values()) == {new_id}, after
    # what was there before is still there (re-sealed, not dropped)
    assert set(before) - set(after) <= {k for k in before if k.startswith("mod_acme:node:")
                                        or k.startswith("mod_acme:chal:")}, (before, after)
    # the live certificate's key kept its expiry (re-sealed with KEEPTTL)
    live = [k for k in after if k.startswith("mod_acme:key:%s/" % name)]
    assert live and all(int(cluster2.redis.cli("TTL", k)) > 0 for k in live)

    # the old key file is no longer needed: NEW alone, the old file gone
    os.unlink(old_key)
    marks = [len(n.error_log_text()) for n in cluster2.nodes]
    for node in cluster2.nodes:
        node_config(node, [name], cluster2.redis.url(), new_key)
        node.graceful()
    time.sleep(6)                 # a few polls and heartbeats
    for node, m in zip(cluster2.nodes, marks):
        text = node.error_log_text()[m:]
        assert not re.search(r"ACME010(41|21|22|24|33):", text), text[-3000:]
        assert node.verified_cert(name).serial_number == serial
        c = node.status().get("cluster") or {}
        assert c.get("key_id") == new_id and not c.get("key_mismatch"), c
    assert cluster2.pebble.new_order_count() == 1, cluster2.pebble.request_lines()

    # and the cluster works on NEW alone: a renewal on one node reaches the other
    r = cluster2.nodes[0].acmectl("--store", cluster2.nodes[0].store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr

    def renewed():
        got = {n.verified_cert(name).serial_number for n in cluster2.nodes}
        return len(got) == 1 and serial not in got
    wait_for(renewed, 180, what="both nodes to serve the renewed certificate")
    assert cluster2.pebble.new_order_count() == 2, cluster2.pebble.request_lines()
    assert set(sealed_ids(cluster2.redis).values()) == {new_id}
