"""CA rules on identifiers and chains that Pebble 2.4 does not have, played
by the proxy in front of Pebble (ari_proxy.py names the public source of each).

Let's Encrypt issues IP address certificates only under its "shortlived"
profile: an order with an IP address and no AcmeProfile asks for it where the
CA lists it, and where it does not, the error says what to set."""
import re

import pytest

import harness
from harness import ssl_vhost, status_error, wait_for

ISSUE_TIMEOUT = 60
PROFILES = {"classic": "90-day certificates", "shortlived": "6-day certificates, DNS and IP",
            "tlsserver": "TLS server authentication only"}


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


# --------------------------------------------------------------------------
# RFC 8555 §7.4.2 alternate chains: Pebble with PEBBLE_ALTERNATE_ROOTS offers
# one chain per root (Link rel="alternate"), as Let's Encrypt offered its
# chain to ISRG Root X1 beside the one cross-signed by DST Root CA X3.

ALT_ROOTS = 2


@pytest.fixture(scope="module")
def alt_pebble(workdir, challtestsrv):
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port, "altroots",
                                              make=harness.alt_roots_pebble, alternates=ALT_ROOTS)


served_chain = harness.served_chain
top_issuer_cn = harness.top_issuer_cn


def alt_downloads(pebble):
    return [l for l in pebble.log().splitlines() if re.search(r"\bPOST /certZ/\w+/\d+\b", l)]


@pytest.mark.parametrize("pick", [1, 2])
def test_preferred_chain_picks_the_alternate_issued_by_that_name(httpd_factory, alt_pebble,
                                                                 unique, pick):
    name = unique("altchain%d" % pick)
    want = alt_pebble.root_cns[pick]
    httpd = httpd_factory(pebble=alt_pebble)
    httpd.write_config(vhosts=ssl_vhost(name, extra='AcmePreferredChain "%s"' % want))
    httpd.start()

    def served():
        chain = served_chain(httpd, name)
        return chain if chain and name in harness.cert_names(chain[0]) else None
    try:
        chain = wait_for(served, ISSUE_TIMEOUT, what="a certificate for %s" % name)
    except TimeoutError as exc:
        raise AssertionError("%s\n%s" % (exc, httpd.diagnostics())) from None
    assert len(chain) >= 2 and top_issuer_cn(chain) == want, \
        (want, [harness.cert_summary(c) for c in chain])
    # the alternate chain verifies to its own root (the leaf is the same)
    assert chain[0].issuer == chain[1].subject, [harness.cert_summary(c) for c in chain]
    lines = [l for l in httpd.error_log_text().splitlines() if "ACME00482" in l]
    assert lines and want in lines[0], lines
    assert not httpd.domain_status(name).get("notice"), httpd.domain_status(name)


def test_preferred_chain_nobody_offers_keeps_the_default_with_a_notice(httpd_factory,
                                                                     alt_pebble, unique):
    name = unique("nochain")
    httpd = httpd_factory(pebble=alt_pebble)
    httpd.write_config(vhosts=ssl_vhost(name, extra='AcmePreferredChain "No Such Root CA"'))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert top_issuer_cn(served_chain(httpd, name)) == alt_pebble.root_cns[0]
    notice = wait_for(lambda: httpd.domain_status(name).get("notice"), 10, what="the notice")
    assert 'AcmePreferredChain "No Such Root CA" matches none' in notice, notice
    for cn in alt_pebble.root_cns:
        assert cn in notice, (cn, notice)
    assert "ACME00483" in httpd.error_log_text()


def test_without_preferred_chain_the_default_chain_and_no_alternate_is_fetched(
        httpd_factory, alt_pebble, unique):
    name = unique("defchain")
    before = len(alt_downloads(alt_pebble))
    httpd = httpd_factory(pebble=alt_pebble)
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert top_issuer_cn(served_chain(httpd, name)) == alt_pebble.root_cns[0]
    assert len(alt_downloads(alt_pebble)) == before, alt_downloads(alt_pebble)[before:]


@pytest.mark.parametrize("value, why", [('"Root\tCA"', "no control characters"),
                                        ('"%s"' % ("x" * 65), "1 to 64 characters")])
def test_configtest_rejects_a_bad_preferred_chain(httpd, value, why):
    httpd.write_config(vhosts=ssl_vhost("badchain.test", extra="AcmePreferredChain %s" % value))
    rc, out = httpd.configtest()
    assert rc != 0 and "ACME00552" in out and why in out, out
