"""ACME Renewal Information (RFC 9773) while the CA's renewalInfo endpoint
does not answer, then answers again. While it fails, one name asks again
after the backoff and the others wait ("parked", acme_renewal.c), so a CA
down for hours costs one request per backoff step, not one per name; once
the CA answers that one, the parked names are released, each asks for its
own window, and each certificate is renewed inside it (its order naming the
certificate it replaces)."""
import datetime
import time

import harness
from ari_proxy import AcmeProxy, ari_cert_id
from harness import ssl_vhost, utcnow, wait_for

NAMES = 3
ISSUE_TIMEOUT = 60
BACKOFF_S = 60           # the first step of the backoff (ACME_ARI_POLL_MIN)
SPREAD_S = 60            # released names ask within this (ACME_CA_DOWN_RETRY)
FAR = datetime.timedelta(days=300)


class AriDownProxy(AcmeProxy):
    """AcmeProxy whose renewalInfo endpoint, while down is set, closes the
    connection without an answer: a CA whose ARI service is unavailable.
    RFC 9773 §4.3.3 (Error Handling): a client that cannot get renewal
    information retries with exponential backoff and keeps to its own
    renewal schedule meanwhile."""
    down = True

    def _intercept(self, h, rec, body):
        if not (self.down and h.command == "GET" and h.path.startswith("/renewal-info/")):
            return False
        rec.status = 0
        h.close_connection = True
        return True


def cert_id_of(request):
    return request.path.split("/renewal-info/", 1)[1]


def test_parked_names_are_released_when_the_ca_answers_again(httpd, pebble, unique):
    proxy = AriDownProxy(pebble).start()
    try:
        run_parked_names(httpd, proxy, unique)
    finally:
        proxy.stop()


def run_parked_names(httpd, proxy, unique):
    names = [unique("parked%d" % i) for i in range(NAMES)]
    windows = {}      # cert id -> (start, end) as first answered
    firsts = set()    # the first certificates' ids

    def window(cid):
        # each first certificate: renew 3..13 s after its first answer;
        # a renewed one: far away
        if cid in firsts and cid not in windows:
            now = utcnow()
            windows[cid] = (now + datetime.timedelta(seconds=3),
                            now + datetime.timedelta(seconds=13))
        return windows.get(cid) or (utcnow() + FAR, utcnow() + FAR + datetime.timedelta(days=1))
    proxy.set_window_function(window)
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    certs = {n: httpd.wait_for_pebble_cert(n, ISSUE_TIMEOUT) for n in names}
    firsts.update(ari_cert_id(c) for c in certs.values())

    # down: the first question fails; the other names wait for its next
    # try instead of asking (the certificates went live in one restart, so
    # one watchdog child looks at them all from the start)
    first = wait_for(lambda: proxy.renewal_info_requests(), 30,
                     what="the first renewalInfo request")[0]
    wait_for(lambda: "ACME00426" in httpd.error_log_text(), 10, what="the failure logged")
    prober = cert_id_of(first)
    while time.time() < first.time + BACKOFF_S - 5:
        # (curl sends a request again at once when the connection it reused
        # closes: one question may show twice)
        asked = proxy.renewal_info_requests()
        assert {cert_id_of(r) for r in asked} == {prober} and \
            all(r.time < first.time + 2 for r in asked), \
            "asked again while the CA was down: %s\n%s" % (asked, httpd.diagnostics())
        time.sleep(1)
    proxy.down = False

    # the prober's next try gets an answer; every name then asks for its own
    # window and is renewed in it
    try:
        wait_for(lambda: len(windows) == NAMES, 10 + SPREAD_S + 20, interval=0.5,
                 what="every certificate's renewal information")
    except TimeoutError as exc:
        raise AssertionError("%s: asked %s\n%s" % (exc, proxy.renewal_info_requests(),
                                                   httpd.diagnostics())) from None
    again = [r for r in proxy.renewal_info_requests() if r.time >= first.time + 2]
    assert again[0].time >= first.time + BACKOFF_S - 1 and cert_id_of(again[0]) == prober, again
    for name, cert in certs.items():
        harness.wait_for_new_cert(httpd, name, cert.serial_number, 13 + 20)
    orders = {o.payload.get("replaces"): o for o in proxy.new_orders()[NAMES:]}
    assert set(orders) == set(windows), (list(orders), list(windows))
    for cid, (start, end) in windows.items():
        at = datetime.datetime.fromtimestamp(orders[cid].time, datetime.timezone.utc)
        assert start - datetime.timedelta(seconds=1) <= at <= end + datetime.timedelta(seconds=2), \
            "renewal of %s ordered at %s, window %s .. %s" % (cid, at, start, end)
