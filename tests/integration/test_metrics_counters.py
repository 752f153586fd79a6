"""Prometheus counters of acme-metrics (acme_counters.h): counted by the
issuance watchdog (orders, attempts, failures, ACME requests), by the
children that answer challenges, and by the parent (activations, graceful
restarts), in shared memory that survives graceful restarts. Parsed with
prometheus_client's parser of the text format; checked by their deltas
around an issuance and a failure."""
import os
import re

import pytest
import requests

from harness import ssl_vhost, wait_for

ISSUE_TIMEOUT = 60

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover - build/deps.sh installs python3-prometheus-client
    text_string_to_metric_families = None

METRICS_LOCATION = "<Location /metrics>\n    SetHandler acme-metrics\n</Location>"


def scrape(httpd):
    """{(sample name, sorted labels): value} of every counter sample."""
    status, headers, body = httpd.http_request("/metrics")
    assert status == 200, (status, body[:300])
    assert headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), headers
    text = body.decode("utf-8")
    samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, "duplicate series %r" % (key,)
            samples[key] = s.value
    for name in ("acme_orders", "acme_attempts", "acme_failures", "acme_requests",
                 "acme_challenge_answers", "acme_activations", "acme_graceful_restarts"):
        assert types.get(name) == "counter", (name, types.get(name))
    return samples


def value(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, "no series %s%s" % (name, labels)
    return samples[key]


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def add_a(challtestsrv, host, address):
    r = requests.post("http://127.0.0.1:%d/add-a" % challtestsrv.mgmt_port,
                      json={"host": host, "addresses": [address]}, timeout=5)
    assert r.status_code == 200, (r.status_code, r.text)


@pytest.mark.skipif(text_string_to_metric_families is None,
                    reason="python3-prometheus-client is not installed (build/deps.sh)")
def test_counters_count_an_issuance_and_a_failure_across_processes(httpd, pebble, challtestsrv,
                                                                    unique):
    first, second, bad = unique("count-a"), unique("count-b"), unique("count-bad")
    add_a(challtestsrv, bad, "127.0.0.2")     # nothing listens there: the CA cannot connect
    httpd.write_config(vhosts=ssl_vhost(first), plain_vhost_extra=METRICS_LOCATION)
    httpd.start()
    httpd.wait_for_pebble_cert(first, ISSUE_TIMEOUT)
    wait_for(lambda: httpd.domain_status(first).get("renew_at"), ISSUE_TIMEOUT, interval=0.5,
             what="the check after activation")
    httpd.wait_idle(timeout=60)
    before = scrape(httpd)
    pebble_before = pebble.acme_request_count()
    # the first certificate: one order, issued, answered, made live by mod_acme's own restart
    assert value(before, "acme_orders_total") >= 1
    assert value(before, "acme_attempts_total", outcome="issued") >= 1
    assert value(before, "acme_challenge_answers_total", type="http-01") >= 1
    assert value(before, "acme_activations_total", outcome="live") >= 1
    assert value(before, "acme_graceful_restarts_total") >= 1
    assert value(before, "acme_requests_total", endpoint="newOrder", status="201") >= 1

    # a second certificate and a failing one; this graceful restart is ours, not mod_acme's
    httpd.write_config(vhosts=ssl_vhost(first) + ssl_vhost(second) + ssl_vhost(bad),
                       plain_vhost_extra=METRICS_LOCATION)
    httpd.graceful()
    httpd.wait_for_pebble_cert(second, ISSUE_TIMEOUT)
    wait_for(lambda: httpd.domain_status(bad).get("failing"), ISSUE_TIMEOUT, interval=0.5,
             what="%s to fail" % bad)
    wait_for(lambda: httpd.domain_status(second).get("renew_at"), ISSUE_TIMEOUT, interval=0.5,
             what="the check after activation")
    httpd.wait_idle(timeout=60)
    after = scrape(httpd)
    pebble_after = pebble.acme_request_count()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    # counts of the watchdog child, of the first generation kept across both restarts
    assert all(after[k] >= v for k, v in before.items()), "a counter went down"
    assert delta("acme_attempts_total", outcome="issued") == 1
    assert delta("acme_attempts_total", outcome="failed") == 1
    assert delta("acme_failures_total", type="connection") == 1, \
        {k: v for k, v in after.items() if k[0] == "acme_failures_total" and v}
    assert total(after, "acme_failures_total") - total(before, "acme_failures_total") == 1
    assert delta("acme_orders_total") == 2
    assert delta("acme_requests_total", endpoint="newOrder", status="201") == 2
    assert delta("acme_requests_total", endpoint="challenge", status="200") == 2
    assert delta("acme_requests_total", endpoint="finalize", status="200") == 1
    assert delta("acme_requests_total", endpoint="certificate", status="200") == 1
    assert delta("acme_requests_total", endpoint="authz", status="200") >= 2
    assert delta("acme_requests_total", endpoint="other", status="200") == 0
    # every request the CA saw was counted once, under one endpoint and status
    assert total(after, "acme_requests_total") - total(before, "acme_requests_total") \
        == pebble_after - pebble_before
    # children answered the CA's http-01 validation of the second name
    assert delta("acme_challenge_answers_total", type="http-01") >= 1
    assert delta("acme_challenge_answers_total", type="tls-alpn-01") == 0
    # the parent made the second certificate live by one restart of its own
    assert delta("acme_activations_total", outcome="live") == 1
    assert delta("acme_activations_total", outcome="refused") == 0
    assert delta("acme_graceful_restarts_total") == 1


DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "metrics.md")
TICKS = re.compile(r"`([^`]+)`")


