"""Requests of different orders overlap: against a CA that takes DELAY
seconds to answer every request (the proxy's delay, a CA across the
Internet), ten names are all served in far less time than their requests
one after the other would take, and the CA sees requests of different
orders at once (an order's own requests go one after the other, from the
one thread serving it), never more than ACME_WIRE_MAX, nor more than
AcmeMaxParallel. Every order still gets its own nonces (no badNonce) and
one account serves them all. A 429 at newOrder stops the new orders of
every thread: none reaches the CA after it."""
import datetime
import re
import socket
import time

import pytest

from ari_proxy import AcmeProxy
from harness import ssl_vhost, store_status, wait_for

DELAY = 0.3
NAMES = 10
WIRE_MAX = 4            # ACME_WIRE_MAX (mod_acme/core/issue/acme_job.h)
# the resources of one order (Pebble's paths), not the account's or the directory's
ORDER_PATHS = ("/order-plz", "/my-order/", "/authZ/", "/chalZ/", "/finalize-order/", "/certZ/")


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


def most_order_requests_at_once(proxy):
    """The most requests to order resources the CA was answering at once,
    from their arrival to their answer."""
    events = []
    for r in proxy.recorded():
        if r.answered and r.path.startswith(ORDER_PATHS):
            events += [(r.arrived, 1), (r.answered, -1)]
    level = peak = 0
    for _, d in sorted(events):
        level += d
        peak = max(peak, level)
    return peak


def busy_and_summed(proxy):
    """The time the CA had at least one request to answer, and the sum of
    the times of every request (arrival to answer): one after the other,
    the two are equal."""
    spans = sorted((r.arrived, r.answered) for r in proxy.recorded() if r.answered)
    busy = summed = 0.0
    end = None
    for a, b in spans:
        summed += b - a
        if end is None or a > end:
            busy += b - a
            end = b
        elif b > end:
            busy += b - end
            end = b
    return busy, summed


def test_requests_of_different_orders_overlap(httpd, slow, unique):
    names = [unique("wire%d" % i) for i in range(NAMES)]
    took = issue_all(httpd, slow, names)
    requests = len(slow.requests)
    serial = requests * DELAY
    at_once = most_order_requests_at_once(slow)
    print("%d names: %.1f s, %d requests (%.1f s one after the other), at most %d at once, "
          "%d of orders" % (NAMES, took, requests, serial, slow.max_in_flight, at_once))
    assert at_once >= 2, "the CA never answered requests of two orders at once"
    assert slow.max_in_flight <= WIRE_MAX, \
        "%d requests at once, more than ACME_WIRE_MAX" % slow.max_in_flight
    # One after the other, the CA is busy for as long as all the requests
    # take together; overlapping, for a good part less. Measured at the CA,
    # not from httpd's start: its start, key generation and the graceful
    # restart are no requests.
    busy, summed = busy_and_summed(slow)
    print("the CA busy %.1f s with requests that took %.1f s together" % (busy, summed))
    assert busy < summed * 0.8, \
        "%.1f s busy for %.1f s of requests: not overlapping" % (busy, summed)
    made = [r for r in slow.recorded("POST", r"^/sign-me-up$") if r.status == 201]
    assert len(made) == 1, "one account expected: %s" % slow.recorded("POST", r"^/sign-me-up$")
    assert "badNonce" not in httpd.error_log_text()
    assert requests <= 7 * NAMES + 2 * WIRE_MAX, "%d requests for %d names" % (requests, NAMES)


def test_one_order_at_a_time_sends_one_request_at_a_time(httpd, slow, unique):
    names = [unique("one%d" % i) for i in range(3)]
    issue_all(httpd, slow, names, max_parallel=1)
    assert slow.max_in_flight == 1, \
        "%d requests at once with AcmeMaxParallel 1" % slow.max_in_flight


PAUSED = "CA rate limit: new orders wait until "


