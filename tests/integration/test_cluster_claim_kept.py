"""AcmeCluster: a claim lives as long as its node works on the order, not
only as long as the last step of that order is recent. The CA is slow to
create the order: its first four answers to newOrder come after 20 s each
and refuse the nonce (a proxy in front of Pebble, ari_proxy's
slow_bad_nonces), so the node's one newOrder step lasts about 80 s, longer
than the claim's 60 s lifetime, while the node is alive and waiting for the
CA. The claim must stay this node's all along: no other node claims the
name, the CA sees one order, the claim's fencing token is the first one, and
every node serves that one certificate."""
import re
import time

from cluster import (assert_cluster_served, assert_published_once, ca_proxy,  # noqa: F401
                     cluster3, log_lines, redis, the_orderer, wait_order_state_gone)
from harness import wait_for

REFUSED = 4           # newOrder answers held and refused
HOLD_S = 20           # seconds each; together beyond the claim's 60 s
CLAIM_TTL_S = 60


def test_claim_outlives_a_newOrder_step_longer_than_its_lifetime(cluster3, ca_proxy, unique):
    name = unique("kept")
    cluster3.configure([name], extra_acme={"AcmeCA": ca_proxy.directory_url})
    ca_proxy.slow_bad_nonces = (REFUSED, HOLD_S)
    t0 = time.monotonic()
    cluster3.start()
    # The first claim's node ends its slow newOrder step (whoever ordered
    # meanwhile: without its claim kept, another node claims at 60 s).
    first = re.compile(r"ACME01015: %s: this node orders it for the cluster \(claim 1\)"
                       % re.escape(name))
    step_done = re.compile(r"ACME00400: %s: step order done" % re.escape(name))
    wait_for(lambda: any(first.search(t) and step_done.search(t)
                         for t in (n.error_log_text() for n in cluster3.nodes)),
             REFUSED * HOLD_S + 90, what="the first claim's newOrder step to end")
    served = assert_cluster_served(cluster3, [name], 90)
    print("claim kept: served on all nodes %.1f s after start" % (time.monotonic() - t0))
    orders = ca_proxy.new_orders()
    # The step lasted longer than a claim lives (without being kept, it lapsed).
    assert len(orders) >= REFUSED + 1, orders
    step = orders[REFUSED].time - orders[0].time
    print("claim kept: the newOrder step took %.1f s (claim lifetime %d s)" % (step, CLAIM_TTL_S))
    assert step > CLAIM_TTL_S, orders
    # One order at the CA, one certificate everywhere.
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    assert len(served[name]) == 1, served
    # One claim: taken once, by one node, with the first token; never lost.
    orderer = the_orderer(cluster3, name)
    claims = log_lines(cluster3.nodes, r"ACME01015: %s: " % re.escape(name))
    assert len(claims) == 1, claims
    assert re.search(r"\(claim 1\)", claims[0]), claims
    assert cluster3.redis.cli("GET", "mod_acme:fence:%s" % name).strip() == "1"
    assert cluster3.redis.cli("GET", "mod_acme:ver:%s" % name).strip() == "1"
    assert not log_lines(cluster3.nodes, r"ACME01175|ACME01054|ACME01029"), \
        log_lines(cluster3.nodes, r"ACME01175|ACME01054|ACME01029")
    others = [n for n in cluster3.nodes if n is not orderer]
    assert not log_lines(others, r"ACME00403: %s: " % re.escape(name)), "another node ordered"
    assert_published_once([n.error_log_text() for n in cluster3.nodes], name)
    wait_order_state_gone(cluster3)
