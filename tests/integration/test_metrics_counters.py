"""Prometheus counters of acme-metrics (acme_counters.h): counted by the
issuance watchdog (orders, attempts, failures, ACME requests), by the
children that answer challenges, and by the parent (activations, graceful
restarts), in shared memory that survives graceful restarts. Parsed with
prometheus_client's parser of the text format; checked by their deltas
around an issuance and a failure."""
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
