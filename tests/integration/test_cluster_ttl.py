"""AcmeCluster: nothing mod_acme writes to Redis lives forever. After an
issuance on two nodes (real redis-server, real Pebble, real httpd) every
mod_acme:* key has an expiry (PTTL) that fits what it is for: the live
certificate's record, version, fence and key until the certificate's end
and a day (never less: a key in use does not expire), the key of a next
order and an order's state a day, answers an hour, claims a minute,
heartbeats five minutes, the cluster's marks 30 days (renewed by every
heartbeat). A renewal publishes again with the new certificate's end."""
import datetime
import hashlib
import time

from cryptography.hazmat.primitives import serialization

from cluster import cluster2, redis  # noqa: F401
from harness import wait_for

DAY = 86400
SLACK = 120                           # s: the test's own delays, clocks


def spki_id(cert):
    """mod_acme's key id: SHA-256 of the DER SubjectPublicKeyInfo, hex."""
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def ttls(redis):
    """{key: seconds left} of every mod_acme key (-1: no expiry)."""
    out = {}
    for k in redis.keys():
        ms = int(redis.cli("PTTL", k).strip())
        if ms != -2:                  # gone since the scan
            out[k] = ms / 1000.0
    return out


def left_of(cert):
    """Seconds until cert's end."""
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()


def bound_of(key, name, certs):
    """(lowest, highest) seconds key may have left; None: not a key this
    test knows (a failure: every kind needs a bound). certs: the
    certificates name had, the live one last."""
    kind = key.split(":")[1]
    if kind in ("cert", "ver", "fence") and key.endswith(":" + name):
        left = left_of(certs[-1])
        return (left, left + DAY + SLACK)
    for c in certs:
        if key == "mod_acme:key:%s/%s" % (name, spki_id(c)):
            return (left_of(c), left_of(c) + DAY + SLACK)
    if kind == "key":                 # the key of a next order
        return (1, DAY)
    return {"chal": (1, 3600), "lock": (1, 60), "job": (1, DAY), "node": (1, 300),
            "nodes": (1, 300), "adopt": (1, DAY), "publish": (1, DAY),
            "epoch": (1, 30 * DAY), "keycheck": (1, 30 * DAY)}.get(kind)


def assert_bounded(redis, name, certs, what):
    """Every mod_acme key has an expiry within its bound (waits up to a
    heartbeat and a poll for the ones renewed there)."""
    assert "mod_acme:key:%s/%s" % (name, spki_id(certs[-1])) in redis.keys(), redis.keys()
    bad = {}

    def all_bounded():
        bad.clear()
        for k, t in ttls(redis).items():
            b = bound_of(k, name, certs)
            if b is None or not (b[0] <= t <= b[1]):
                bad[k] = (t, b)
        return not bad
    try:
        wait_for(all_bounded, 30, what="every mod_acme key bounded (%s)" % what)
    except Exception:
        raise AssertionError("%s: keys without a fitting expiry (seconds left, bound): %r"
                             % (what, bad))
    table = ttls(redis)
    print("%s: %d keys, expiries (days): %s" % (what, len(table), sorted(
        (k, round(t / DAY, 2)) for k, t in table.items())))


def test_every_key_expires_and_renewal_extends(cluster2, unique):
    name = unique("ttl")
    cluster2.configure([name])
    cluster2.start()
    certs = [n.wait_for_pebble_cert(name, timeout=180) for n in cluster2.nodes]
    assert len({c.serial_number for c in certs}) == 1
    assert cluster2.pebble.new_order_count() == 1, cluster2.pebble.request_lines()
    assert_bounded(cluster2.redis, name, certs[:1], "after the first issuance")

    # a renewal: the new certificate's key, record and version live as long
    # as it does
    r = cluster2.nodes[0].acmectl("--store", cluster2.nodes[0].store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    old = certs[0].serial_number

    def renewed():
        got = [n.verified_cert(name) for n in cluster2.nodes]
        return all(c.serial_number != old for c in got) and len(
            {c.serial_number for c in got}) == 1 and got[0]
    new = wait_for(renewed, 180, what="both nodes to serve the renewed certificate")
    assert cluster2.pebble.new_order_count() == 2, cluster2.pebble.request_lines()
    wait_for(lambda: "mod_acme:key:%s/%s" % (name, spki_id(new)) in cluster2.redis.keys(), 30,
             what="the renewed certificate's key in Redis")
    assert_bounded(cluster2.redis, name, [certs[0], new], "after the renewal")
