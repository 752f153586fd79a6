"""AcmeCluster with its Redis stopped in the middle of things (a real
redis-server: SIGSTOP, so every command hangs until its budget runs out, or
SHUTDOWN, so every connection is refused), then started again:

- during a first order (held at a proxy gate in front of Pebble right after
  the order was created): the orderer does not ask the CA to validate an
  answer the other nodes cannot serve, it waits with growing pauses (logged),
  and after Redis is back the same order completes;
- during a renewal: every node goes on serving the certificate it has
  (verified against Pebble's root), the renewal waits, and after Redis is
  back (with what it had saved) the renewal completes everywhere.
Both: exactly one order per certificate at Pebble."""
import os
import re
import signal
import time

import harness
from cluster import (assert_cluster_served, assert_one_order_each, ca_proxy,  # noqa: F401
                     cluster3, log_lines, order_held_at_authz, redis)
from harness import port_open, wait_for

DOWN_FOR = 20        # seconds Redis stays away: several of the nodes' retries


def challenge_responses(proxy):
    """The requests that ask the CA to validate (RFC 8555 §7.5.1)."""
    return proxy.recorded("POST", r"^/chalZ/")


def test_redis_sigstop_during_an_order(cluster3, ca_proxy, unique):
    name = unique("rstop")
    gate = order_held_at_authz(cluster3, ca_proxy, name)
    pid = cluster3.redis.proc.pid
    os.kill(pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        ca_proxy.open_gates()
        wait_for(lambda: log_lines(cluster3.nodes, r"ACME01230: %s: the http-01 answer"
                                   % re.escape(name)), 60,
                 what="the orderer to say its answer waits for Redis")
        # Nodes go on answering (a temporary certificate until the real one).
        while time.monotonic() - stopped_at < DOWN_FOR:
            for node in cluster3.nodes:
                assert node.served_cert(name) is not None
            time.sleep(2)
        assert challenge_responses(ca_proxy) == [], "the CA was asked to validate without Redis"
        assert cluster3.pebble.new_order_count() == 1
    finally:
        os.kill(pid, signal.SIGCONT)
    back_at = time.monotonic()
    serials = assert_cluster_served(cluster3, [name], 240)
    print("redis SIGSTOP for %.0f s during an order: served everywhere %.1f s after SIGCONT"
          % (back_at - stopped_at, time.monotonic() - back_at))
    assert len(serials[name]) == 1, serials
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    assert len(challenge_responses(ca_proxy)) == 1
    # The wait was logged, with its pauses.
    waits = log_lines(cluster3.nodes, r"ACME01230: %s|ACME01176: %s: not ordering here now: "
                      r"Redis" % (re.escape(name), re.escape(name)))
    assert waits, "no wait logged"
    assert len(log_lines(cluster3.nodes, r"ACME01017: %s: certificate published"
                         % re.escape(name))) == 1


def test_redis_shutdown_during_a_renewal(cluster3, ca_proxy, unique):
    name = unique("rrenew")
    cluster3.configure([name], extra_acme={"AcmeCA": ca_proxy.directory_url})
    old = assert_one_order_each(cluster3, [name], 180)[name].pop()
    assert len(challenge_responses(ca_proxy)) == 1
    orderer = cluster3.nodes[0]
    gate = ca_proxy.gate("POST", r"^/authZ/", timeout=600)
    r = orderer.acmectl("--store", orderer.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(gate.held.is_set, 120, what="the renewal's authorization fetch at the proxy gate")
    assert cluster3.pebble.new_order_count() == 2
    # A Redis that saves when told to stop (what it holds survives it).
    cluster3.redis.cli("SHUTDOWN", "SAVE")
    wait_for(lambda: not port_open(cluster3.redis.port), 10, what="redis-server to stop")
    cluster3.redis.stop()
    stopped_at = time.monotonic()
    ca_proxy.open_gates()
    # Pebble may reuse the valid authorization (nothing to answer): then the
    # claim cannot be confirmed after the step, and the order waits for Redis.
    wait_for(lambda: log_lines([orderer], r"ACME01230: %s: the http-01 answer|ACME01176: %s: "
                               r"not ordering here now: Redis is not reachable"
                               % (re.escape(name), re.escape(name))), 60,
             what="the renewal to say it waits for Redis")
    assert not log_lines([orderer], r"ACME01175: %s" % re.escape(name)), \
        "an unreachable Redis read as a claim taken over"
    while time.monotonic() - stopped_at < DOWN_FOR:
        for node in cluster3.nodes:        # serving what they have, verified
            assert node.verified_cert(name).serial_number == old
        time.sleep(2)
    assert len(challenge_responses(ca_proxy)) == 1, "the CA was asked to validate without Redis"
    assert cluster3.pebble.new_order_count() == 2
    finalized = len([r for r in ca_proxy.recorded("POST", r"^/finalize-order/")
                     if r.status == 200])
    assert finalized == 1, "the renewal went on without Redis"
    cluster3.redis.start()              # same port, what it saved
    assert cluster3.redis.keys("mod_acme:cert:%s" % name)
    back_at = time.monotonic()
    new = set()
    for node in cluster3.nodes:
        new.add(harness.wait_for_new_cert(node, name, old, 240).serial_number)
    print("redis down for %.0f s during a renewal: renewed everywhere %.1f s after its restart"
          % (back_at - stopped_at, time.monotonic() - back_at))
    assert len(new) == 1, new
    assert cluster3.pebble.new_order_count() == 2, cluster3.pebble.request_lines()
    assert len([r for r in ca_proxy.recorded("POST", r"^/finalize-order/")
                if r.status == 200]) == 2
    assert log_lines([orderer], r"ACME01019: cluster:"), "Redis down not logged by the parent"
    wait_for(lambda: not cluster3.redis.keys("mod_acme:lock:*"), 30, what="the claim released")
