"""A node given another AcmeClusterKeyFile under a running cluster (the key
checked at its graceful restart): it keeps beating, in clear (its key id,
no secret), every other node's view (status page JSON and HTML, acmectl)
shows it holding the wrong key, and an order for a name added afterwards is
not offered to the CA while it runs: the CA's validation fetch may reach
it (Pebble validates through the balancer, round robin over the nodes) and
it cannot open the answers. Once it has the cluster's key again, the order
goes on: one new order at the CA, valid, served by both nodes."""
import json
import re
import time

from cluster import cluster2, key_file, node_config, redis  # noqa: F401
from harness import make_tree, wait_for


def test_wrong_key_node_holds_orders(cluster2, unique):
    a, b = unique("wkh-a"), unique("wkh-b")
    bad, good = cluster2.nodes
    url = cluster2.redis.url()
    cluster2.configure([a])
    cluster2.start()
    for node in cluster2.nodes:
        node.wait_for_pebble_cert(a, timeout=180)
    orders = cluster2.pebble.new_order_count()

    wrong = key_file(make_tree("it-cluster-wrongkey-"))
    node_config(bad, [a], url, wrong)
    since = len(bad.error_log_text())
    bad.graceful()
    wait_for(lambda: "ACME01041" in bad.error_log_text()[since:], 60,
             what="the node with the other key to say so")
    wrong_id = wait_for(lambda: (bad.status().get("cluster") or {}).get("key_mismatch")
                        and bad.status()["cluster"]["key_id"], 30, what="its own view")

    def seen_wrong():
        c = good.status().get("cluster") or {}
        return [n for n in c.get("nodes", []) if n.get("key_mismatch")]
    entry = wait_for(seen_wrong, 60, what="the other node's view to show the wrong key")[0]
    assert entry["node"].endswith(bad.serverroot), entry
    assert entry["key_ids"] == [wrong_id] and "certificates" not in entry, entry
    beat = json.loads(cluster2.redis.cli("GET", "mod_acme:node:%s" % entry["node"]))
    assert beat["key_mismatch"] is True and beat["key_ids"] == [wrong_id], beat
    assert set(beat) == {"node", "last_seen", "key_ids", "key_mismatch"}, beat
    listed = good.acmectl("--store", good.store, "list")
    assert re.search(r"node %s: last seen \S+, WRONG CLUSTER KEY, keys %s"
                     % (re.escape(entry["node"]), wrong_id), listed.stdout), listed.stdout
    st, _, html = good.http_request("/acme-status?format=html")
    assert st == 200 and b"wrong cluster key" in html, html[-3000:]
    assert re.search(r"ACME01072: cluster: node %s holds another AcmeClusterKeyFile \(key %s"
                     % (re.escape(entry["node"]), wrong_id), good.error_log_text())

    # a name added to both: not offered to the CA while the node runs with the other key
    node_config(good, [a, b], url, cluster2.key)
    node_config(bad, [a, b], url, wrong)
    good_since = len(good.error_log_text())
    good.graceful()
    bad.graceful()
    held = re.compile(r"ACME01176: %s: not ordering here now: cluster node %s \(key %s, "
                      r"last seen [^)]+\) holds another AcmeClusterKeyFile .* advice: copy "
                      r"this node's AcmeClusterKeyFile %s to %s"
                      % (re.escape(b), re.escape(entry["node"]), wrong_id,
                         re.escape(cluster2.key), re.escape(entry["node"])))
    wait_for(lambda: held.search(good.error_log_text()[good_since:]), 60,
             what="the order held for the node with the other key")
    time.sleep(12)                    # a retry of the gate later
    assert cluster2.pebble.new_order_count() == orders, cluster2.pebble.request_lines()
    assert "ACME01015: %s" % b not in good.error_log_text()[good_since:]

    # the node gets the cluster's key: the order goes on
    node_config(bad, [a, b], url, cluster2.key)
    bad.graceful()
    serials = {n.wait_for_pebble_cert(b, timeout=180).serial_number for n in cluster2.nodes}
    assert len(serials) == 1, serials
    assert cluster2.pebble.new_order_count() == orders + 1, cluster2.pebble.request_lines()
