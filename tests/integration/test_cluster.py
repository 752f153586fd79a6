"""AcmeCluster: several httpd nodes share one Redis (real redis-server), behind
a round-robin balancer on the port Pebble validates at, so the CA's fetch
usually reaches a node that did not publish the answer."""
import os
import re
import time

import pytest

import harness
from cluster import Balancer, Redis, key_file, node_config
from harness import free_port, private_pebble, ssl_vhost


@pytest.fixture
def redis(workdir):
    d = harness.make_tree("it-redis-")
    r = Redis(d)
    try:
        r.start()
    except (harness.HarnessError, TimeoutError) as exc:
        r.stop()
        pytest.fail("redis-server did not start: %s\n%s" % (exc, harness.tail(r.log_path)))
    yield r
    r.stop()


def located(out, h, fragment):
    line = h.line_of(fragment)
    return ("line %d of %s" % (line, h.conf_path) in out) or ("%s:%d" % (h.conf_path, line) in out)


# ---- configtest ------------------------------------------------------------

def test_configtest_cluster_values(httpd, unique):
    """Each bad value fails configtest naming the file, the line, what is wrong
    and the fix; a good set passes."""
    name = unique("cfg")
    d = httpd.serverroot
    good_key = key_file(d)
    cases = [
        ({"AcmeCluster": "http://127.0.0.1:6379", "AcmeClusterKeyFile": good_key},
         "AcmeCluster http", ["ACME01000", "redis://", "rediss://", "redis-sentinel://"]),
        ({"AcmeCluster": "redis://127.0.0.1:99999", "AcmeClusterKeyFile": good_key},
         "AcmeCluster redis", ["ACME01000", "99999"]),
        ({"AcmeCluster": "redis-sentinel://127.0.0.1:26379", "AcmeClusterKeyFile": good_key},
         "AcmeCluster redis-sentinel", ["ACME01000", "master"]),
        ({"AcmeCluster": "redis://127.0.0.1:6379",
          "AcmeClusterKeyFile": key_file(os.path.join(d, "htdocs"), b"x" * 33)},
         "AcmeClusterKeyFile", ["ACME01002", "33 bytes", "head -c 32 /dev/urandom"]),
        ({"AcmeCluster": "redis://127.0.0.1:6379",
          "AcmeClusterKeyFile": key_file(os.path.join(d, "logs"), None, 0o644)},
         "AcmeClusterKeyFile", ["ACME01002", "0644", "chmod 600"]),
        ({"AcmeCluster": "rediss://127.0.0.1:6379", "AcmeClusterKeyFile": good_key,
          "AcmeClusterCACertificateFile": os.path.join(d, "missing-ca.pem")},
         "AcmeClusterCACertificateFile", ["ACME01002", "missing-ca.pem"]),
    ]
    for acme, fragment, words in cases:
        httpd.write_config(vhosts=ssl_vhost(name), acme=acme)
        rc, out = httpd.configtest()
        assert rc != 0, "configtest passed with %s" % acme
        assert located(out, httpd, fragment), out
        for w in words:
            assert w in out, (w, out)
    # AcmeCluster without a key file: the message names AcmeCluster's line.
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCluster": "redis://127.0.0.1:6379"})
    rc, out = httpd.configtest()
    assert rc != 0 and "ACME01003" in out and "AcmeClusterKeyFile" in out, out
    assert "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeCluster redis")) in out, out
    # A good set passes (configtest does not need Redis to be up).
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmeCluster": "rediss://:pw@127.0.0.1:%d/2" % free_port(),
        "AcmeClusterKeyFile": good_key,
        "AcmeClusterCACertificateFile": httpd.ca_file})
    rc, out = httpd.configtest()
    assert rc == 0, out


# ---- three nodes, one balancer ----------------------------------------------

