"""What RFC 8555 allows a CA and Pebble never does, through the test proxy
(ca_personality.VARIANTS): media types with parameters on every response,
a certificate chain with CRLF line ends, a finalize response without a
Location header; and a renewal whose new order is "ready" on creation
because the CA reuses the valid authorizations (Pebble with
PEBBLE_AUTHZREUSE=100, as Let's Encrypt reuses authorizations:
https://letsencrypt.org/docs/faq/ "authorization reuse"), so no challenge is
answered again. Also a CA that answers the account lookup for an unknown
key with a plain 404 instead of 400 accountDoesNotExist."""
import re

import pytest

import harness
from ca_personality import PersonalityProxy
from harness import ssl_vhost, wait_for_new_cert

ISSUE_TIMEOUT = 60
RENEW_TIMEOUT = 90


@pytest.fixture(scope="module")
def reuse_pebble(workdir, challtestsrv):
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port, "authzreuse",
                                              env={"PEBBLE_AUTHZREUSE": "100"})


def test_rfc8555_variants_and_an_order_ready_on_creation(httpd_factory, reuse_pebble, unique):
    proxy = PersonalityProxy(reuse_pebble, "rfc8555").start()
    try:
        name = unique("variants")
        httpd = httpd_factory(pebble=reuse_pebble)
        httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
        httpd.start()
        first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
        downloads = [r for r in proxy.recorded("POST", r"^/certZ/") if r.status == 200]
        finalized = [r for r in proxy.recorded("POST", r"^/finalize-order/") if r.status == 200]
        assert downloads and finalized, proxy.recorded("POST")
        challenges = len(proxy.recorded("POST", r"^/chalZ/"))
        assert challenges >= 1

        # renewal: the CA reuses the valid authorization, the order is ready at once
        p = httpd.acmectl("--store", httpd.store, "renew", name, timeout=60)
        assert p.returncode == 0, p.stderr
        second = wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
        assert second.serial_number != first.serial_number
        created = re.findall(r"ACME00417: %s: order \S+ created \((\w+)\)" % re.escape(name),
                             httpd.error_log_text())
        assert created[-1:] == ["ready"], created
        assert len(proxy.recorded("POST", r"^/chalZ/")) == challenges, \
            "a challenge was answered for a reused authorization"
    finally:
        proxy.stop()


def test_plain_404_on_the_account_lookup_means_create_it(httpd, pebble, unique):
    """Failed before: the lookup's 404 failed every attempt in step account."""
    proxy = PersonalityProxy(pebble, "lookup-404").start()
    try:
        name = unique("lookup404")
        httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
        httpd.start()
        httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
        calls = proxy.recorded("POST", r"^/sign-me-up$")
        assert [r.status for r in calls if r.payload] == [404, 201], \
            [(r.status, r.payload) for r in calls]
        assert "ACME00226: no ACME account for this key at %s/sign-me-up (HTTP 404)" \
            % proxy.origin in httpd.error_log_text(), httpd.diagnostics()
    finally:
        proxy.stop()
