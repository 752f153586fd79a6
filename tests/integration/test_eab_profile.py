"""External Account Binding (RFC 8555 §7.3.4) against a Pebble that requires
it, and ACME profiles through the proxy in front of Pebble (Pebble 2.4 lists
none): AcmeEAB binds the new account, a wrong or missing one fails clearly,
the MAC key never shows; AcmeProfile goes into the order only when the CA
lists it."""
import base64
import json
import os

import pytest

import harness
from ari_proxy import AcmeProxy, b64url_decode
from harness import ssl_vhost, wait_for

ISSUE_TIMEOUT = 60
EAB_KID = "kid-1"
EAB_KEY = harness.new_eab_key()
WRONG_KEY = harness.new_eab_key()


@pytest.fixture(scope="module")
def eab_pebble(workdir, challtestsrv):
    yield from harness.started_eab_pebble(workdir, challtestsrv.dns_port, "eab", EAB_KID, EAB_KEY)


@pytest.fixture
def eab_proxy(eab_pebble):
    p = AcmeProxy(eab_pebble)
    p.ari_enabled = False
    p.start()
    yield p
    p.stop()


def status_error(httpd, name, timeout=30):
    """The status page's error for name, once there is one."""
    def error():
        return httpd.domain_status(name).get("error")
    try:
        return wait_for(error, timeout, what="an error for %s on the status page" % name)
    except TimeoutError as exc:
        raise AssertionError("%s; page: %s\n%s" % (exc, json.dumps(httpd.status(), indent=1),
                                                   httpd.diagnostics())) from None


def texts_holding(httpd, secret):
    """Where secret shows: the error log, the status page (JSON and HTML), any
    file of the store."""
    found = []
    if secret in httpd.error_log_text():
        found.append(httpd.error_log)
    if secret in json.dumps(httpd.status()):
        found.append("status page (JSON)")
    if secret in httpd.http_request("/acme-status")[2].decode(errors="replace"):
        found.append("status page (HTML)")
    for root, _dirs, files in os.walk(httpd.store):
        for f in files:
            path = os.path.join(root, f)
            try:
                with open(path, "rb") as fh:
                    if secret.encode() in fh.read():
                        found.append(path)
            except FileNotFoundError:
                pass  # a temp file renamed into place while the store was walked
    return found


def new_account_payloads(proxy):
    return [r.payload for r in proxy.recorded("POST", r"^/sign-me-up$") if r.payload]


# --------------------------------------------------------------------------
# External Account Binding

def test_eab_binds_the_new_account_and_the_certificate_is_served(httpd_factory, eab_pebble,
                                                                eab_proxy, unique):
    name = unique("eab")
    httpd = httpd_factory(pebble=eab_pebble)
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmeCA": eab_proxy.directory_url, "AcmeEAB": "%s %s" % (EAB_KID, EAB_KEY)})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)

    created = [p for p in new_account_payloads(eab_proxy) if "externalAccountBinding" in p]
    assert len(created) == 1, new_account_payloads(eab_proxy)
    eab = created[0]["externalAccountBinding"]
    header = json.loads(b64url_decode(eab["protected"]))
    assert header == {"alg": "HS256", "kid": EAB_KID,
                      "url": eab_proxy.origin + "/sign-me-up"}, header
    bound = json.loads(b64url_decode(eab["payload"]))
    assert bound.get("kty") == "EC" and "d" not in bound, bound
    assert texts_holding(httpd, EAB_KEY) == []


def test_wrong_eab_mac_is_the_cas_error_on_the_status_page(httpd_factory, eab_pebble, unique):
    name = unique("eab-wrong")
    httpd = httpd_factory(pebble=eab_pebble)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeEAB": "%s %s" % (EAB_KID, WRONG_KEY)})
    httpd.start()
    error = status_error(httpd, name)
    assert error.get("type", "").startswith("urn:ietf:params:acme:error:"), error
    assert error.get("detail"), error
    page = httpd.domain_status(name)
    assert page["state"] == "failing" and page["attempts"] >= 1, page
    assert harness.parse_time(page["next_action"]) > harness.utcnow(), page   # backing off
    log = httpd.error_log_text()
    assert error["detail"] in log, "the CA's detail %r is not in the log" % error["detail"]
    assert texts_holding(httpd, WRONG_KEY) == []

    # the corrected MAC is used at once, not after the backoff
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeEAB": "%s %s" % (EAB_KID, EAB_KEY)})
    httpd.graceful()
    httpd.wait_for_pebble_cert(name, 30)
    assert texts_holding(httpd, EAB_KEY) == []


