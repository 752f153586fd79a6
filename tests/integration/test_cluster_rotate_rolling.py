"""AcmeCluster key rotation done the rolling way, one node at a time,
minutes apart: a node given 'AcmeClusterKeyFile NEW OLD' keeps sealing with
OLD while a live node does not hold NEW, so the nodes that still have OLD
alone keep working with it (they serve the http-01 answer it publishes and
take in the renewal it orders); once every node has NEW OLD, every node
seals with NEW (ACME01065), what Redis holds is sealed again with NEW and a
node says the rotation is done (ACME01051). acmectl and the status page
show the stages. Real redis-server, Pebble and httpd, three nodes."""
import re
import time

from cluster import cluster3, node_config, redis, key_file  # noqa: F401
from harness import make_tree, wait_for
import test_cluster_rotate as rot


def sealed_with(redis, key):
    """The key id (hex) the value at key is sealed with (bytes 4..11)."""
    assert redis.cli("GETRANGE", key, "0", "3").strip() == "mac1", key
    return rot.raw_hex(redis.cli("--no-raw", "GETRANGE", key, "4", "11").strip())


def view(node):
    return node.status().get("cluster") or {}


def own_entry(v):
    return next((n for n in v.get("nodes", []) if n.get("node") == v.get("node")), {})


def acmectl_list(node):
    r = node.acmectl("--store", node.store, "list")
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def served(cluster, name):
    return {n.verified_cert(name).serial_number for n in cluster.nodes}


