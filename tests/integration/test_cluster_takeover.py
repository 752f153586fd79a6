"""AcmeCluster takeover: the node that orders a certificate is killed (kill -9
of its parent and every child) while the CA's validation fetch is held at the
balancer (a proxy gate); after its claim expires another node resumes the same
order from the state kept in Redis, and the CA sees one order."""
import os
import re
import time

from cluster import cluster3, redis  # noqa: F401 (fixtures)
from harness import kill9, pids_with_arg, port_open, wait_for


def kill9_server(node):
    """kill -9 of the node's parent and every child, all at once."""
    pids = set(p for p in pids_with_arg(node.serverroot) if p != os.getpid())
    if node.pid():
        pids.add(node.pid())
    kill9(pids)
    wait_for(lambda: not port_open(node.http_port), 10, what="the killed node's port to close")


def test_kill9_of_the_orderer_is_taken_over(cluster3, unique):
    name = unique("take")
    cluster3.configure([name])
    cluster3.balancer.hold()
    t0 = time.monotonic()
    cluster3.start()
    # The orderer has sent its challenge; the CA's fetch waits at the gate.
    wait_for(lambda: cluster3.balancer.held > 0, 120, what="the CA's validation fetch at the gate")
    claim = re.compile(r"ACME01015: %s: this node orders it" % re.escape(name))
    orderers = [n for n in cluster3.nodes if claim.search(n.error_log_text())]
    assert len(orderers) == 1, [n.serverroot for n in orderers]
    victim = orderers[0]
    assert cluster3.redis.keys("mod_acme:job:%s" % name), "no order state in Redis"
    assert cluster3.pebble.new_order_count() == 1
    kill9_server(victim)
    victim.started = False
    killed_at = time.monotonic()
    cluster3.balancer.release()       # redispatched to a live node, answered from Redis
    survivors = [n for n in cluster3.nodes if n is not victim]
    serials = set()
    for node in survivors:
        serials.add(node.wait_for_pebble_cert(name, timeout=240).serial_number)
    done = time.monotonic()
    print("takeover: served on both survivors %.1f s after start, %.1f s after kill -9"
          % (done - t0, done - killed_at))
    assert len(serials) == 1, serials
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    logs = [n.error_log_text() for n in survivors]
    took = [t for t in logs if re.search(r"ACME01029: %s: taking over order \S+ from cluster node"
                                         % re.escape(name), t)]
    assert len(took) == 1, "no (or more than one) survivor took the order over"
    assert re.search(r"ACME00403: %s: resuming the order of" % re.escape(name), took[0])
    assert len(re.findall(r"ACME01017: %s: certificate published" % re.escape(name),
                          "".join(logs))) == 1
    wait_for(lambda: not cluster3.redis.keys("mod_acme:job:*")
             and not cluster3.redis.keys("mod_acme:lock:*"), 30,
             what="order state and claim to leave Redis")
