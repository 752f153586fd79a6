"""A vhost with two key types (AcmeKeyType ec-p256 rsa-2048) and a client
whose TLS 1.2 ciphers authenticate with RSA alone: whatever the EC
certificate's state, such a client gets the vhost's RSA pair, or the RSA
temporary certificate and its 503 while the vhost has no RSA certificate,
never a failed handshake: while the EC certificate is served before its
restart, and while the EC certificate alone is live in the store."""
import os
import shutil
import socket
import ssl

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
        # and a client allowing EC the early EC certificate
        assert httpd.wait_for_pebble_cert(name, 10, live=False).serial_number == \
            leaf.serial_number
        stopper.resume()


def test_rsa_client_with_the_ec_certificate_alone_live(httpd, unique):
    name = unique("mixed-live")
    rsa_name = "%s+rsa-2048" % name
    httpd.write_config(vhosts=ssl_vhost(name, extra=MIXED))
    httpd.start()
    for n in (name, rsa_name):
        wait_for(lambda: os.path.lexists(os.path.join(httpd.store, "domains", n)),
                 ISSUE_TIMEOUT, what="%s live in the store" % n)
    wait_for(lambda: httpd.generation_count() >= 2, 30, what="the automatic restart")
    cert, _ = tls12_rsa_cert(httpd, name)
    assert name in harness.cert_names(cert) and isinstance(cert.public_key(), rsa.RSAPublicKey)
    httpd.stop()
    # the RSA certificate gone, and no CA to order it again from
    live = os.path.join(httpd.store, "domains", rsa_name)
    if os.path.isdir(live) and not os.path.islink(live):
        shutil.rmtree(live)
    else:
        os.unlink(live)
    httpd.write_config(vhosts=ssl_vhost(name, extra=MIXED),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % harness.closed_port()})
    httpd.start()
    # the EC certificate is served as before
    served = httpd.served_cert(name)
    assert isinstance(served.public_key(), ec.EllipticCurvePublicKey) and \
        name in harness.cert_names(served), served.subject
    assert_rsa_temporary(httpd, name)


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