def test_rolling_rotation(cluster3, unique):  # noqa: F811
    c = cluster3
    name = unique("rrot")
    c.configure([name])
    c.start()
    serial = {n.wait_for_pebble_cert(name, timeout=180).serial_number for n in c.nodes}
    assert len(serial) == 1
    serial = serial.pop()
    old_id = rot.key_id(c.key)
    new_key = key_file(make_tree("it-cluster-newkey-"))
    new_id = rot.key_id(new_key)
    a, b, cc = c.nodes
    names = {}
    for n in c.nodes:
        wait_for(lambda: view(n).get("node"), 30, what="the cluster view")
        names[n] = view(n)["node"]

    # Stage 1: A has NEW OLD, B and C OLD alone: A seals with OLD.
    node_config(a, [name], c.redis.url(), "%s %s" % (new_key, c.key))
    a.graceful()
    wait_for(lambda: re.search(r"ACME01066: cluster: key rotation: this node seals with the "
                               r"previous key %s until every live node holds key %s" %
                               (old_id, new_id), a.error_log_text()), 30, what="ACME01066 on A")

    def a_waits_for(who):
        v = view(a)
        r = v.get("rotation") or {}
        return (r.get("state") == "waiting" and sorted(r.get("waiting_for", [])) == sorted(who)
                and own_entry(v).get("key_ids") == [new_id, old_id]
                and own_entry(v).get("seals_with") == old_id and v.get("seals_with") == old_id)
    wait_for(lambda: a_waits_for([names[b], names[cc]]), 40, what="A's view: waiting for B, C")
    assert sealed_with(c.redis, "mod_acme:node:" + names[a]) == old_id
    out = acmectl_list(a)
    print(out)
    assert re.search(r"key rotation %s -> %s: in progress, sealing with %s until node\(s\) "
                     r"(%s, %s|%s, %s) have %s" % (old_id, new_id, old_id, re.escape(names[b]),
                                                  re.escape(names[cc]), re.escape(names[cc]),
                                                  re.escape(names[b]), new_id), out), out
    assert "node %s: last seen" % names[a] in out and "keys %s %s, seals with %s" % (
        new_id, old_id, old_id) in out, out
    st, _, body = a.http_request("/acme-status", headers={"Accept": "text/html"})
    assert st == 200 and re.search(r"Key rotation <code>%s</code> &rarr; <code>%s</code>: "
                                   r"<strong>in progress</strong>, sealing with <code>%s</code>"
                                   % (old_id, new_id, old_id), body.decode()), body[-3000:]

    # A orders a renewal; the CA's fetches go to B and C (A passed over at
    # the balancer): they serve A's answer from Redis, and take in A's
    # certificate, all sealed with OLD.
    marks = [len(n.error_log_text()) for n in c.nodes]
    c.balancer.avoid = {a.http_port}
    r = a.acmectl("--store", a.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: len(served(c, name)) == 1 and serial not in served(c, name), 180,
             what="every node to serve A's renewal (B and C hold OLD only)")
    c.balancer.avoid = set()
    renewed = served(c, name).pop()
    texts = [n.error_log_text()[m:] for n, m in zip(c.nodes, marks)]
    assert re.search(r"ACME01015: %s: this node orders it" % re.escape(name), texts[0]), texts[0]
    assert any("ACME01013" in t for t in texts[1:]), "B/C did not serve A's answer from Redis"
    for t in texts:
        assert not re.search(r"ACME010(11|21|41):", t), t[-3000:]
    assert sealed_with(c.redis, "mod_acme:cert:" + name) == old_id
    assert set(rot.sealed_ids(c.redis).values()) == {old_id}
    assert c.pebble.new_order_count() == 2, c.pebble.request_lines()

    # Stage 2: B has NEW OLD too; A (and B) wait for C alone.
    node_config(b, [name], c.redis.url(), "%s %s" % (new_key, c.key))
    b.graceful()
    wait_for(lambda: a_waits_for([names[cc]]), 40, what="A's view: waiting for C alone")
    out = acmectl_list(a)
    print(out)
    assert re.search(r"sealing with %s until node\(s\) %s have %s" % (
        old_id, re.escape(names[cc]), new_id), out), out
    assert set(rot.sealed_ids(c.redis).values()) == {old_id}

    # Stage 3: C has NEW OLD: every node switches to NEW, re-seals, done.
    marks = [len(n.error_log_text()) for n in c.nodes]
    node_config(cc, [name], c.redis.url(), "%s %s" % (new_key, c.key))
    cc.graceful()
    t0 = time.monotonic()
    states = set()

    def done():
        for n in c.nodes:
            states.add((view(n).get("rotation") or {}).get("state"))
        texts = [n.error_log_text()[m:] for n, m in zip(c.nodes, marks)]
        return (all("ACME01065: cluster: key rotation: every live node holds key %s" % new_id
                    in t for t in texts)
                and any("ACME01051: cluster: key rotation done" in t for t in texts))
    wait_for(done, 120, what="every node to seal with NEW (ACME01065) and ACME01051")
    print("rotation: sealing switched and re-sealing done %.1f s after the last node's "
          "restart; states seen %s" % (time.monotonic() - t0, sorted(s or "-" for s in states)))
    after = rot.sealed_ids(c.redis)
    assert after and set(after.values()) == {new_id}, after

    def all_done():
        vs = [view(n) for n in c.nodes]
        return all(v.get("seals_with") == new_id for v in vs) and any(
            (v.get("rotation") or {}).get("state") == "done" for v in vs)
    wait_for(all_done, 40, what="the views to say: sealing with NEW, rotation done")
    done_node = next(n for n in c.nodes if (view(n).get("rotation") or {}).get("state") == "done")
    out = acmectl_list(done_node)
    print(out)
    assert "key rotation %s -> %s: done" % (old_id, new_id) in out, out
    assert all(e.get("seals_with") == new_id for e in view(done_node)["nodes"]), view(done_node)
    texts = [n.error_log_text()[m:] for n, m in zip(c.nodes, marks)]
    for t in texts:
        assert not re.search(r"ACME010(11|21|41):", t), t[-3000:]
    assert served(c, name) == {renewed}
    assert c.pebble.new_order_count() == 2, c.pebble.request_lines()
