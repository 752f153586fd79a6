"""AcmeCluster over rediss:// (a real redis-server on a TLS-only port, its
certificate from a CA of the test's own) and through redis-sentinel:// (a
real Sentinel, redis-server --sentinel). The TLS connection is verified:
another CA, or a plain-text port behind rediss://, is a clear error and no
byte of mod_acme's reaches Redis; there is no fallback to plain text."""
import re

import pytest

import harness
from cluster import (Cluster, Sentinel, assert_one_order_each, cluster3, key_file,  # noqa: F401
                     redis, redis_tls)
from harness import closed_port, ssl_vhost, wait_for


@pytest.fixture
def cluster3_tls(workdir, challtestsrv, httpd_factory, redis_tls):
    c = Cluster(workdir, challtestsrv, httpd_factory, redis_tls)
    yield c
    c.close()


def test_rediss_verified_one_order(cluster3_tls, unique):
    """Three nodes on rediss:// (the port speaks TLS only), verified against
    AcmeClusterCACertificateFile: one order, every node serves it."""
    name = unique("tls")
    cluster3_tls.configure([name], {"AcmeClusterCACertificateFile": cluster3_tls.redis.tls.ca_pem})
    assert cluster3_tls.redis.url().startswith("rediss://")
    assert_one_order_each(cluster3_tls, [name], 120)
    for node in cluster3_tls.nodes:
        assert re.search(r"ACME01007: cluster node \S+ on rediss://127\.0\.0\.1:%d"
                         % cluster3_tls.redis.port, node.error_log_text())


def wait_refused(httpd, words, timeout=30):
    """ACME01019 (Redis not reachable) naming all of words, on one line."""
    def said():
        return any(all(w in line for w in words)
                   for line in httpd.error_log_text().splitlines() if "ACME01019" in line)
    wait_for(said, timeout, what="ACME01019 with %s" % words)


def test_rediss_wrong_ca_or_plain_port_is_an_error(httpd, redis_tls, redis, unique):
    """rediss:// against a certificate from another CA: the node says the
    certificate is not trusted, writes nothing to Redis and orders nothing.
    rediss:// against a plain-text Redis: the handshake fails; no plain-text
    fallback writes anything there either."""
    name = unique("tlsbad")
    other_ca = harness.TestCA(harness.make_tree("it-other-ca-"))
    key_dir = harness.make_tree("it-cluster-key-")
    key = key_file(key_dir)
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmeCluster": redis_tls.url(), "AcmeClusterKeyFile": key,
        "AcmeClusterCACertificateFile": other_ca.ca_pem, "AcmeChallenges": "http-01"})
    httpd.start()
    wait_refused(httpd, ["TLS certificate of 127.0.0.1:%d not trusted" % redis_tls.port,
                         "AcmeClusterCACertificateFile"])
    httpd.stop()
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmeCluster": "rediss://127.0.0.1:%d" % redis.port, "AcmeClusterKeyFile": key,
        "AcmeClusterCACertificateFile": redis_tls.tls.ca_pem, "AcmeChallenges": "http-01"})
    httpd.start()
    wait_refused(httpd, ["TLS handshake with 127.0.0.1:%d failed" % redis.port])
    # The issuing thread's gate waits for Redis too: no claim, no order.
    wait_for(lambda: re.search(r"ACME01176: %s: not ordering here now: Redis is not reachable "
                               r"\(TLS handshake" % re.escape(name), httpd.error_log_text()), 60,
             what="the issuing thread to say orders wait for Redis")
    text = httpd.error_log_text()
    assert not re.search(r"ACME01015: %s" % re.escape(name), text), "claimed without Redis"
    assert redis_tls.cli("DBSIZE").strip() == "0"
    assert redis.cli("DBSIZE").strip() == "0"


def test_sentinel_one_order(cluster3, unique):
    """redis-sentinel:// with a first sentinel that is down and a second that
    knows the master: the nodes find the master through it; one order."""
    with harness.started(Sentinel(harness.make_tree("it-sentinel-"), cluster3.redis),
                         "redis sentinel") as sentinel:
        name = unique("sent")
        url = "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d/mymaster" % (closed_port(), sentinel.port)
        cluster3.configure([name], url=url)
        assert_one_order_each(cluster3, [name], 120)
        assert cluster3.redis.keys("mod_acme:cert:*"), "nothing written to the master"
