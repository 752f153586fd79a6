"""AcmeCluster takeover after the ordering node finalized: the node that
orders a certificate is killed (kill -9 of its parent and every child) while
its download of the issued certificate is held at a proxy gate in front of
Pebble, so the order is already valid at the CA. After the claim expires
another node resumes that order from the state in Redis (order URL, the key
it was finalized with, sealed): it downloads the certificate instead of
ordering again, its root takes the order's key from Redis, and every node,
the killed one restarted too, serves that one certificate."""
import re
import time

from cluster import (assert_cluster_served, assert_published_once, ca_proxy,  # noqa: F401
                     cluster3, log_lines, redis, take_over, taken_over_once, the_orderer,
                     wait_order_state_gone)
from harness import wait_for


def test_kill9_after_finalize_resumes_the_valid_order(cluster3, ca_proxy, unique):
    name = unique("takefin")
    cluster3.configure([name], extra_acme={"AcmeCA": ca_proxy.directory_url})
    gate = ca_proxy.gate("POST", r"^/certZ/", timeout=600)
    t0 = time.monotonic()
    cluster3.start()
    # The orderer finalized and now asks for the certificate: held.
    wait_for(gate.held.is_set, 180, what="the certificate download at the proxy gate")
    victim = the_orderer(cluster3, name)
    # Taken by the CA once (a finalize sent as soon as the challenge is
    # answered may be refused with orderNotReady first).
    finalizes = [r for r in ca_proxy.recorded("POST", r"^/finalize-order/") if r.status == 200]
    assert len(finalizes) == 1, ca_proxy.recorded("POST", r"^/finalize-order/")
    assert cluster3.redis.keys("mod_acme:job:%s" % name), "no order state in Redis"
    # The key the order was finalized with is in Redis, sealed.
    keys = cluster3.redis.keys("mod_acme:key:%s/*" % name)
    assert keys, "the order's key is not in Redis:\n" + "\n".join(
        log_lines(cluster3.nodes, r"ACME010|ACME0043|csr|ACME006|ACME007"))
    for k in keys:
        assert cluster3.redis.cli("GETRANGE", k, "0", "3").strip() == "mac1", k
    # the gate opened: the dead node's request goes on; nobody reads the answer
    survivors, serials, killed_at = take_over(cluster3, victim, name, ca_proxy.open_gates, 300)
    done = time.monotonic()
    print("takeover after finalize: served on both survivors %.1f s after start, %.1f s after "
          "kill -9" % (done - t0, done - killed_at))
    assert len(serials) == 1, serials
    # One order, one finalize: the order was resumed, not made or finalized again.
    assert len(ca_proxy.new_orders()) == 1, ca_proxy.recorded("POST")
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    assert [r for r in ca_proxy.recorded("POST", r"^/finalize-order/") if r.status == 200] \
        == finalizes, ca_proxy.recorded("POST", r"^/finalize-order/")
    took, logs = taken_over_once(survivors, name)
    assert re.search(r"ACME01032: %s: the key of order \S+ of cluster node \S+ taken over"
                     % re.escape(name), took), "the order's key was not taken from Redis"
    assert_published_once(logs, name)
    # The killed node, started again, takes the same certificate in.
    victim.start()
    served = assert_cluster_served(cluster3, [name], 120)
    assert served[name] == serials, served
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    wait_order_state_gone(cluster3)
