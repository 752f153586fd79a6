"""AcmeCluster's view of Redis when Redis goes away: a real redis-server
(with a password), stopped under two running nodes that run README's
cluster example (its site file, with the test's Redis port, key, ports and
CA). The status page (JSON, validated against
docs/status-schema.json, and HTML), `acmectl list` / `acmectl show` and the
metrics endpoint each say that Redis is unreachable and since when, also
after a graceful restart (the outage began before it), while the node keeps
serving its certificate; with Redis back they all say reachable again."""
import json
import os
import re

import jsonschema
import pytest

import harness
from cluster import Cluster, Redis
from harness import parse_time, utcnow, wait_for
from test_metrics_counters import documented_families, exposed_families

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCHEMA = os.path.join(TOP, "docs", "status-schema.json")
METRICS = """<Location /acme-metrics>
    SetHandler acme-metrics
</Location>"""


def readme_site_file():
    """The site file of README's Cluster section (the apache block after
    'every node has the same site file')."""
    with open(os.path.join(TOP, "README.md")) as f:
        text = f.read()
    section = text[text.index("\n## Cluster\n"):]
    section = section[section.index("every node has the same site file"):]
    m = re.search(r"```apache\n(.*?)```", section, re.S)
    assert m, "README's Cluster section has no site file"
    return m.group(1)


def readme_config(node, redis, key):
    """README's site file on node: its Redis (10.0.0.5:6379, password
    s3cret) is the test's, its key file the test's, port 80 node's."""
    site = readme_site_file()
    for old, new in (("10.0.0.5:6379", "127.0.0.1:%d" % redis.port),
                     ("/etc/apache2/acme-cluster.key", key),
                     ("<VirtualHost *:80>", "<VirtualHost *:%d>" % node.http_port),
                     ("/var/www/example", node.docroot)):
        assert old in site, (old, site)
        site = site.replace(old, new)
    # AcmeContact and AcmeAgreeToTerms come from README's file, not the harness.
    node.write_config(vhosts=site, plain_vhost_extra=METRICS,
                      acme={"AcmeContact": None, "AcmeAgreeToTerms": None,
                            "AcmeChallenges": "http-01"})


def metrics(node):
    st, _, body = node.http_request("/acme-metrics")
    assert st == 200, (st, body[:300])
    return body.decode() if isinstance(body, bytes) else body


def sample(text, metric):
    """The value of metric's one sample (labels ignored), or None."""
    m = re.search(r"^%s\{[^}]*\} (\S+)$" % re.escape(metric), text, re.M)
    return float(m.group(1)) if m else None


def cluster_families_match_the_doc(text, down):
    """Every acme_cluster_* family docs/metrics.md lists is in text with one
    HELP and one TYPE line, of the documented type and labels, and every
    acme_cluster_* family in text is documented. down: Redis is unreachable
    now, so every family has a sample (the down-since one only then)."""
    docs = {n: d for n, d in documented_families().items() if n.startswith("acme_cluster_")}
    assert len(docs) >= 4, docs
    exposed = {n: f for n, f in exposed_families(text).items() if n.startswith("acme_cluster_")}
    problems = ["%s is exposed but not in docs/metrics.md" % n for n in sorted(set(exposed) - set(docs))]
    problems += ["%s is documented but not exposed" % n for n in sorted(set(docs) - set(exposed))]
    for name in sorted(set(docs) & set(exposed)):
        kind, labels, _ = docs[name]
        for line in ("# HELP %s " % name, "# TYPE %s %s\n" % (name, kind)):
            if text.count("\n" + line) != 1:
                problems.append("%r appears %d times" % (line, text.count("\n" + line)))
        sampled = set(exposed[name][1])
        if exposed[name][0] != kind:
            problems.append("%s is a %s, docs/metrics.md says %s" % (name, exposed[name][0], kind))
        if sampled and sampled != set(labels):
            problems.append("%s has labels %s, docs/metrics.md says %s"
                            % (name, sorted(sampled), sorted(labels)))
        if not sampled and (down or name != "acme_cluster_redis_down_since_timestamp_seconds"):
            problems.append("%s has no sample" % name)
    assert not problems, "\n".join(problems) + "\n" + text


def escaped(text):
    """As the page escapes text (ap_escape_html2)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;")


def cluster_html(node):
    st, _, body = node.http_request("/acme-status", headers={"Accept": "text/html"})
    assert st == 200, st
    body = body.decode() if isinstance(body, bytes) else body
    m = re.search(r'<section id="cluster">.*?</section>', body, re.S)
    assert m, body[-2000:]
    return m.group(0)


@pytest.fixture
def redis_s3cret(workdir):
    """redis-server with README's password."""
    with harness.started(Redis(harness.make_tree("it-redis-view-"), password="s3cret"),
                         "redis-server") as r:
        yield r


