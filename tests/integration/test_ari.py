"""ACME Renewal Information (RFC 9773) through a proxy in front of Pebble
(Pebble 2.4 has no ARI): the module asks for the live certificate's renewal
window, renews inside it, says which certificate the new order replaces, and
waits as long as the CA's Retry-After says."""
import datetime
import json
import os
import time

import requests

import harness
from ari_proxy import ari_cert_id
from harness import ssl_vhost, store_status, utcnow, wait_for, wait_for_new_cert

ISSUE_TIMEOUT = 60
FAR = datetime.timedelta(days=300)


def start_through(httpd, proxy, name):
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    return httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)


def first_request_for(httpd, proxy, cert, timeout=20):
    cid = ari_cert_id(cert)
    try:
        return wait_for(lambda: proxy.renewal_info_requests(cid), timeout,
                        what="a renewalInfo request for %s" % cid)[0]
    except TimeoutError as exc:
        raise AssertionError("%s; renewalInfo requests: %s\n%s" % (
            exc, proxy.renewal_info_requests(), httpd.diagnostics())) from None


def test_renewal_inside_the_suggested_window_replaces_the_old_certificate(httpd, proxy, unique):
    name = unique("ari")
    windows = {}

    def window(cid):
        # the live certificate: renew 15..25 s after the first question;
        # any later one: far away, so it is not renewed again
        if not windows:
            now = utcnow()
            windows[cid] = (now + datetime.timedelta(seconds=15),
                            now + datetime.timedelta(seconds=25))
        return windows.get(cid) or (utcnow() + FAR, utcnow() + FAR + datetime.timedelta(days=1))
    proxy.set_window_function(window)

    first = start_through(httpd, proxy, name)
    first_id = ari_cert_id(first)
    asked = first_request_for(httpd, proxy, first)
    assert first_id in windows, "renewalInfo asked for %s, not the live certificate %s" % (
        list(windows), first_id)
    start, end = windows[first_id]
    orders = proxy.new_orders()
    assert len(orders) == 1, orders
    assert "replaces" not in orders[0].payload, orders[0].payload

    # the module's ARI state, in the store and on the status page
    def ari_state():
        st = store_status(httpd.store, name).get("ari") or {}
        return st if st.get("start") and st.get("chosen") else None
    ari = wait_for(ari_state, 10, what="the suggested window in status/%s.json" % name)
    chosen = harness.parse_time(ari["chosen"])
    assert start.replace(microsecond=0) <= chosen <= end, (ari, start, end)
    with open(os.path.join(httpd.store, "jobs", ".ari", name + ".json")) as f:
        stored = json.load(f)
    assert harness.parse_time(stored["start"]) == start.replace(microsecond=0), stored
    page = httpd.domain_status(name).get("ari")
    assert page and page.get("chosen"), httpd.domain_status(name)

    second = wait_for_new_cert(httpd, name, first.serial_number,
                               (end - utcnow()).total_seconds() + 20)
    orders = proxy.new_orders()
    assert len(orders) == 2, orders
    renewal = orders[1]
    ordered_at = datetime.datetime.fromtimestamp(renewal.time, datetime.timezone.utc)
    assert start - datetime.timedelta(seconds=1) <= ordered_at <= end + \
        datetime.timedelta(seconds=2), "renewal ordered at %s, window %s .. %s (asked at %s)" % (
            ordered_at, start, end, datetime.datetime.fromtimestamp(asked.time))
    assert renewal.payload.get("replaces") == first_id, renewal.payload
    not_before = second.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    assert start - datetime.timedelta(seconds=2) <= not_before <= end + \
        datetime.timedelta(seconds=2), (not_before, start, end)
    # the new certificate's renewal information is asked for in turn
    first_request_for(httpd, proxy, second)


