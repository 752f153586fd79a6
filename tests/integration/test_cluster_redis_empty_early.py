"""AcmeCluster with its Redis restarted EMPTY within the cluster's first
seconds: one node has started, marked Redis and claimed an order (held at a
proxy gate in front of Pebble right after the order was created); Redis goes
away and comes back empty; then the other two nodes start and look at it for
the first time. They never saw its epoch mark and their stores have nothing,
so for them an empty Redis could be a new cluster's: they mark it 'fresh',
and a fresh mark takes no claim for a few seconds, in which the first node's
root (it knew the old mark; it retries a refused connection at its poll pace)
finds it and makes it 'emptied'. No node orders it a second time; the first
node claims it again and finishes the one order; every node serves it."""
import re
import time

from cluster import assert_cluster_served, ca_proxy, cluster3, log_lines, redis  # noqa: F401
from harness import wait_for

DOWN_FOR = 3         # seconds Redis is away: the first node's root fails a poll meanwhile
HELD = 15            # seconds the order stays held after the late nodes started


def test_redis_emptied_before_the_other_nodes_looked(cluster3, ca_proxy, unique):
    name = unique("rearly")
    cluster3.configure([name], extra_acme={"AcmeCA": ca_proxy.directory_url})
    gate = ca_proxy.gate("POST", r"^/authZ/", timeout=600)
    first, late = cluster3.nodes[0], cluster3.nodes[1:]
    first.start()
    wait_for(gate.held.is_set, 180, what="the authorization fetch at the proxy gate")
    assert cluster3.pebble.new_order_count() == 1
    assert re.search(r"ACME01015: %s: this node orders it" % re.escape(name), first.error_log_text())
    cluster3.redis.stop()
    time.sleep(DOWN_FOR)
    cluster3.redis.start()            # same port, nothing kept
    # nothing of the cluster kept (no epoch mark, no claim, no certificate);
    # the first node may have named itself again already (its node entry
    # and the node list, written at its next look)
    kept = [k for k in cluster3.redis.keys("mod_acme:*")
            if k != "mod_acme:nodes" and not k.startswith("mod_acme:node:")]
    assert not kept, kept
    restarted_at = time.monotonic()
    for node in late:
        node.start()
    # The late nodes' gates look at Redis (every 1 to 5 s) meanwhile.
    time.sleep(max(0, HELD - (time.monotonic() - restarted_at)))
    assert cluster3.pebble.new_order_count() == 1, "ordered again while Redis was empty"
    assert "emptied" in cluster3.redis.cli("GET", "mod_acme:epoch")
    assert log_lines([first], r"ACME01039: cluster: Redis lost its data")
    waits = log_lines(late, r"ACME01176: %s: not ordering here now: (Redis lost its data|Redis "
                      r"holds no mark|Redis was marked as a new cluster's|cluster node)"
                      % re.escape(name))
    assert waits, "the late nodes never asked"
    ca_proxy.open_gates()
    serials = assert_cluster_served(cluster3, [name], 240)
    print("redis emptied before the late nodes looked: served everywhere %.1f s after the restart"
          % (time.monotonic() - restarted_at))
    assert len(serials[name]) == 1, serials
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    assert len(log_lines(cluster3.nodes, r"ACME01015: %s: this node orders it"
                         % re.escape(name))) == 1
    assert len(log_lines(cluster3.nodes, r"ACME01017: %s: certificate published"
                         % re.escape(name))) == 1
    wait_for(lambda: not cluster3.redis.keys("mod_acme:lock:*"), 30, what="the claim released")
