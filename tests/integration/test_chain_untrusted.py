"""A CA whose chain leads to a root this server does not trust: an
AcmeTrustedRootsFile that holds an unrelated root (a wrong file, or one
missing the CA's root). Pebble issues a real, valid certificate each time;
only the trust anchor is missing. The error names the kind, the file and the
chain's top certificate, with no system error before it; every attempt
fetches the certificate of the one order again (RFC 8555 §7.4.2) instead
of ordering another (at Let's Encrypt each new order for the same names
counts against the duplicate-certificate limit); and once the file holds
the CA's root, a graceful restart makes that certificate go live, with no
new order."""
import datetime
import os
import re
import shutil

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import harness
from harness import ssl_vhost, wait_for

ATTEMPT = re.compile(r"^(.*)ACME00402: (\S+): obtaining a certificate failed in step (\S+) "
                     r"\(attempt (\d+)\): (.*); next attempt at (\S+)", re.M)


def unrelated_root(path):
    """A self-signed CA certificate that issued nothing Pebble serves."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Unrelated Test Root")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)


def failures(httpd, name):
    return [m for m in ATTEMPT.finditer(httpd.error_log_text()) if m.group(2) == name]


def test_untrusted_chain_keeps_the_order_until_the_roots_are_fixed(httpd, plain_proxy, pebble,
                                                                   unique):
    tree = harness.make_tree("it-wrong-roots-")
    try:
        run(httpd, plain_proxy, pebble, unique("untrusted"), os.path.join(tree, "roots.pem"))
    finally:
        shutil.rmtree(tree, True)


def run(httpd, plain_proxy, pebble, name, roots):
    unrelated_root(roots)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": plain_proxy.directory_url,
                                                     "AcmeTrustedRootsFile": roots})
    httpd.start()
    # two attempts (the second after the backoff of 30 to 90 s)
    wait_for(lambda: len(failures(httpd, name)) >= 2, 150, interval=0.5,
             what="%s: two failed attempts" % name)
    for m in failures(httpd, name)[:2]:
        prefix, step, detail = m.group(1), m.group(3), m.group(5)
        assert step == "certificate", m.group(0)
        assert not re.search(r"\(\d+\)", prefix), "a system error before the tag: %r" % prefix
        assert "the chain does not verify to a trusted root" in detail, detail
        assert "(trusted roots: the system's store, AcmeTrustedRootsFile %s, " % roots in detail, \
            detail
        assert re.search(r'its top certificate "CN=Pebble Intermediate CA [0-9a-f]+" is issued '
                         r'by "CN=Pebble Root CA [0-9a-f]+", a root this server does not '
                         r'trust', detail), detail
        assert "is kept: the next attempt fetches its certificate again" in detail, detail
    error = httpd.domain_status(name)["error"]
    assert error["kind"] == "chain-untrusted" and error["type"] is None, error
    advice = httpd.domain_status(name)["advice"]
    assert "AcmeTrustedRootsFile" in advice and "no new order" in advice, advice
    # one order, its certificate fetched at every attempt
    assert len(plain_proxy.new_orders()) == 1, plain_proxy.new_orders()
    downloads = plain_proxy.recorded("POST", r"^/certZ/")
    assert len(downloads) >= 2 and len({d.path for d in downloads}) == 1, downloads
    assert "resuming the order of" in httpd.error_log_text()

    # the CA's root into the file, a graceful restart: the kept certificate goes live
    shutil.copyfile(pebble.root_pem, roots)
    httpd.graceful()
    cert = httpd.wait_for_pebble_cert(name, 60)
    assert len(plain_proxy.new_orders()) == 1, plain_proxy.new_orders()
    assert int(downloads[0].path.rsplit("/", 1)[-1], 16) == cert.serial_number, \
        (cert.serial_number, downloads[0].path)
    wait_for(lambda: httpd.domain_status(name).get("error") is None, 30,
             what="%s: the error cleared" % name)
