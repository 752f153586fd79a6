"""AcmeCluster with Redis gone: nodes that have their certificate keep
serving it, also across a restart with Redis down; Redis back empty: they
say it is reachable again, and nothing is ordered again."""
import re
import time

from cluster import assert_one_order_each, cluster3, redis  # noqa: F401 (fixtures)
from harness import wait_for


def test_redis_down_then_back_empty(cluster3, unique):
    name = unique("rdown")
    cluster3.configure([name])
    serials = assert_one_order_each(cluster3, [name], 180)[name]
    cluster3.redis.stop()
    for node in cluster3.nodes:
        node.stop()
    t0 = time.monotonic()
    for node in cluster3.nodes:
        node.start()
    for node in cluster3.nodes:
        assert node.wait_for_pebble_cert(name, timeout=30).serial_number in serials
    print("redis down: all nodes serve their certificate %.1f s after start"
          % (time.monotonic() - t0))
    for node in cluster3.nodes:
        wait_for(lambda: "ACME01019" in node.error_log_text(), 30,
                 what="the node to say Redis is not reachable")
    cluster3.redis.start()            # same port, empty
    for node in cluster3.nodes:
        wait_for(lambda: "ACME01020" in node.error_log_text(), 30,
                 what="the node to find Redis again")
    time.sleep(6)                     # gate retries and polls against the empty Redis
    assert cluster3.pebble.new_order_count() == 1, cluster3.pebble.request_lines()
    for node in cluster3.nodes:
        assert node.verified_cert(name).serial_number in serials
        assert not re.search(r"ACME01015: %s" % re.escape(name), node.error_log_text().split(
            "ACME01019", 1)[1]), "ordered again"
