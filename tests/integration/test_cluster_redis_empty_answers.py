"""AcmeCluster with its Redis restarted EMPTY after the orderer published its
challenge answer and asked the CA to validate, before the CA's fetch arrived
(held at the balancer, a proxy gate on the port Pebble validates at): the
answer is gone from Redis with everything else. The orderer claims again at
its next poll of the authorization and publishes its pending answers again
(it has them); the CA's fetch, sent to a node that did not order, is
answered from Redis; the one order becomes valid and no node orders again."""
import re
import time

from cluster import (assert_cluster_served, cluster3, log_lines, redis,  # noqa: F401 (fixtures)
                     the_orderer)
from harness import wait_for


def test_answer_published_again_after_redis_emptied(cluster3, unique):
    name = unique("ranswer")
    cluster3.configure([name])
    cluster3.balancer.hold()
    cluster3.start()
    wait_for(lambda: cluster3.balancer.held > 0, 180, what="the CA's validation fetch at the gate")
    orderer = the_orderer(cluster3, name)
    answers = cluster3.redis.keys("mod_acme:chal:http-01:*")
    assert answers, "no answer in Redis"
    assert cluster3.pebble.new_order_count() == 1
    cluster3.redis.stop()
    cluster3.redis.start()            # same port, nothing kept
    restarted_at = time.monotonic()
    wait_for(lambda: set(cluster3.redis.keys("mod_acme:chal:http-01:*")) == set(answers), 60,
             what="the orderer's answer back in Redis")
    print("redis emptied while the CA's fetch was held: the answer back %.1f s after the restart"
          % (time.monotonic() - restarted_at))
    assert log_lines([orderer], r"ACME01044: cluster: 1 pending challenge answer")
    # The fetch goes to a node that did not order: it has the answer from Redis only.
    cluster3.balancer.avoid.add(orderer.http_port)
    cluster3.balancer.release()
    serials = assert_cluster_served(cluster3, [name], 240)
    assert len(serials[name]) == 1, serials
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    assert sum(t.count("ACME01013") for t in (n.error_log_text() for n in cluster3.nodes
                                              if n is not orderer)), \
        "no other node served the answer from Redis"
    assert len(log_lines(cluster3.nodes, r"ACME01015: %s: this node orders it"
                         % re.escape(name))) == 1
    assert len(log_lines(cluster3.nodes, r"ACME01017: %s: certificate published"
                         % re.escape(name))) == 1
