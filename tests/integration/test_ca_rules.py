"""CA rules on identifiers and chains that Pebble 2.4 does not have, played
by the proxy in front of Pebble (ari_proxy.py names the public source of each).

Let's Encrypt issues IP address certificates only under its "shortlived"
profile: an order with an IP address and no AcmeProfile asks for it where the
CA lists it, and where it does not, the error says what to set."""
import json

import pytest

from ari_proxy import AcmeProxy
from harness import ssl_vhost, wait_for

ISSUE_TIMEOUT = 60
PROFILES = {"classic": "90-day certificates", "shortlived": "6-day certificates, DNS and IP",
            "tlsserver": "TLS server authentication only"}


@pytest.fixture
def proxy(pebble):
    p = AcmeProxy(pebble).start()
    yield p
    p.stop()


def status_error(httpd, name, timeout=60):
    def error():
        return httpd.domain_status(name).get("error")
    try:
        return wait_for(error, timeout, interval=0.5,
                        what="an error for %s on the status page" % name)
    except TimeoutError as exc:
        raise AssertionError("%s; page: %s\n%s" % (exc, json.dumps(httpd.status(), indent=1),
                                                   httpd.diagnostics())) from None


def test_ip_address_order_asks_for_the_shortlived_profile(httpd, proxy):
    proxy.profiles = dict(PROFILES)
    proxy.ip_needs_profile = "shortlived"
    httpd.write_config(vhosts=ssl_vhost("127.0.0.1"), acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    httpd.wait_for_pebble_cert("127.0.0.1", ISSUE_TIMEOUT)
    payloads = proxy.new_order_payloads()
    assert payloads and all(p.get("profile") == "shortlived" for p in payloads), payloads
    lines = [l for l in httpd.error_log_text().splitlines() if "ACME00480" in l]
    assert len(lines) == 1 and "127.0.0.1" in lines[0] and "shortlived" in lines[0], lines
    assert not httpd.domain_status("127.0.0.1").get("error"), httpd.domain_status("127.0.0.1")


def test_dns_names_get_no_profile_they_did_not_ask_for(httpd, proxy, unique):
    name = unique("noip")
    proxy.profiles = dict(PROFILES)
    proxy.ip_needs_profile = "shortlived"
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    payloads = proxy.new_order_payloads()
    assert payloads and all("profile" not in p for p in payloads), payloads
    assert "ACME00480" not in httpd.error_log_text()


@pytest.mark.parametrize("profiles, says", [
    ({"classic": "90 days", "tlsserver": "TLS only"},
     ['lists no "shortlived" profile', "it offers: classic, tlsserver", "AcmeProfile"]),
    (None, ["lists no profiles", "may not issue IP address certificates", "AcmeCA"]),
], ids=["other-profiles", "no-profiles"])
def test_ip_address_refused_says_what_to_set(httpd, proxy, profiles, says):
    proxy.profiles = profiles
    proxy.ip_needs_profile = "shortlived"
    httpd.write_config(vhosts=ssl_vhost("127.0.0.1"), acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    error = status_error(httpd, "127.0.0.1")
    detail = error.get("detail", "")
    assert "rejectedIdentifier" in error.get("type", ""), error
    assert "Cannot issue for IP addresses" in detail, error   # the CA's own words stay
    for text in says:
        assert text in detail, (text, error)
    assert all("profile" not in p for p in proxy.new_order_payloads()), proxy.new_order_payloads()


def test_ip_address_under_a_profile_that_refuses_it_names_the_offered_ones(httpd, proxy):
    proxy.profiles = dict(PROFILES)
    proxy.ip_needs_profile = "shortlived"
    httpd.write_config(vhosts=ssl_vhost("127.0.0.1", extra="AcmeProfile tlsserver"),
                       acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    detail = status_error(httpd, "127.0.0.1").get("detail", "")
    assert "under the profile tlsserver" in detail, detail
    assert "it offers: classic, shortlived, tlsserver" in detail, detail
