"""AcmeCluster: several httpd nodes share one Redis (real redis-server), behind
a round-robin balancer on the port Pebble validates at, so the CA's fetch
usually reaches a node that did not publish the answer."""
import os

import harness
from harness import wait_for

from cluster import assert_one_order_each, cluster3, key_file, redis  # noqa: F401 (fixtures)
from harness import free_port, ssl_vhost


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

def test_answers_shared_one_order(cluster3, unique):
    """Three nodes, one name: exactly one order at Pebble; the CA's fetch is
    spread over the nodes by the balancer, so another node may serve the
    orderer's answer from Redis; every node then serves the same
    certificate, its key and chain taken in from Redis."""
    name = unique("share")
    cluster3.configure([name])
    serials = assert_one_order_each(cluster3, [name], 120)[name]
    # The cluster view: on the status page (JSON, HTML) and in acmectl.
    node = cluster3.nodes[0]

    def viewed():
        c = node.status().get("cluster") or {}
        return (c.get("redis") == "reachable" and len(c.get("nodes", [])) == 3
                and all(n["certificates"].get(name) for n in c["nodes"])) and c
    c = wait_for(viewed, 30, what="the cluster view with 3 nodes on the certificate")
    hexes = {harness.cert_serial_hex(node.verified_cert(name)).lower()}
    assert {n["certificates"][name].lower().replace(":", "") for n in c["nodes"]} <= hexes \
        or len({n["certificates"][name] for n in c["nodes"]}) == 1, (c, serials)
    assert c["locks"] == [] and "127.0.0.1:%d" % cluster3.redis.port in c["url"]
    st, _, body = node.http_request("/acme-status", headers={"Accept": "text/html"})
    body = body.decode() if isinstance(body, bytes) else body
    assert st == 200 and '<section id="cluster">' in body and "reachable" in body, body[-2000:]
    out = node.acmectl("--store", node.store, "show", name)
    assert "cluster: node" in out.stdout and "Redis" in out.stdout and "reachable" in out.stdout, out
    assert out.stdout.count("  node ") == 3 and "order claim: none" in out.stdout, out.stdout


def test_five_names_one_order_each(cluster3, unique):
    """Three nodes, five certificates: one order each, all served everywhere."""
    names = [unique("c%02d" % i) for i in range(5)]
    cluster3.configure(names)
    assert_one_order_each(cluster3, names, 240)