class Cluster:
    def __init__(self, workdir, challtestsrv, httpd_factory, redis, n=3, label="cl"):
        self.ports = [free_port() for _ in range(n)]
        self.balancer = Balancer(self.ports)
        self.pebble = private_pebble(workdir, challtestsrv.dns_port, label + harness.free_port().__str__(),
                                     http_port=self.balancer.port)
        self.key_dir = harness.make_tree("it-cluster-key-")
        self.key = key_file(self.key_dir)
        self.redis = redis
        self.nodes = [httpd_factory(pebble=self.pebble, http_port=p, https_port=free_port(),
                                    prefix="it-cluster-n%d-" % i)
                      for i, p in enumerate(self.ports)]

    def configure(self, names, extra_acme=None):
        for node in self.nodes:
            node_config(node, names, self.redis.url(), self.key, extra_acme)

    def start(self):
        for node in self.nodes:
            node.start()

    def close(self):
        self.balancer.close()
        self.pebble.stop()


@pytest.fixture
def cluster3(workdir, challtestsrv, httpd_factory, redis):
    c = Cluster(workdir, challtestsrv, httpd_factory, redis)
    yield c
    c.close()


def assert_cluster_served(cluster, names, timeout):
    """Every node serves every name a certificate verified against Pebble's
    root (with the hostname check); returns {name: {serials}}."""
    serials = {}
    for node in cluster.nodes:
        for name in names:
            cert = node.wait_for_pebble_cert(name, timeout=timeout)
            assert name in harness.cert_names(cert)
            serials.setdefault(name, set()).add(cert.serial_number)
    return serials


def assert_one_order_each(cluster, names, timeout):
    """Exactly one order per certificate at Pebble, one publisher per name,
    the two other nodes each take it in from Redis, and every node serves the
    same certificate. Prints the time from start to served everywhere."""
    t0 = time.monotonic()
    cluster.start()
    serials = assert_cluster_served(cluster, names, timeout)
    elapsed = time.monotonic() - t0
    print("cluster: %d name(s) served on all %d nodes %.1f s after start"
          % (len(names), len(cluster.nodes), elapsed))
    assert all(len(v) == 1 for v in serials.values()), serials
    assert cluster.pebble.new_order_count() == len(names), cluster.pebble.request_lines()
    logs = [n.error_log_text() for n in cluster.nodes]
    for name in names:
        published = [i for i, t in enumerate(logs)
                     if re.search(r"ACME01017: %s: certificate published" % re.escape(name), t)]
        assert len(published) == 1, (name, published)
        taken = sum(len(re.findall(r"ACME01023: %s: certificate" % re.escape(name), t))
                    for t in logs)
        assert taken == len(cluster.nodes) - 1, (name, taken)
    # Which node answered the CA's fetch is up to the balancer (its counts
    # include connections that are not validations); one order each shows
    # every fetch was answered. Printed for the record.
    print("cluster: balancer connections %s, answers served from Redis %d"
          % (cluster.balancer.counts, sum(t.count("ACME01013") for t in logs)))
    # In Redis only sealed values: no key authorization, chain or key in clear.
    for k in cluster.redis.keys("mod_acme:chal:*") + cluster.redis.keys("mod_acme:cert:*") \
            + cluster.redis.keys("mod_acme:key:*"):
        assert cluster.redis.cli("GETRANGE", k, "0", "3").strip() == "mac1", k
    assert len(cluster.redis.keys("mod_acme:key:*")) >= len(names)
    assert cluster.redis.keys("mod_acme:lock:*") == [], "claim not released"
    return serials


def test_answers_shared_one_order(cluster3, unique):
    """Three nodes, one name: exactly one order at Pebble; the CA's fetch is
    spread over the nodes by the balancer, so another node may serve the
    orderer's answer from Redis; every node then serves the same
    certificate, its key and chain taken in from Redis."""
    name = unique("share")
    cluster3.configure([name])
    assert_one_order_each(cluster3, [name], 120)


def test_five_names_one_order_each(cluster3, unique):
    """Three nodes, five certificates: one order each, all served everywhere."""
    names = [unique("c%02d" % i) for i in range(5)]
    cluster3.configure(names)
    assert_one_order_each(cluster3, names, 240)