def test_a_429_at_new_order_stops_the_new_orders_of_every_thread(httpd, slow, unique):
    """Four names start at once on four threads against a CA that allows one
    new order per 60 s: the second newOrder meets the 429, and no other
    newOrder reaches the CA after it arrived, not even one sent while the
    429 was on its way back; the two names left wait for the pause."""
    slow.order_limit = (1, 60)
    names = [unique("hold%d" % i) for i in range(4)]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       acme={"AcmeCA": slow.directory_url})
    httpd.start()
    wait_for(lambda: any(r.status == 429 for r in slow.new_orders()), 90, interval=0.2,
             what="a 429 from the limited CA")
    first = min((r for r in slow.new_orders() if r.status == 429), key=lambda r: r.arrived)
    # the other threads' turns come within a few of the proxy's delays
    time.sleep(10 * DELAY + 3)
    later = [r for r in slow.new_orders() if r.arrived > first.arrived]
    assert not later and slow.refused_429 == 1, \
        "%d new orders reached the CA after the first 429, %d refused: %s\n%s" % (
            len(later), slow.refused_429, slow.new_orders(), httpd.diagnostics(60))
    paused = [n for n in names
              if (store_status(httpd.store, n).get("activity") or "").startswith(PAUSED)]
    assert len(paused) == 2, [store_status(httpd.store, n) for n in names]
    assert httpd.error_log_text().count("ACME01260: ") == 1, httpd.diagnostics(60)


class DroppingProxy(AcmeProxy):
    """A CA that goes down: from the first request whose path starts with
    down_at on, every request is read and its connection closed without an
    answer (a CA behind a load balancer whose backends died; no HTTP status,
    as libcurl's "Empty reply from server"). Pebble has no such behaviour:
    only this is added, everything else is forwarded."""
    down_at = "/finalize-order/"

    def __init__(self, pebble):
        super().__init__(pebble)
        self.down_since = None

    def _intercept(self, h, rec, body):
        with self.lock:
            if self.down_since is None and h.path.startswith(self.down_at):
                self.down_since = rec.arrived
            down = self.down_since is not None
        if not down:
            return False
        rec.status = 0
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True


def runs_ended(httpd):
    """The end times (seconds since the epoch) of the issuance runs (ACME00711)."""
    ends = []
    for stamp in re.findall(r"^\[([^\]]+)\] \[acme:[a-z0-9]+\] \[pid \d+:tid \d+\] "
                            r"(?:[^ ]+ )?ACME00711: ", httpd.error_log_text(), re.M):
        ends.append(datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S.%f %Y").timestamp())
    return ends


def test_a_ca_down_mid_run_gets_one_request_per_thread(httpd, pebble, unique):
    """Eight names on four threads; the CA stops answering at the first
    finalize (the probe right after a name's challenges were answered, whose
    failure only makes that order wait). Its first unanswered request parks
    every name of the run that has not sent its own yet: until the run ends,
    no more than one request of each other thread reaches the CA (the one it
    had on the wire, or its job's next one), not one per name."""
    proxy = DroppingProxy(pebble)
    proxy.delay = DELAY
    proxy.start()
    try:
        names = [unique("down%d" % i) for i in range(8)]
        httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                           acme={"AcmeCA": proxy.directory_url})
        httpd.start()
        wait_for(lambda: proxy.down_since is not None, 90, interval=0.2,
                 what="the first finalize at the CA")
        down = proxy.down_since
        wait_for(lambda: any(t > down for t in runs_ended(httpd)), 60, interval=0.2,
                 what="the end of the run the CA went down in")
        end = min(t for t in runs_ended(httpd) if t > down)
        # libcurl sends a request again, once, on a fresh connection when a
        # reused one closed without an answer: a POST whose body (its JWS,
        # whose nonce no other request has) came before is that resend; a
        # HEAD or GET is one when the same one came within the second before.
        # Other threads' requests to the same URL (newOrder, newNonce) count.
        last, later = {}, []
        for r in sorted(proxy.recorded(), key=lambda r: r.arrived):
            if r.arrived < down or r.arrived > end:
                continue
            key = (r.method, r.path, r.body or b"")
            resend = key in last and (r.body or r.arrived - last[key] < 1.0)
            last[key] = r.arrived
            if resend:
                continue
            if r.arrived > down:
                later.append(r)
        print("requests after the first unanswered one, in its run: %s" % later)
        assert len(later) <= WIRE_MAX - 1, \
            "%d requests reached the CA after its first unanswered one in that run: %s\n%s" % (
                len(later), later, httpd.diagnostics(60))
    finally:
        proxy.stop()
