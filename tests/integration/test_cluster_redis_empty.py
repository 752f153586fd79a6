"""AcmeCluster with its Redis restarted EMPTY (no RDB, no AOF) while one node
orders a certificate (held at a proxy gate in front of Pebble right after
the order was created): the claim, the fence and the order's state are gone
from Redis, yet no other node orders it. The roots find Redis' epoch mark
gone and mark it emptied; no node takes a new claim for the claim lifetime;
the orderer claims again at its next step (new token) and publishes; every
node serves the one certificate."""
import re
import time

from cluster import (assert_cluster_served, ca_proxy, cluster3, log_lines,  # noqa: F401 (fixtures)
                     order_held_at_authz, redis)
from harness import wait_for

HELD = 12            # seconds the order stays held after the restart: two gate retries of the others


def test_redis_restarted_empty_during_an_order(cluster3, ca_proxy, unique):
    name = unique("rempty")
    gate = order_held_at_authz(cluster3, ca_proxy, name)
    orderers = [n for n in cluster3.nodes
                if re.search(r"ACME01015: %s: this node orders it" % re.escape(name),
                             n.error_log_text())]
    assert len(orderers) == 1, "one node claims it"
    assert cluster3.redis.keys("mod_acme:lock:%s" % name)
    # A running cluster: every node's root has looked at Redis once (its first
    # poll publishes the key of its next order, then reads the epoch mark). A
    # root that never saw the mark takes an empty Redis for a new one: Redis
    # emptied within a cluster's first seconds is a gap this test leaves out.
    wait_for(lambda: all(re.search(r"ACME01036: %s: key" % re.escape(name), n.error_log_text())
                         for n in cluster3.nodes), 60, what="every node's first look at Redis")
    time.sleep(1)
    cluster3.redis.stop()
    cluster3.redis.start()            # same port, nothing kept
    restarted_at = time.monotonic()
    assert not cluster3.redis.keys("mod_acme:lock:*")
    # Meanwhile the other nodes' gates retry (every 5 s) against the empty Redis.
    time.sleep(max(0, HELD - (time.monotonic() - restarted_at)))
    assert cluster3.pebble.new_order_count() == 1, "ordered again while Redis was empty"
    wait_for(lambda: log_lines(cluster3.nodes, r"ACME01039: cluster: Redis lost its data"), 30,
             what="a root to find Redis emptied")
    ca_proxy.open_gates()
    serials = assert_cluster_served(cluster3, [name], 240)
    print("redis restarted empty during an order: served everywhere %.1f s after the restart"
          % (time.monotonic() - restarted_at))
    assert len(serials[name]) == 1, serials
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    # The orderer claimed again and published once; nobody else claimed.
    assert log_lines(orderers, r"ACME01038: %s: Redis lost this node's claim" % re.escape(name))
    assert len(log_lines(cluster3.nodes, r"ACME01015: %s: this node orders it"
                         % re.escape(name))) == 1
    assert len(log_lines(cluster3.nodes, r"ACME01017: %s: certificate published"
                         % re.escape(name))) == 1
    waits = log_lines(cluster3.nodes, r"ACME01176: %s: not ordering here now: (Redis lost its "
                      r"data|Redis holds no mark|cluster node)" % re.escape(name))
    assert waits, "the other nodes never asked"
    # What the cluster needs is in Redis again.
    wait_for(lambda: cluster3.redis.keys("mod_acme:cert:%s" % name)
             and cluster3.redis.keys("mod_acme:key:%s/*" % name), 30,
             what="the certificate and its key in Redis")
    wait_for(lambda: not cluster3.redis.keys("mod_acme:lock:*"), 30, what="the claim released")


def test_redis_restarted_empty_while_idle(cluster3, unique):
    """Nothing running: every node's root finds Redis emptied, the
    certificates and their keys come back from the stores, nothing is
    ordered, every node keeps serving the same certificate."""
    from cluster import assert_one_order_each
    names = [unique("ridle%d" % i) for i in range(2)]
    cluster3.configure(names)
    serials = assert_one_order_each(cluster3, names, 180)
    cluster3.redis.stop()
    cluster3.redis.start()            # same port, nothing kept
    t0 = time.monotonic()

    def repopulated():
        return all(cluster3.redis.keys("mod_acme:cert:%s" % n)
                   and cluster3.redis.keys("mod_acme:ver:%s" % n)
                   and cluster3.redis.keys("mod_acme:key:%s/*" % n) for n in names)
    wait_for(repopulated, 30, what="the certificates and keys back in Redis")
    print("redis restarted empty while idle: repopulated %.1f s after the restart"
          % (time.monotonic() - t0))
    wait_for(lambda: cluster3.redis.keys("mod_acme:epoch"), 10, what="the epoch mark")
    assert "emptied" in cluster3.redis.cli("GET", "mod_acme:epoch")
    time.sleep(6)                     # polls and gate retries against the repopulated Redis
    assert cluster3.pebble.new_order_count() == len(names), cluster3.pebble.request_lines()
    for node in cluster3.nodes:
        for name in names:
            assert node.verified_cert(name).serial_number in serials[name]
    assert log_lines(cluster3.nodes, r"ACME01039: cluster: Redis lost its data")
    assert not cluster3.redis.keys("mod_acme:lock:*")