def test_retry_after_is_respected_across_a_restart(httpd, proxy, unique):
    """Retry-After: 61 on the answer: no second question for the same
    certificate before 61 s, not even after a graceful restart; but one soon
    after."""
    retry_after = 61
    proxy.set_window(utcnow() + FAR, utcnow() + FAR + datetime.timedelta(days=1), retry_after)
    name = unique("ari-retry")
    cert = start_through(httpd, proxy, name)
    cid = ari_cert_id(cert)
    first = first_request_for(httpd, proxy, cert)

    time.sleep(3)
    httpd.graceful()   # a new watchdog child must remember when to ask again
    try:
        wait_for(lambda: len(proxy.renewal_info_requests(cid)) >= 2, retry_after + 40,
                 interval=0.5, what="the second renewalInfo request")
    except TimeoutError as exc:
        raise AssertionError("%s: %s\n%s" % (exc, proxy.renewal_info_requests(cid),
                                             httpd.diagnostics())) from None
    second = proxy.renewal_info_requests(cid)[1]
    gap = second.time - first.time
    assert gap >= retry_after - 1, \
        "asked again after %.1f s despite Retry-After: %d" % (gap, retry_after)
    assert proxy.new_orders()[-1].payload.get("replaces") is None
    assert len(proxy.new_orders()) == 1, "renewed although the window is far away"


def test_proxy_is_transparent_and_pebble_builds_urls_on_its_origin(httpd, proxy, unique):
    """The premise of the tests above: Pebble derives every URL from the Host
    header, so behind the proxy the client only ever sees the proxy's origin,
    and JWS "url" checks pass on it."""
    r = requests.get(proxy.directory_url, verify=proxy.pebble.ca.ca_pem, timeout=5)
    doc = r.json()
    urls = [v for v in doc.values() if isinstance(v, str)]
    assert urls and all(u.startswith(proxy.origin + "/") for u in urls), doc
    assert doc["renewalInfo"] == proxy.renewal_info_url

    proxy.set_window(utcnow() + FAR, utcnow() + FAR + datetime.timedelta(days=1))
    name = unique("ari-origin")
    start_through(httpd, proxy, name)
    seen = {(r.method, r.path.split("/")[1]) for r in proxy.recorded()}
    for step in [("GET", "dir"), ("HEAD", "nonce-plz"), ("POST", "sign-me-up"),
                 ("POST", "order-plz"), ("POST", "authZ"), ("POST", "chalZ"),
                 ("POST", "finalize-order"), ("POST", "certZ")]:
        assert step in seen, "%s %s did not go through the proxy: %s" % (step + (sorted(seen),))
    assert not [r for r in proxy.recorded() if r.status and r.status >= 500], proxy.recorded()
    direct = "127.0.0.1:%d/" % proxy.pebble.port
    assert direct not in httpd.error_log_text(), "the module talked to Pebble directly"


def test_a_404_to_renewal_info_is_no_ari_for_it_said_once_per_ca(httpd, proxy, unique):
    """A CA answering renewalInfo with 404 has no renewal information for
    that certificate (Boulder's answer for one it does not know): RFC 9773
    §4.2 leaves the time to the client, so the renewal window decides. One
    warning for the CA (ACME01280), not one per certificate (ACME00426 was
    logged for each of 200)."""
    names = [unique("ari-404-%d" % i) for i in range(3)]
    proxy.set_window_function(lambda _cid: None)
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    certs = [httpd.wait_for_pebble_cert(n, ISSUE_TIMEOUT) for n in names]
    for cert in certs:
        first_request_for(httpd, proxy, cert, timeout=30)
    assert all(r.status == 404 for r in proxy.renewal_info_requests()), proxy.renewal_info_requests()
    wait_for(lambda: "ACME01280" in httpd.error_log_text(), 10, what="ACME01280 logged")
    time.sleep(2)
    log = httpd.error_log_text()
    assert "ACME00426" not in log, [l for l in log.splitlines() if "ACME00426" in l]
    assert log.count("ACME01280") == 1, [l for l in log.splitlines() if "ACME01280" in l]
    for n in names:
        d = httpd.domain_status(n)
        assert d["ari"] is None and d["renew_at"] and not d["failing"], d
