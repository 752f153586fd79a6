"""AcmeCluster's keys in Redis expire: the key of the live certificate when
the certificate does (and a day; 200 days at most), the key a node offers
for its next order after a day, as long as the order state a node taking
over would resume (a node about to order has it published again)."""
import hashlib
import time

from cryptography.hazmat.primitives import serialization

from cluster import assert_one_order_each, cluster3, redis  # noqa: F401 (fixtures)

DAY_MS = 86400 * 1000


def spki_id(cert):
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def test_keys_in_redis_expire(cluster3, unique):
    name = unique("kttl")
    cluster3.configure([name])
    assert_one_order_each(cluster3, [name], 180)
    cert = cluster3.nodes[0].verified_cert(name)
    live = spki_id(cert)
    not_after = cert.not_valid_after.timestamp()
    time.sleep(6)                     # the polls after every node's activation
    keys = cluster3.redis.keys("mod_acme:key:%s/*" % name)
    assert "mod_acme:key:%s/%s" % (name, live) in keys, keys
    for k in keys:
        ttl = int(cluster3.redis.cli("PTTL", k).strip())
        if k.endswith("/" + live):
            want = min(200 * DAY_MS, (not_after - time.time()) * 1000 + DAY_MS)
            assert 0 < ttl <= want and ttl > want - 60 * 1000, (k, ttl, want)
        else:
            assert 0 < ttl <= DAY_MS, (k, ttl)
    print("cluster keys: live key and %d next-order key(s), TTLs %s"
          % (len(keys) - 1, [int(cluster3.redis.cli("PTTL", k).strip()) // 1000 for k in keys]))
