"""Requests of different orders overlap: against a CA that takes DELAY
seconds to answer every request (the proxy's delay, a CA across the
Internet), ten names are all served in far less time than their requests
one after the other would take, and the CA sees several requests at once,
never more than ACME_WIRE_MAX (acme_job.h), nor more than AcmeMaxParallel.
Every order still gets its own nonces (no badNonce) and one account serves
them all."""
import time

import pytest

from ari_proxy import AcmeProxy
from harness import ssl_vhost, wait_for

DELAY = 0.3
NAMES = 10
WIRE_MAX = 4            # ACME_WIRE_MAX (mod_acme/core/issue/acme_job.h)


@pytest.fixture
def slow(pebble):
    p = AcmeProxy(pebble)
    p.delay = DELAY
    p.start()
    yield p
    p.stop()


def issue_all(httpd, proxy, names, max_parallel=None):
    acme = {"AcmeCA": proxy.directory_url}
    if max_parallel:
        acme["AcmeMaxParallel"] = str(max_parallel)
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names), acme=acme)
    began = time.monotonic()
    httpd.start()
    wait_for(lambda: all(httpd.verified_cert(n) for n in names), 240, interval=0.5,
             what="all %d certificates" % len(names))
    return time.monotonic() - began


def test_requests_of_different_orders_overlap(httpd, slow, unique):
    names = [unique("wire%d" % i) for i in range(NAMES)]
    took = issue_all(httpd, slow, names)
    requests = len(slow.requests)
    serial = requests * DELAY
    print("%d names: %.1f s, %d requests (%.1f s one after the other), at most %d at once"
          % (NAMES, took, requests, serial, slow.max_in_flight))
    assert slow.max_in_flight >= 2, "the CA never saw two requests at once"
    assert slow.max_in_flight <= WIRE_MAX, \
        "%d requests at once, more than ACME_WIRE_MAX" % slow.max_in_flight
    # one after the other, the requests alone take serial seconds
    assert took < serial * 0.8, \
        "%.1f s for %d requests of %.1f s each: not overlapping" % (took, requests, DELAY)
    made = [r for r in slow.recorded("POST", r"^/sign-me-up$") if r.status == 201]
    assert len(made) == 1, "one account expected: %s" % slow.recorded("POST", r"^/sign-me-up$")
    assert "badNonce" not in httpd.error_log_text()
    assert requests <= 7 * NAMES + 2 * WIRE_MAX, "%d requests for %d names" % (requests, NAMES)


def test_one_order_at_a_time_sends_one_request_at_a_time(httpd, slow, unique):
    names = [unique("one%d" % i) for i in range(3)]
    issue_all(httpd, slow, names, max_parallel=1)
    assert slow.max_in_flight == 1, \
        "%d requests at once with AcmeMaxParallel 1" % slow.max_in_flight