def documented_families(path=DOC):
    """docs/metrics.md's tables as {family: (type, {label: values or None},
    conditional)}: the type from the section (a heading saying "gauges" or
    "Counters"; "only with" in it: conditional, exposed only with that
    directive), the labels from the section's "Labels `a` and `b`" or
    "Label `a`:" prose, the family's own
    `name{label}` and the table's labels column; a label's values are the
    quoted words listed for it (None: open, e.g. names, or a list ending in
    "..."). A `{label}` of the metric column takes its values from the
    meaning column."""
    families, kind, section_labels, conditional = {}, None, {}, False
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        if line.startswith("## "):
            heading = line.lower()
            kind = "gauge" if "gauge" in heading else "counter" if "counter" in heading else None
            conditional = "only with" in heading
            section_labels = {}
            continue
        prose = re.search(r"\bLabels? (.*?)(?:[:.]|$)", re.sub(r"\([^)]*\)", "", line))
        if kind and not line.startswith("|") and prose:
            section_labels = {label: None for label in TICKS.findall(prose.group(1))}
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not kind or not line.startswith("| `acme_") or len(cells) < 2:
            continue
        m = re.match(r"^`(acme_[a-z_]+)(?:\{([a-z_]+)\})?`$", cells[0])
        assert m, "cannot read the metric cell %r of docs/metrics.md" % cells[0]
        name, own = m.group(1), m.group(2)
        assert name not in families, "%s documented twice" % name
        labels = dict(section_labels)
        if own:
            values = set(TICKS.findall(cells[1])) - {"AcmeRenewWindow"}
            labels[own] = values or None
        if kind == "counter" and len(cells) >= 3 and cells[1]:
            for part in cells[1].split(";"):
                lm = re.match(r"^\s*`([a-z_]+)`:(.*)$", part, re.S)
                assert lm, "cannot read the labels %r of %s" % (part, name)
                values = set(TICKS.findall(lm.group(2)))
                labels[lm.group(1)] = None if "..." in lm.group(2) else values
        families[name] = (kind, labels, conditional)
    return families


def exposed_families(text):
    """{family: (type, {label: set of values})} of an exposition, from its
    "# TYPE" lines and samples (strictly checked by prometheus_client's
    parser first)."""
    list(text_string_to_metric_families(text))
    families, current = {}, None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in families, "%s exposed twice" % name
            families[name], current = (kind, {}), name
        elif line and not line.startswith("#"):
            m = re.match(r"^([a-z_]+)(?:\{(.*)\})? \S+$", line)
            assert m and m.group(1) == current, "sample outside its family: %r" % line
            for label, val in re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""):
                families[current][1].setdefault(label, set()).add(val)
    return families


@pytest.mark.skipif(text_string_to_metric_families is None,
                    reason="python3-prometheus-client is not installed (build/deps.sh)")
def test_every_exposed_family_is_documented_with_its_type_and_labels(httpd, challtestsrv,
                                                                     unique):
    """A running server with a live certificate and a failing one: every
    family acme-metrics exposes is in docs/metrics.md with the same type and
    label names, every label value it shows is one the document lists (where
    it lists them), and every documented family is exposed (the handler
    writes each family's HELP and TYPE even without samples)."""
    docs = documented_families()
    assert len(docs) >= 15, sorted(docs)
    good, bad = unique("doc-good"), unique("doc-bad")
    add_a(challtestsrv, bad, "127.0.0.2")     # nothing listens there: the CA cannot connect
    httpd.write_config(vhosts=ssl_vhost(good) + ssl_vhost(bad), plain_vhost_extra=METRICS_LOCATION)
    httpd.start()
    httpd.wait_for_pebble_cert(good, ISSUE_TIMEOUT)
    wait_for(lambda: httpd.domain_status(good).get("renew_at"), ISSUE_TIMEOUT, interval=0.5,
             what="the check after activation")
    wait_for(lambda: httpd.domain_status(bad).get("failing"), ISSUE_TIMEOUT, interval=0.5,
             what="%s to fail" % bad)
    status, _, body = httpd.http_request("/metrics")
    assert status == 200, (status, body[:300])
    exposed = exposed_families(body.decode("utf-8"))
    problems = []
    for name, (kind, labels) in sorted(exposed.items()):
        if name not in docs:
            problems.append("%s (%s) is exposed but not in docs/metrics.md" % (name, kind))
            continue
        doc_kind, doc_labels, _ = docs[name]
        if kind != doc_kind:
            problems.append("%s is a %s, docs/metrics.md says %s" % (name, kind, doc_kind))
        if set(labels) - set(doc_labels) or (labels and set(doc_labels) - set(labels)):
            problems.append("%s has labels %s, docs/metrics.md says %s"
                            % (name, sorted(labels), sorted(doc_labels)))
        for label, values in labels.items():
            listed = doc_labels.get(label)
            if listed is not None and values - listed:
                problems.append("%s{%s} shows %s, not listed in docs/metrics.md"
                                % (name, label, sorted(values - listed)))
    problems += ["%s is documented but not exposed" % n for n in sorted(set(docs) - set(exposed))
                 if not docs[n][2]]
    assert not problems, "\n".join(problems)
    # the check can fail: the server really showed per-certificate series of both domains
    assert {good, bad} <= exposed["acme_certificate_state"][1]["name"], exposed
    assert "connection" in exposed["acme_failures_total"][1]["type"]
    # read-only: any other method gets 405 with an Allow header naming GET
    # (RFC 9110 §15.5.6), not httpd's bare default
    status, headers, _ = httpd.http_request("/metrics", method="POST")
    allow = {m.strip() for m in headers.get("Allow", "").split(",")}
    assert status == 405 and "GET" in allow, (status, headers)
