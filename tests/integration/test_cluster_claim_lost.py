"""AcmeCluster: a node that loses its claim to order while its order is at
the CA. The order is held at a proxy gate (its authorization fetch) after
newOrder; meanwhile its claim in Redis becomes another's, with the next
fencing token, as when a claim lapsed and another node claimed the name.
When the order's step ends, the node says so (ACME01054, naming the order)
and writes nothing more of that order: no order state and no certificate
under its old claim. Once the other claim is gone, a node claims the name
anew and the cluster ends with one certificate, served by every node."""
import json
import os
import re

from cluster import (assert_cluster_served, ca_proxy, cluster3, log_lines,  # noqa: F401
                     order_held_at_authz, redis, the_orderer, wait_order_state_gone)
from harness import wait_for

OTHER_CLAIM_MS = 5000     # the other claim's lifetime: then the name is free again


def test_a_node_that_lost_its_claim_writes_nothing_more(cluster3, ca_proxy, unique):
    name = unique("lost")
    gate = order_held_at_authz(cluster3, ca_proxy, name)
    orderer = the_orderer(cluster3, name)
    with open(os.path.join(orderer.store, "jobs", name + ".json")) as f:
        order_url = json.load(f)["order"]
    assert order_url.startswith(ca_proxy.origin + "/"), order_url
    claim = cluster3.redis.cli("GET", "mod_acme:lock:%s" % name).strip()
    assert claim.endswith(" 1"), claim

    fence = int(cluster3.redis.cli("INCR", "mod_acme:fence:%s" % name).strip())
    other = "another-node %d" % fence
    cluster3.redis.cli("SET", "mod_acme:lock:%s" % name, other, "PX", str(OTHER_CLAIM_MS))
    ca_proxy.open_gates()
    assert gate.opened.is_set()

    lost = re.compile(r"ACME01054: %s: this node lost its claim 1 \(the claim is \"%s\" now\) "
                      r"after it made order %s at the CA; it writes nothing more of that order"
                      % (re.escape(name), re.escape(other), re.escape(order_url)))
    wait_for(lambda: lost.search(orderer.error_log_text()), 60,
             what="ACME01054 naming the order in the orderer's log")

    served = assert_cluster_served(cluster3, [name], 120)
    assert len(served[name]) == 1, served
    # the certificate in Redis is from a claim taken after the lost one
    version = int(cluster3.redis.cli("GET", "mod_acme:ver:%s" % name).strip())
    assert version > fence, version
    published = log_lines(cluster3.nodes, r"ACME01017: %s: " % re.escape(name))
    assert len(published) == 1 and "(version %d)" % version in published[0], published
    # nothing tried under the lost claim: no publish refused by the fence
    assert not log_lines([orderer], r"ACME01018: %s: " % re.escape(name)), \
        log_lines([orderer], r"ACME01018")
    wait_order_state_gone(cluster3)