def test_redis_unreachable_is_shown_everywhere(workdir, challtestsrv, httpd_factory,
                                               redis_s3cret):
    name = "www.example.org"          # README's; this Pebble is the test's own
    redis = redis_s3cret
    cluster = Cluster(workdir, challtestsrv, httpd_factory, redis, n=2, label="view")
    try:
        for node in cluster.nodes:
            readme_config(node, redis, cluster.key)
            rc, out = node.configtest()
            assert rc == 0, out
        cluster.start()
        serials = {n.wait_for_pebble_cert(name, timeout=120).serial_number for n in cluster.nodes}
        assert len(serials) == 1 and cluster.pebble.new_order_count() == 1
        assert all("example.org" in harness.cert_names(n.verified_cert(name))
                   for n in cluster.nodes)
        node = cluster.nodes[0]
        with open(SCHEMA) as f:
            schema = json.load(f)

        def reachable():
            doc = node.status()
            c = doc.get("cluster") or {}
            return c.get("redis") == "reachable" and len(c.get("nodes", [])) == 2 and doc
        doc = wait_for(reachable, 30, what="the view: Redis reachable, 2 nodes")
        jsonschema.validate(doc, schema)
        assert doc["schema"] == 21 and "down_since" not in doc["cluster"], doc["cluster"]
        m = metrics(node)
        assert sample(m, "acme_cluster_redis_up") == 1 and sample(m, "acme_cluster_nodes") == 2, m
        assert sample(m, "acme_cluster_redis_down_since_timestamp_seconds") is None, m
        assert "# TYPE acme_cluster_redis_up gauge" in m
        cluster_families_match_the_doc(m, down=False)

        # Redis goes away (the real server, stopped).
        before_stop = utcnow()
        redis.stop()
        stopped_at = utcnow()

        def unreachable():
            c = node.status().get("cluster") or {}
            return c.get("redis") == "unreachable" and c
        c = wait_for(unreachable, 30, what="the view to say Redis is unreachable")
        seen_at = utcnow()
        doc = node.status()
        jsonschema.validate(doc, schema)
        since = parse_time(c["down_since"])
        # Since when: after Redis was stopped (seconds resolution), not later than seen.
        assert before_stop.replace(microsecond=0) <= since <= seen_at, (c, before_stop, seen_at)
        assert c["error"] and str(redis.port) in c["url"], c
        # The last nodes seen stay, marked as from before the outage.
        assert len(c["nodes"]) == 2 and parse_time(c["last_contact"]) <= stopped_at, c
        section = cluster_html(node)
        assert "<strong>unreachable</strong>" in section and " since " in section, section
        assert "(%s)" % escaped(c["error"]) in section, section
        out = node.acmectl("--store", node.store, "list")
        assert re.search(r"cluster: node \S+, Redis \S+ UNREACHABLE \(checked [^)]*\), since "
                         + re.escape(c["down_since"]), out.stdout), out.stdout
        out = node.acmectl("--store", node.store, "show", name)
        assert "UNREACHABLE" in out.stdout and c["down_since"] in out.stdout, out.stdout
        assert out.stdout.count("  node ") == 2, out.stdout
        m = metrics(node)
        assert sample(m, "acme_cluster_redis_up") == 0, m
        assert sample(m, "acme_cluster_redis_down_since_timestamp_seconds") \
            == since.timestamp(), m
        assert sample(m, "acme_cluster_nodes") == 2, m
        cluster_families_match_the_doc(m, down=True)
        # It keeps serving, and the CA was not asked again.
        for n in cluster.nodes:
            assert n.verified_cert(name).serial_number in serials
        assert cluster.pebble.new_order_count() == 1

        # A graceful restart while Redis is still down: the outage is older
        # than the new generation, and the view says so.
        node.graceful()
        restarted_at = utcnow().replace(microsecond=0)

        def rechecked():
            c2 = node.status().get("cluster") or {}
            return parse_time(c2.get("checked_at", "1970-01-01T00:00:00Z")) >= restarted_at and c2
        c2 = wait_for(rechecked, 30, what="a view from the restarted generation")
        assert c2["redis"] == "unreachable" and c2["down_since"] == c["down_since"], (c, c2)
        assert node.verified_cert(name).serial_number in serials

        # Redis back (same port, empty): reachable again everywhere.
        redis.start()

        def back():
            c3 = node.status().get("cluster") or {}
            return c3.get("redis") == "reachable" and len(c3.get("nodes", [])) == 2 and c3
        c3 = wait_for(back, 40, what="the view to say Redis is reachable again")
        assert "down_since" not in c3 and c3["error"] is None, c3
        assert "<strong>reachable</strong>" in cluster_html(node)
        m = metrics(node)
        assert sample(m, "acme_cluster_redis_up") == 1, m
        assert sample(m, "acme_cluster_redis_down_since_timestamp_seconds") is None, m
        out = node.acmectl("--store", node.store, "list")
        assert "UNREACHABLE" not in out.stdout and "reachable" in out.stdout, out.stdout
        assert cluster.pebble.new_order_count() == 1, cluster.pebble.request_lines()
    finally:
        cluster.close()
