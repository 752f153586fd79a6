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

from cluster import assert_cluster_served, ca_proxy, cluster3, redis  # noqa: F401 (fixtures)
from harness import wait_for
from test_cluster_takeover import kill9_server


def test_kill9_after_finalize_resumes_the_valid_order(cluster3, ca_proxy, unique):
    name = unique("takefin")
    cluster3.configure([name], extra_acme={"AcmeCA": ca_proxy.directory_url})
    gate = ca_proxy.gate("POST", r"^/certZ/", timeout=600)
    t0 = time.monotonic()
    cluster3.start()
    # The orderer finalized and now asks for the certificate: held.
    wait_for(gate.held.is_set, 180, what="the certificate download at the proxy gate")
    claim = re.compile(r"ACME01015: %s: this node orders it" % re.escape(name))
    orderers = [n for n in cluster3.nodes if claim.search(n.error_log_text())]
    assert len(orderers) == 1, [n.serverroot for n in orderers]
    victim = orderers[0]
    # Taken by the CA once (a finalize sent as soon as the challenge is
    # answered may be refused with orderNotReady first).
    finalizes = [r for r in ca_proxy.recorded("POST", r"^/finalize-order/") if r.status == 200]
    assert len(finalizes) == 1, ca_proxy.recorded("POST", r"^/finalize-order/")
    assert cluster3.redis.keys("mod_acme:job:%s" % name), "no order state in Redis"
    # The key the order was finalized with is in Redis, sealed.
    keys = cluster3.redis.keys("mod_acme:key:%s/*" % name)
    assert keys, "the order's key is not in Redis:\n" + "\n".join(
        l for n in cluster3.nodes for l in n.error_log_text().splitlines()
        if re.search(r"ACME010|ACME0043|csr|ACME006|ACME007", l))
    for k in keys:
        assert cluster3.redis.cli("GETRANGE", k, "0", "3").strip() == "mac1", k
    kill9_server(victim)
    victim.started = False
    killed_at = time.monotonic()
    ca_proxy.open_gates()             # the dead node's request goes on; nobody reads the answer
    survivors = [n for n in cluster3.nodes if n is not victim]
    serials = set()
    for node in survivors:
        serials.add(node.wait_for_pebble_cert(name, timeout=300).serial_number)
    done = time.monotonic()
    print("takeover after finalize: served on both survivors %.1f s after start, %.1f s after "
          "kill -9" % (done - t0, done - killed_at))
    assert len(serials) == 1, serials
    # One order, one finalize: the order was resumed, not made or finalized again.
    assert len(ca_proxy.new_orders()) == 1, ca_proxy.recorded("POST")
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    assert [r for r in ca_proxy.recorded("POST", r"^/finalize-order/") if r.status == 200] \
        == finalizes, ca_proxy.recorded("POST", r"^/finalize-order/")
    logs = [n.error_log_text() for n in survivors]
    took = [t for t in logs if re.search(r"ACME01029: %s: taking over order \S+ from cluster node"
                                         % re.escape(name), t)]
    assert len(took) == 1, "no (or more than one) survivor took the order over"
    assert re.search(r"ACME01032: %s: the key of order \S+ of cluster node \S+ taken over"
                     % re.escape(name), took[0]), "the order's key was not taken from Redis"
    assert len(re.findall(r"ACME01017: %s: certificate published" % re.escape(name),
                          "".join(logs))) == 1
    # The killed node, started again, takes the same certificate in.
    victim.start()
    served = assert_cluster_served(cluster3, [name], 120)
    assert served[name] == serials, served
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    wait_for(lambda: not cluster3.redis.keys("mod_acme:job:*")
             and not cluster3.redis.keys("mod_acme:lock:*"), 30,
             what="order state and claim to leave Redis")
