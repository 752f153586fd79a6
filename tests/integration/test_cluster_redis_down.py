"""AcmeCluster with Redis gone: nodes that have their certificate keep
serving it, also across a restart with Redis down; Redis back empty: they
say it is reachable again, and nothing is ordered again."""
import re
import shutil
import time

from cluster import assert_one_order_each, cluster3, redis  # noqa: F401 (fixtures)
from harness import wait_for


def test_redis_down_then_back_empty(cluster3, unique):
    name = unique("rdown")
    cluster3.configure([name])
    serials = assert_one_order_each(cluster3, [name], 180)[name]
    cluster3.redis.stop()
    for node in cluster3.nodes:
        node.stop()
    t0 = time.monotonic()
    # What each node logs from this start on (before it, a node still
    # running when Redis stopped may have said so already).
    since = {node: len(node.error_log_text()) for node in cluster3.nodes}
    for node in cluster3.nodes:
        node.start()
    for node in cluster3.nodes:
        assert node.wait_for_pebble_cert(name, timeout=30).serial_number in serials
    print("redis down: all nodes serve their certificate %.1f s after start"
          % (time.monotonic() - t0))
    for node in cluster3.nodes:
        wait_for(lambda: "ACME01019" in node.error_log_text()[since[node]:], 30,
                 what="the node to say Redis is not reachable")
    cluster3.redis.start()            # same port, empty
    for node in cluster3.nodes:
        wait_for(lambda: "ACME01020" in node.error_log_text()[since[node]:], 30,
                 what="the node to find Redis again")
    time.sleep(6)                     # gate retries and polls against the empty Redis
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    for node in cluster3.nodes:
        assert node.verified_cert(name).serial_number in serials
        assert not re.search(r"ACME01015: %s" % re.escape(name), node.error_log_text().split(
            "ACME01019", 1)[1]), "ordered again"


def test_flushall_is_restored_from_the_stores(cluster3, unique):
    """Redis emptied under running nodes (FLUSHALL): the certificates come
    back from the nodes' own stores, once each (ACME01030), with their keys;
    nothing is ordered. A node whose store is then wiped takes the restored
    certificate in from Redis instead of ordering."""
    names = [unique("fl%d" % i) for i in range(2)]
    cluster3.configure(names)
    serials = assert_one_order_each(cluster3, names, 180)
    cluster3.redis.cli("FLUSHALL")
    t0 = time.monotonic()

    def restored():
        return all(cluster3.redis.keys("mod_acme:cert:%s" % n)
                   and cluster3.redis.keys("mod_acme:key:%s/*" % n) for n in names)
    wait_for(restored, 30, what="the certificates and keys back in Redis")
    print("flushall: restored %.1f s after FLUSHALL" % (time.monotonic() - t0))
    time.sleep(5)                     # every node's polls see the restored versions
    logs = "".join(n.error_log_text() for n in cluster3.nodes)
    for name in names:
        assert len(re.findall(r"ACME01030: %s: certificate \S+ re-published to the cluster from "
                              r"this node's store \(version \d+; Redis had none\)"
                              % re.escape(name), logs)) == 1, name
    assert cluster3.pebble.new_order_count() == len(names), cluster3.pebble.request_lines()
    assert cluster3.redis.keys("mod_acme:lock:*") == []
    # A node with an empty store: the restored record is taken in, not ordered.
    node = cluster3.nodes[2]
    node.stop()
    shutil.rmtree(node.store)
    before = len(node.error_log_text())
    node.start()
    for name in names:
        assert node.wait_for_pebble_cert(name, timeout=60).serial_number in serials[name]
        taken = re.search(r"ACME01023: %s: certificate \S+ published by cluster node (\S+) "
                          r"staged" % re.escape(name), node.error_log_text()[before:])
        assert taken, "not taken in from Redis"
        # the node named is the one that re-published it (ACME01030), whoever ordered it
        publisher = [n for n in cluster3.nodes
                     if re.search(r"ACME01030: %s: " % re.escape(name), n.error_log_text())]
        assert len(publisher) == 1 and taken.group(1).endswith(publisher[0].serverroot), \
            (taken.group(0), [n.serverroot for n in publisher])
    assert cluster3.pebble.new_order_count() == len(names), cluster3.pebble.request_lines()
