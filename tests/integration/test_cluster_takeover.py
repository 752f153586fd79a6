"""AcmeCluster takeover: the node that orders a certificate is killed (kill -9
of its parent and every child) while the CA's validation fetch is held at the
balancer (a proxy gate); after its claim expires another node resumes the same
order from the state kept in Redis, and the CA sees one order."""
import os
import re
import time

from cluster import (assert_published_once, cluster3, redis, take_over,  # noqa: F401 (fixtures)
                     taken_over_once, the_orderer, wait_order_state_gone)
from harness import wait_for


def test_kill9_of_the_orderer_is_taken_over(cluster3, unique):
    name = unique("take")
    cluster3.configure([name])
    cluster3.balancer.hold()
    t0 = time.monotonic()
    cluster3.start()
    # The orderer has sent its challenge; the CA's fetch waits at the gate.
    wait_for(lambda: cluster3.balancer.held > 0, 120, what="the CA's validation fetch at the gate")
    victim = the_orderer(cluster3, name)
    assert cluster3.redis.keys("mod_acme:job:%s" % name), "no order state in Redis"
    assert cluster3.pebble.new_order_count() == 1
    # released: redispatched to a live node, answered from Redis
    survivors, serials, killed_at = take_over(cluster3, victim, name, cluster3.balancer.release,
                                              240)
    done = time.monotonic()
    print("takeover: served on both survivors %.1f s after start, %.1f s after kill -9"
          % (done - t0, done - killed_at))
    assert len(serials) == 1, serials
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    took, logs = taken_over_once(survivors, name)
    assert re.search(r"ACME00403: %s: resuming the order of" % re.escape(name), took)
    assert_published_once(logs, name)
    wait_order_state_gone(cluster3)
    # The killed node comes back: it takes the certificate in and drops its
    # own record of the order the survivor finished (not "in progress" until
    # the next renewal).
    record = os.path.join(victim.store, "jobs", name + ".json")
    assert os.path.exists(record), "the killed node left no order record"
    victim.start()
    assert victim.wait_for_pebble_cert(name, timeout=120).serial_number in serials
    wait_for(lambda: not os.path.exists(record), 30, what="the stale order record to go")
    check = victim.acmectl("--store", victim.store, "check")
    assert "order in progress: %s" % name not in check.stdout, check.stdout
    assert re.search(r"ACME01073: %s: this node's own order record \(order \S+\) dropped"
                     % re.escape(name), victim.error_log_text())
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
