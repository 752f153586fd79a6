"""Counters of acme-metrics across restarts during issuance: an issuing
child told to exit (graceful restart) while it downloads a certificate, and
one killed by a full restart ('apache2 -k restart') while it waits for the
CA, whose order a new child resumes. Afterwards the counters add up: every
order ended issued or failed, every staged certificate ("ACME00405") counted
once as issued, every order the CA saw counted once.

A proxy in front of Pebble holds the certificate downloads (POST /certZ/) so
the restarts come at that point of the issuance."""
import re

import pytest

from harness import ssl_vhost, wait_for
from test_metrics_counters import METRICS_LOCATION, scrape, text_string_to_metric_families, value

ISSUE_TIMEOUT = 60


def hold_then_restart(httpd, proxy, start, restart):
    """Holds the next certificate download (of an issuance start() begins),
    restarts httpd while it is held (restart: 'graceful' or 'restart'), then
    lets it go."""
    gate = proxy.gate("POST", r"^/certZ/", timeout=60)
    start()
    wait_for(gate.held.is_set, ISSUE_TIMEOUT, interval=0.05,
             what="a certificate download held at the proxy")
    before = httpd.generation_count()
    p = httpd._ctl("-k", restart)
    assert p.returncode == 0, (restart, p.returncode, p.stderr)
    wait_for(lambda: httpd.generation_count() > before, 30, interval=0.1,
             what="the %s to complete" % restart)
    proxy.open_gates()


def assert_counters_add_up(httpd, proxy, names):
    for name in names:
        httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    httpd.wait_idle(timeout=60)
    m = scrape(httpd)
    orders = value(m, "acme_orders_total")
    issued = value(m, "acme_attempts_total", outcome="issued")
    failed = value(m, "acme_attempts_total", outcome="failed")
    text = httpd.error_log_text()
    staged = len(re.findall(r"ACME00405: ", text))
    in_flight = sum(1 for d in httpd.status().get("domains", [])
                    if d.get("state") in ("missing", "renewing", "failing"))
    why = "orders %d, issued %d, failed %d, staged %d, CA's new orders %d\n%s" % (
        orders, issued, failed, staged, len(proxy.new_orders()), httpd.diagnostics(60))
    assert staged == len(names), why
    assert issued == staged, why
    assert failed == 0, why
    assert orders == issued + failed + in_flight, why
    assert orders == len(proxy.new_orders()), why
    assert value(m, "acme_activations_total", outcome="live") == issued, why


@pytest.mark.skipif(text_string_to_metric_families is None,
                    reason="python3-prometheus-client is not installed (build/deps.sh)")
def test_counters_add_up_after_restarts_during_issuance(httpd, plain_proxy, unique):
    first, second = unique("cnt-grace"), unique("cnt-hard")
    httpd.write_config(vhosts=ssl_vhost(first), acme={"AcmeCA": plain_proxy.directory_url},
                       plain_vhost_extra=METRICS_LOCATION)
    # the issuing child is told to exit while the CA sends the certificate:
    # it stages it after the restart began
    hold_then_restart(httpd, plain_proxy, httpd.start, "graceful")
    assert_counters_add_up(httpd, plain_proxy, [first])

    # a full restart picks up the new name; the next one, while its download
    # is held, ends the issuing child (killed when it does not exit in time)
    httpd.write_config(vhosts=ssl_vhost(first) + ssl_vhost(second),
                       acme={"AcmeCA": plain_proxy.directory_url},
                       plain_vhost_extra=METRICS_LOCATION)
    hold_then_restart(httpd, plain_proxy, lambda: httpd._ctl("-k", "restart"), "restart")
    assert_counters_add_up(httpd, plain_proxy, [first, second])
