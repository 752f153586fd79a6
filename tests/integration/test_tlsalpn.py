"""tls-alpn-01 (RFC 8737): Pebble validates in the TLS handshake on httpd's TLS
port, with nothing listening where it would try http-01. The module picks
the challenge types its Listen ports can answer, serves the challenge
certificate only for names with a pending challenge, and says what to change
when the CA offers nothing it can answer."""
import ssl
import socket

import pytest

import harness
from harness import ssl_vhost, tls_only_httpd, wait_for

ISSUE_TIMEOUT = 60
ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31"


@pytest.fixture(scope="module")
def tls_only_pebble(workdir, challtestsrv):
    """Pebble whose http-01 port is closed: only tls-alpn-01 (or dns-01) can pass."""
    yield from harness.started_tls_only_pebble(workdir, challtestsrv.dns_port, "tlsalpn")


def acme_tls_handshake(httpd, name):
    """The leaf served to an acme-tls/1 client for name, or the SSLError that refused it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    raw = socket.create_connection(("127.0.0.1", httpd.https_port), timeout=5)
    try:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            from cryptography import x509
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True)), \
                s.selected_alpn_protocol()
    except (ssl.SSLError, ConnectionError) as exc:
        raw.close()
        return exc, None


def has_acme_identifier(cert):
    return any(ext.oid.dotted_string == ACME_IDENTIFIER_OID for ext in cert.extensions)


def assert_answered_by_tls_alpn(httpd, name):
    log = httpd.error_log_text()
    assert "answering tls-alpn-01 for %s" % name in log, httpd.diagnostics()
    assert "ACME00723" in log, httpd.diagnostics()
    assert "answering http-01 for %s" % name not in log


def test_default_picks_tls_alpn_when_only_the_tls_port_listens(httpd_factory, tls_only_pebble,
                                                                 unique):
    name = unique("alpn-auto")
    httpd, acme = tls_only_httpd(httpd_factory, tls_only_pebble)
    assert not harness.port_open(tls_only_pebble.http_port)
    httpd.write_config(vhosts=ssl_vhost(name), acme=acme)
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert name in harness.cert_names(cert)
    assert not has_acme_identifier(cert)
    assert_answered_by_tls_alpn(httpd, name)

    # The challenge is withdrawn: acme-tls/1 for the name is refused, or
    # answered with the real certificate, never with a challenge certificate.
    served, alpn = acme_tls_handshake(httpd, name)
    if isinstance(served, Exception):
        assert alpn is None
    else:
        assert not has_acme_identifier(served), harness.cert_summary(served)
        assert alpn != "acme-tls/1" or served.serial_number == cert.serial_number

    # Ordinary clients still talk http/1.1 on the vhost.
    status, _, body = httpd.https_request(name, "/index.html", verify=False)
    assert status == 200 and b"plain docroot index" in body


def test_acme_challenges_tls_alpn_01(httpd_factory, tls_only_pebble, unique):
    name = unique("alpn-explicit")
    alias = unique("alpn-alias")
    httpd, acme = tls_only_httpd(httpd_factory, tls_only_pebble)
    acme["AcmeChallenges"] = "tls-alpn-01"
    httpd.write_config(vhosts=ssl_vhost(name, aliases=[alias]), acme=acme,
                       extra_global="Protocols http/1.1")
    assert httpd.configtest()[0] == 0, httpd.configtest()[1]
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert {name, alias} <= harness.cert_names(cert)
    assert_answered_by_tls_alpn(httpd, alias)


def test_acme_tls_for_a_name_without_a_challenge_gets_no_challenge_cert(httpd, unique):
    name, other = unique("alpn-none"), unique("alpn-stranger")
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeChallenges": "tls-alpn-01"})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    for sni in (name, other):
        served, alpn = acme_tls_handshake(httpd, sni)
        if isinstance(served, Exception):
            continue
        assert alpn != "acme-tls/1", "acme-tls/1 negotiated for %s" % sni
        assert not has_acme_identifier(served), harness.cert_summary(served)
    assert "ACME00721" in httpd.error_log_text(), httpd.diagnostics()


def status_error(httpd, name, timeout=30):
    try:
        return wait_for(lambda: httpd.domain_status(name).get("error"), timeout,
                        what="an error for %s on the status page" % name)
    except TimeoutError as exc:
        raise AssertionError("%s\n%s" % (exc, httpd.diagnostics())) from None


def test_no_usable_challenge_type_says_what_to_change(httpd, proxy, unique):
    name = unique("alpn-unusable")
    proxy.challenge_types = ["tls-alpn-01"]
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": proxy.directory_url, "AcmeChallenges": "http-01"})
    httpd.start()
    error = status_error(httpd, name)
    detail = error.get("detail") or ""
    assert "CA offered: tls-alpn-01" in detail, error
    assert "enabled: http-01" in detail, error
    assert "'AcmeChallenges tls-alpn-01'" in detail, error
    assert "no usable challenge for %s" % name in httpd.error_log_text(), httpd.diagnostics()
    # nothing was answered, so nothing was published
    assert "answering" not in httpd.error_log_text()


def test_default_types_follow_the_listen_ports(httpd, proxy, unique):
    """Both ports listen: http-01 and tls-alpn-01 are enabled, http-01 first;
    a CA offering neither gets both named in the message."""
    name = unique("alpn-defaults")
    proxy.challenge_types = ["dns-01"]
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    detail = status_error(httpd, name).get("detail") or ""
    assert "CA offered: dns-01" in detail, detail
    assert "enabled: http-01, tls-alpn-01" in detail, detail
    assert "dns-01 needs an AcmeDnsCmd hook" in detail, detail


def test_configtest_warns_when_no_challenge_port_listens(httpd, unique):
    """Only http-01 allowed, and nothing listens where public port 80 leads."""
    name = unique("alpn-noport")
    http_port = harness.closed_port()
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmePortMap": "http:%d https:%d" % (http_port, httpd.https_port),
        "AcmeChallenges": "http-01"})
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert "ACME00542" in out, out
    assert "httpd.conf:%d" % httpd.line_of("    AcmeDomain") in out, out
    assert "'Listen %d' for http-01" % http_port in out, out
