"""AcmeCluster at the issue's scale: three nodes behind the round-robin
balancer, twenty certificates. Exactly one order per certificate at Pebble,
one publisher per name, the two other nodes each take it in from Redis, and
every node serves every certificate, verified against Pebble's root with the
hostname check (assert_one_order_each)."""
from cluster import assert_one_order_each, cluster3, redis  # noqa: F401 (fixtures)


def test_twenty_names_one_order_each_served_everywhere(cluster3, unique):
    names = [unique("t%02d" % i) for i in range(20)]
    cluster3.configure(names)
    serials = assert_one_order_each(cluster3, names, 600)
    assert len(serials) == 20 and all(len(s) == 1 for s in serials.values())
    assert len({next(iter(s)) for s in serials.values()}) == 20, "a serial served for two names"
