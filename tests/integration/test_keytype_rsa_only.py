"""A vhost whose TLS 1.2 ciphers authenticate with RSA alone
(ECDHE-RSA-AES128-GCM-SHA256) and whose AcmeKeyType is rsa-2048: every
certificate mod_acme makes itself and presents in a handshake has a key
type the vhost can serve. The temporary certificate, served until the
first certificate arrives, is RSA there (EC P-256 where the vhost has an EC
key type), and the tls-alpn-01 answers carry an RSA pair beside the EC one,
so the CA's handshake finds one its ciphers allow."""
import os
import shutil
import socket
import ssl
import stat

from cryptography.hazmat.primitives.asymmetric import ec, rsa

import pytest

import harness
from harness import ssl_vhost, wait_for
from test_tlsalpn import tls_only_pebble, tls_only_httpd  # noqa: F401 (fixture)

RSA_CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"
RSA_ONLY = ("SSLProtocol -all +TLSv1.2\n"
            "SSLCipherSuite %s\n"
            "AcmeKeyType rsa-2048" % RSA_CIPHER)


def tls12_rsa_cert(httpd, name):
    """The leaf served to a TLS 1.2 client offering RSA_CIPHER alone, with
    the cipher the handshake chose."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(RSA_CIPHER)
    raw = socket.create_connection(("127.0.0.1", httpd.https_port), timeout=5)
    try:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            from cryptography import x509
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True)), \
                s.cipher()[0]
    except (ssl.SSLError, ConnectionError) as exc:
        raw.close()
        raise AssertionError("TLS 1.2 handshake with %s alone failed: %r\n%s"
                             % (RSA_CIPHER, exc, httpd.diagnostics())) from None


def test_rsa_only_vhost_gets_an_rsa_temporary_certificate(httpd, unique):
    name = unique("rsaonly-tmp")
    httpd.write_config(vhosts=ssl_vhost(name, extra=RSA_ONLY),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % harness.closed_port()})
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    cert, cipher = tls12_rsa_cert(httpd, name)
    assert cipher == RSA_CIPHER, cipher
    assert isinstance(cert.public_key(), rsa.RSAPublicKey), cert.public_key()
    assert cert.public_key().key_size == 2048
    assert "temporary certificate" in cert.subject.rfc4514_string() \
        or "fallback certificate" in cert.subject.rfc4514_string(), cert.subject
    # the 503 that says why is served over it
    status, _, _ = httpd.https_request(name, "/index.html")
    assert status == 503, status

    # one shared pair per key type in the store, checked by acmectl check
    fallback = os.path.join(httpd.store, "fallback")
    assert stat.S_IMODE(os.stat(os.path.join(fallback, "rsa-2048.key")).st_mode) == 0o600
    r = harness.acmectl_on_store(httpd, "check")
    assert "fallback/rsa-2048" not in r.stdout, r.stdout + r.stderr
    shutil.copy(os.path.join(fallback, "privkey.pem"), os.path.join(fallback, "rsa-2048.key"))
    r = harness.acmectl_on_store(httpd, "check")
    assert "fallback/rsa-2048" in r.stdout, r.stdout + r.stderr


def test_ec_vhost_keeps_an_ec_temporary_certificate(httpd, unique):
    name = unique("ec-tmp")
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % harness.closed_port()})
    httpd.start()
    cert = httpd.served_cert(name)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey), cert.public_key()
    assert cert.public_key().curve.name == "secp256r1"


@pytest.mark.parametrize("key_types", ["rsa-2048", "ec-p256 rsa-2048"])
def test_rsa_only_vhost_obtains_its_first_certificate_by_tls_alpn(httpd_factory,
                                                                    tls_only_pebble,  # noqa: F811
                                                                    unique, key_types):
    """With ec-p256 first, the EC certificate's answers carry the RSA pair
    too: the CA's handshake can only use that one."""
    name = unique("rsaonly-alpn")
    httpd, acme = tls_only_httpd(httpd_factory, tls_only_pebble)
    acme["AcmeChallenges"] = "tls-alpn-01"
    extra = RSA_ONLY.replace("AcmeKeyType rsa-2048", "AcmeKeyType " + key_types)
    httpd.write_config(vhosts=ssl_vhost(name, extra=extra), acme=acme,
                       extra_global="Protocols http/1.1")
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    stores = [name if t == key_types.split()[0] else "%s+%s" % (name, t)
              for t in key_types.split()]
    wait_for(lambda: all(os.path.lexists(os.path.join(httpd.store, "domains", n))
                         for n in stores), 90, what="%s live in the store" % stores)
    assert "answering tls-alpn-01 for %s" % name in httpd.error_log_text(), httpd.diagnostics()
    def issued():
        cert, cipher = tls12_rsa_cert(httpd, name)
        return (cert, cipher) if name in harness.cert_names(cert) else None

    served, cipher = wait_for(issued, 60, what="the issued RSA certificate served")
    assert cipher == RSA_CIPHER and isinstance(served.public_key(), rsa.RSAPublicKey)


LEVEL3_RSA_ONLY = ("SSLProtocol -all +TLSv1.2\n"
                   "SSLCipherSuite %s:@SECLEVEL=3\n"
                   "AcmeKeyType rsa-3072" % RSA_CIPHER)


def test_tls_alpn_alone_at_level_3_fails_configtest(httpd, unique):
    """At security level 3 OpenSSL refuses the RSA-2048 tls-alpn-01 answer
    (ACME00783), and with ciphers for RSA keys alone the CA's handshake has
    no other: with tls-alpn-01 alone validation never succeeds, so
    configtest says so, with the fixes."""
    name = unique("rsaonly-l3")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3_RSA_ONLY
                                        + "\nAcmeChallenges tls-alpn-01"))
    harness.configtest_fails(httpd, [
        "ACME01621: ", "which serves the certificate of %s, validates its names by "
        "tls-alpn-01 alone (AcmeChallenges or its default), its ciphers are for RSA keys "
        "alone (TLS 1.2 and below) and its OpenSSL security level is 3 ('SSLCipherSuite %s:@SECLEVEL=3' at "
        % (name, RSA_CIPHER),
        "RSA-2048 (112 bits) and refused at that level, so validation never succeeds",
        "add http-01 or dns-01", "allow ECDSA ciphers or TLSv1.3", "lower @SECLEVEL to 2"])


@pytest.mark.parametrize("fix", ["AcmeChallenges tls-alpn-01 http-01",
                                 "AcmeChallenges tls-alpn-01\nSSLProtocol -all +TLSv1.2 +TLSv1.3"])
def test_tls_alpn_at_level_3_passes_with_another_way(httpd, unique, fix):
    name = unique("rsaonly-l3ok")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3_RSA_ONLY + "\n" + fix))
    rc, out = httpd.configtest()
    assert rc == 0, "%s\nconfig:\n%s" % (out, httpd.conf_text)
    assert "ACME01621" not in out, out
