"""AcmeCluster with a wrong AcmeClusterKeyFile on one node: the node says so
(both key ids), orders nothing, takes nothing in and overwrites nothing in
Redis; it never serves what it cannot open."""
import re
import time

from cluster import cluster3, key_file, node_config, redis  # noqa: F401 (fixtures)
from harness import make_tree, wait_for


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
