"""A vhost with two key types (AcmeKeyType ec-p256 rsa-2048) and a client
whose TLS 1.2 ciphers authenticate with RSA alone: whatever the EC
certificate's state, such a client gets the vhost's RSA pair, or the RSA
temporary certificate and its 503 while the vhost has no certificate, never
a failed handshake, also while the EC certificate is served before its
restart. With one key type live, every client gets that one (never a
temporary pair beside it)."""
import os
import shutil
import socket
import ssl

import pytest

from cryptography.hazmat.primitives.asymmetric import ec, rsa

import harness
from harness import ssl_vhost, wait_for
from test_activation_hold import ConfigtestStopper
from test_keytype_rsa_only import RSA_CIPHER, tls12_rsa_cert
from test_privsep import logged

MIXED = "AcmeKeyType ec-p256 rsa-2048"
ISSUE_TIMEOUT = 120


def is_temporary(cert):
    subject = cert.subject.rfc4514_string()
    return "temporary certificate" in subject or "fallback certificate" in subject


def rsa_only_status(httpd, name):
    """The status of GET / over a TLS 1.2 connection offering RSA_CIPHER alone."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(RSA_CIPHER)
    with socket.create_connection(("127.0.0.1", httpd.https_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                       % name).encode())
            head = s.recv(64).decode("latin-1")
    return int(head.split()[1])


def resumed_status(httpd, name, version):
    """The status of GET / over a connection that resumes the session of a
    first one (both with the client's default ciphers), at TLS version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    session, status = None, None
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", httpd.https_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=name, session=session) as s:
                s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                           % name).encode())
                head = s.recv(64).decode("latin-1")
                s.recv(65536)
                reused, session = s.session_reused, s.session
        status = int(head.split()[1])
    assert reused, "the second connection did not resume"
    return status


def assert_rsa_temporary(httpd, name):
    cert, cipher = tls12_rsa_cert(httpd, name)
    assert cipher == RSA_CIPHER, cipher
    assert isinstance(cert.public_key(), rsa.RSAPublicKey), cert.public_key()
    assert is_temporary(cert), cert.subject


def test_rsa_client_while_the_ec_certificate_is_served_early(httpd, unique):
    name = unique("mixed-hot")
    httpd.write_config(vhosts=ssl_vhost(name, extra=MIXED))
    with ConfigtestStopper(httpd.serverroot) as stopper:
        httpd.start()
        # before any certificate: the RSA temporary certificate, and the 503
        assert_rsa_temporary(httpd, name)
        assert rsa_only_status(httpd, name) == 503
        wait_for(stopper.stopped.is_set, ISSUE_TIMEOUT, interval=0.05,
                 what="the configuration test before the first automatic restart")
        leaf = httpd.wait_for_pebble_cert(name, 10, live=False)
        assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey), leaf.public_key()
        assert logged(httpd, "ACME01516", name), httpd.diagnostics()
        assert httpd.generation_count() == 1, httpd.diagnostics()
        # the EC certificate is served early; an RSA-only client still gets
        # the RSA temporary certificate (the RSA one is not served early),
        # and its 503; a client allowing EC gets the content
        assert_rsa_temporary(httpd, name)
        assert rsa_only_status(httpd, name) == 503
        assert httpd.https_request(name, "/")[0] == 200
        # a resumed session (no certificate callback runs) is judged by its
        # cipher at TLS 1.2, and lifted at TLS 1.3
        assert resumed_status(httpd, name, ssl.TLSVersion.TLSv1_2) == 200
        assert resumed_status(httpd, name, ssl.TLSVersion.TLSv1_3) == 200
        # and a client allowing EC the early EC certificate
        assert httpd.wait_for_pebble_cert(name, 10, live=False).serial_number == \
            leaf.serial_number
        stopper.resume()


@pytest.mark.parametrize("key_types,gone,kept", [
    ("ec-p256 rsa-2048", "+rsa-2048", ec.EllipticCurvePublicKey),
    ("rsa-2048 ec-p256", "+ec-p256", rsa.RSAPublicKey)])
def test_one_key_type_live_is_served_to_every_client(httpd, unique, key_types, gone, kept):
    """Two key types, one live and the other's certificate gone with no CA
    to order it from: a client (its default lists, EC first) gets the live
    certificate, verified, not a temporary pair of the missing type; the
    vhost is not answered with the 503."""
    name = unique("mixed-live")
    extra = "AcmeKeyType " + key_types
    httpd.write_config(vhosts=ssl_vhost(name, extra=extra))
    httpd.start()
    for n in (name, name + gone):
        wait_for(lambda: os.path.lexists(os.path.join(httpd.store, "domains", n)),
                 ISSUE_TIMEOUT, what="%s live in the store" % n)
    wait_for(lambda: httpd.generation_count() >= 2, 30, what="the automatic restart")
    httpd.stop()
    live = os.path.join(httpd.store, "domains", name + gone)
    if os.path.isdir(live) and not os.path.islink(live):
        shutil.rmtree(live)
    else:
        os.unlink(live)
    httpd.write_config(vhosts=ssl_vhost(name, extra=extra),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % harness.closed_port()})
    httpd.start()
    served = httpd.verified_cert(name)
    assert isinstance(served.public_key(), kept) and name in harness.cert_names(served), \
        served.subject
    assert httpd.https_request(name, "/")[0] == 200


def test_an_early_rsa_certificate_is_served_to_clients_allowing_ec_too(httpd, unique):
    """AcmeKeyType rsa-2048 ec-p256: the RSA certificate is the one served
    early; a client that can use it gets it, not the EC temporary
    certificate its signature algorithms would prefer."""
    name = unique("mixed-rsafirst")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048 ec-p256"))
    with ConfigtestStopper(httpd.serverroot) as stopper:
        httpd.start()
        wait_for(stopper.stopped.is_set, ISSUE_TIMEOUT, interval=0.05,
                 what="the configuration test before the first automatic restart")
        leaf = httpd.wait_for_pebble_cert(name, 10, live=False)
        assert isinstance(leaf.public_key(), rsa.RSAPublicKey), leaf.public_key()
        assert httpd.https_request(name, "/")[0] == 200
        cert, cipher = tls12_rsa_cert(httpd, name)
        assert cert.serial_number == leaf.serial_number and cipher == RSA_CIPHER
        assert rsa_only_status(httpd, name) == 200
        stopper.resume()
