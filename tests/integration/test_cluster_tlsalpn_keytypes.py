"""AcmeCluster, two key types, tls-alpn-01 alone: the EC and the RSA order of
one name run on two nodes at once, each with its own key authorization for
the same identifier. The CA's acme-tls/1 handshake names the identifier
alone (RFC 8737 §3) and may reach either node (a round-robin balancer on the
port Pebble validates at), so the cluster serves one answer per name at a
time: the second order waits until the first one's answer is withdrawn, no
node serves or publishes over another order's answer, and no validation
fails."""
import os
import re
import socket

import pytest

import harness
from harness import closed_port, free_port, private_pebble, ssl_vhost, wait_for

from cluster import Balancer, key_file, log_lines, redis  # noqa: F401 (fixtures)

NAMES = 3


@pytest.fixture
def alpn_cluster(workdir, challtestsrv, httpd_factory, redis):
    """Two nodes behind a balancer on Pebble's tls-alpn-01 port, http-01 closed."""
    ports = [free_port() for _ in range(2)]
    balancer = Balancer(ports)
    pb = private_pebble(workdir, challtestsrv.dns_port, "c-alpn%d" % free_port(),
                        http_port=closed_port(), tls_port=balancer.port,
                        env={"PEBBLE_AUTHZREUSE": "0"})
    nodes = [httpd_factory(pebble=pb, http_port=free_port(), https_port=p,
                           prefix="it-c-alpn-n%d-" % i) for i, p in enumerate(ports)]
    yield pb, nodes, balancer
    balancer.close()
    pb.stop()


def node_name(node):
    """The node's name in claims (acme_cluster_lock.h): host name and ServerRoot."""
    return "%s:%s" % (socket.gethostname(), node.serverroot)


def test_two_key_types_on_two_nodes_answer_one_at_a_time(alpn_cluster, redis, unique):
    pb, nodes, balancer = alpn_cluster
    names = [unique("calpn%d" % i) for i in range(NAMES)]
    key = key_file(harness.make_tree("it-c-alpn-key-"))
    acme = {"AcmeCluster": redis.url(), "AcmeClusterKeyFile": key,
            "AcmeChallenges": "tls-alpn-01"}
    vhosts = "".join(ssl_vhost(n, extra="AcmeKeyType ec-p256 rsa-2048") for n in names)
    for node in nodes:
        acme["AcmePortMap"] = "http:%d https:%d" % (pb.http_port, node.https_port)
        node.write_config(vhosts=vhosts, acme=acme, extra_global="Protocols http/1.1")
    # The EC orders go to the first node, the RSA ones to the second: each
    # order claim is held by its node already (as after a restart of it), so
    # each node takes its own at its start and leaves the other's.
    for n in names:
        for i, d in enumerate((n, "%s+rsa-2048" % n)):
            redis.cli("SET", "mod_acme:fence:%s" % d, "1")
            redis.cli("SET", "mod_acme:lock:%s" % d, "%s 1" % node_name(nodes[i]), "PX", "120000")
    # The CA's handshakes wait at the balancer until both orders of every
    # name have answered, or one of them waits for the other's answer to go.
    balancer.hold()
    for node in nodes:
        node.start()

    def settled():
        logs = [node.error_log_text() for node in nodes]
        for n in names:
            said = [re.search(r"(ACME00414|ACME01294): %s: " % re.escape(d), t)
                    for d, t in ((n, logs[0]), ("%s+rsa-2048" % n, logs[1]))]
            if not all(said) or not any(m.group(1) == "ACME00414" for m in said):
                return False
        return True
    try:
        wait_for(settled, 120, what="both orders of every name answering or waiting")
    finally:
        balancer.release()
    for n in names:
        for node in nodes:
            node.wait_for_pebble_cert(n, timeout=240)

    logs = [node.error_log_text() for node in nodes]
    for n in names:
        assert re.search(r"ACME01015: %s: this node orders it" % re.escape(n), logs[0]), n
        assert re.search(r"ACME01015: %s\+rsa-2048: this node orders it" % re.escape(n),
                         logs[1]), n
    failed = log_lines(nodes, r"ACME00402")
    assert not failed, "\n".join(failed)
    with open(pb.log_path, errors="replace") as f:
        pebble_log = f.read()
    wrong = [line for line in pebble_log.splitlines()
             if "Incorrect validation certificate" in line or "acmeValidation" in line]
    assert not wrong, "\n".join(wrong[:10])
    # Both certificates of each name reach both nodes, each ordered once.
    for node in nodes:
        for n in names:
            for s in (n, "%s+rsa-2048" % n):
                wait_for(lambda: os.path.lexists(os.path.join(node.store, "domains", s)), 120,
                         what="%s in %s" % (s, node.store))
    wait_for(lambda: not redis.keys("mod_acme:chal:*") and not redis.keys("mod_acme:owner:*"),
             30, what="every tls-alpn-01 answer and its owner withdrawn from Redis")
    # The order that found the other's answer standing waited, said so once
    # per wait, and published its own after.
    waited = log_lines(nodes, r"ACME01294")
    assert waited, "no order waited for another node's answer"


def test_answer_of_a_dead_node_goes_with_its_order_claim(alpn_cluster, redis, unique):
    """A node died while its RSA order's answer for the name stood in Redis:
    the EC order (on a live node) waits while that order's claim lives, and
    publishes its own answer once the claim expired, without waiting for
    the dead node's answer to expire (an hour)."""
    pb, nodes, balancer = alpn_cluster
    node = nodes[0]
    balancer.avoid.add(nodes[1].https_port)
    n = unique("calpnd")
    ghost = "ghost-node:/nowhere"
    # What the dead node left: its order claim (expiring as an unrenewed
    # claim does) and its answer for the name, with its owner.
    redis.cli("SET", "mod_acme:lock:%s+rsa-2048" % n, "%s 7" % ghost, "PX", "20000")
    redis.cli("SET", "mod_acme:chal:tls-alpn-01:%s" % n, "not an answer", "PX", "3600000")
    redis.cli("SET", "mod_acme:owner:chal:tls-alpn-01:%s" % n, "%s\n%s+rsa-2048" % (ghost, n),
              "PX", "3600000")
    key = key_file(harness.make_tree("it-c-alpn-key-"))
    node.write_config(vhosts=ssl_vhost(n, extra="AcmeKeyType ec-p256"), acme={
        "AcmeCluster": redis.url(), "AcmeClusterKeyFile": key, "AcmeChallenges": "tls-alpn-01",
        "AcmePortMap": "http:%d https:%d" % (pb.http_port, node.https_port)},
        extra_global="Protocols http/1.1")
    node.start()
    node.wait_for_pebble_cert(n, timeout=120)
    assert log_lines([node], r"ACME01294: %s: " % re.escape(n)), node.diagnostics()
    assert not log_lines([node], r"ACME00402"), node.diagnostics()
    wait_for(lambda: not redis.keys("mod_acme:chal:*") and not redis.keys("mod_acme:owner:*"),
             30, what="the answer and its owner withdrawn from Redis")