def test_missing_eab_at_a_ca_that_requires_it_says_what_to_add(httpd_factory, eab_pebble,
                                                              unique):
    name = unique("eab-missing")
    httpd = httpd_factory(pebble=eab_pebble)
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    error = status_error(httpd, name)
    assert error.get("type") == "urn:ietf:params:acme:error:externalAccountRequired", error
    assert "requires External Account Binding" in error["detail"], error
    assert "AcmeEAB <kid> <hmac>" in error["detail"], error
    assert "requires External Account Binding" in httpd.error_log_text()


@pytest.mark.parametrize("mac, why", [
    ("not*base64url", "does not decode as base64url"),
    ("ab+cd/ef", "standard base64, not base64url"),
])
def test_configtest_rejects_an_eab_mac_that_is_not_base64url(httpd, mac, why):
    httpd.write_config(vhosts=ssl_vhost("eab-conf.test"), acme={"AcmeEAB": "kid-9 " + mac})
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert "AcmeEAB" in out and why in out, out
    assert "line %d" % httpd.line_of("AcmeEAB") in out, out
    assert mac not in out, "the MAC key is echoed: %s" % out


def test_configtest_accepts_a_padded_eab_mac(httpd):
    httpd.write_config(vhosts=ssl_vhost("eab-pad.test"),
                       acme={"AcmeEAB": "kid-9 " + base64.urlsafe_b64encode(b"12345").decode()})
    rc, out = httpd.configtest()
    assert rc == 0, out


# --------------------------------------------------------------------------
# ACME profiles

def test_profile_listed_by_the_ca_goes_into_the_order(httpd, proxy, unique):
    name = unique("profile")
    proxy.profiles = {"classic": "90-day certificates", "shortlived": "6-day certificates"}
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeProfile shortlived"),
                       acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    payloads = proxy.new_order_payloads()
    assert payloads and all(p.get("profile") == "shortlived" for p in payloads), payloads
    assert not httpd.domain_status(name).get("notice"), httpd.domain_status(name)
    assert "ACME00431" not in httpd.error_log_text()


def test_profile_without_profiles_at_the_ca_is_ignored_with_a_notice(httpd, proxy, unique):
    name = unique("noprofile")
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": proxy.directory_url, "AcmeProfile": "shortlived"})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    payloads = proxy.new_order_payloads()
    assert payloads and all("profile" not in p for p in payloads), payloads
    notice = "AcmeProfile shortlived ignored: the CA offers no profiles"
    page = wait_for(lambda: httpd.domain_status(name).get("notice"), 10,
                    what="the notice on the status page")
    assert page == notice, httpd.domain_status(name)
    assert notice in httpd.http_request("/acme-status")[2].decode(), "not in the HTML page"
    warnings = [l for l in httpd.error_log_text().splitlines() if "ACME00431" in l]
    assert len(warnings) == 1 and notice in warnings[0], warnings


def test_profile_the_ca_does_not_list_fails_naming_the_offered_ones(httpd, proxy, unique):
    name = unique("badprofile")
    proxy.profiles = {"classic": "90-day certificates", "tlsserver": "TLS server only"}
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": proxy.directory_url, "AcmeProfile": "shortlived"})
    httpd.start()
    error = status_error(httpd, name)
    detail = error["detail"]
    assert "AcmeProfile shortlived" in detail and "classic" in detail \
        and "tlsserver" in detail, error
    assert proxy.new_order_payloads() == [], proxy.new_order_payloads()
