"""Several key types side by side (AcmeKeyType rsa-2048 ec-p256: one certificate
each, mod_ssl picks per client) and IP address identifiers (RFC 8738)."""
import ipaddress
import json
import os
import re
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import cert_summary, ssl_vhost, wait_for

ISSUE_TIMEOUT = 90
PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
RSA_ONLY = "RSA-PSS+SHA256:RSA+SHA256"
ECDSA_ONLY = "ECDSA+SHA256"


def s_client(httpd, server_name=None, sigalgs=None, verify_ip=None, tls12=False):
    """(verified, leaf, output) of `openssl s_client` against the TLS port:
    SNI server_name (none when None), only the signature algorithms sigalgs,
    the chain checked against Pebble's root and the name (or IP)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % httpd.https_port,
           "-CAfile", httpd.pebble.root_pem, "-verify_return_error"]
    if server_name:
        cmd += ["-servername", server_name, "-verify_hostname", server_name]
    else:
        cmd += ["-noservername"]
    if verify_ip:
        cmd += ["-verify_ip", verify_ip]
    if sigalgs:
        cmd += ["-sigalgs", sigalgs]
    if tls12:
        cmd += ["-tls1_2"]
    p = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=20)
    out = p.stdout + p.stderr
    m = PEM_RE.search(p.stdout)
    leaf = x509.load_pem_x509_certificate(m.group(0).encode()) if m else None
    verified = p.returncode == 0 and "Verify return code: 0 (ok)" in out
    return verified, leaf, out


def key_kind(cert):
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa-%d" % key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(key.curve.name, key.curve.name)
    return type(key).__name__


def wait_for_served(httpd, kind, timeout=ISSUE_TIMEOUT, **kwargs):
    """The leaf a client limited as in kwargs gets, once it is a verified
    Pebble certificate with key type kind."""
    last = {}

    def ready():
        verified, leaf, out = s_client(httpd, **kwargs)
        last.update(leaf=leaf, out=out)
        return leaf if verified and key_kind(leaf) == kind else None
    try:
        return wait_for(ready, timeout, interval=0.5, what="a verified %s certificate" % kind)
    except TimeoutError as exc:
        now = cert_summary(last["leaf"]) if last.get("leaf") else "no certificate"
        raise AssertionError("%s (%r)\nserved now: %s (%s)\n%s\n%s" % (
            exc, kwargs, now, key_kind(last["leaf"]) if last.get("leaf") else "-",
            last.get("out", "")[-1500:], httpd.diagnostics())) from None


def san_ips(cert):
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.IPAddress)


def status_entries(httpd, first_name):
    return [d for d in httpd.status()["domains"] if (d.get("names") or [None])[0] == first_name]


# ---- key types ------------------------------------------------------------

def test_rsa_and_ec_certificates_side_by_side(httpd, unique):
    name = unique("dual")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048 ec-p256"))
    httpd.start()

    rsa_leaf = wait_for_served(httpd, "rsa-2048", server_name=name, sigalgs=RSA_ONLY)
    ec_leaf = wait_for_served(httpd, "ec-p256", server_name=name, sigalgs=ECDSA_ONLY)
    # TLS 1.2 clients choose the same way
    assert wait_for_served(httpd, "rsa-2048", server_name=name, sigalgs=RSA_ONLY,
                           tls12=True).serial_number == rsa_leaf.serial_number
    assert wait_for_served(httpd, "ec-p256", server_name=name, sigalgs=ECDSA_ONLY,
                           tls12=True).serial_number == ec_leaf.serial_number
    assert rsa_leaf.serial_number != ec_leaf.serial_number

    # the first type keeps the plain store name, the second is <name>+<type>
    store = httpd.store
    httpd.wait_live(name)
    httpd.wait_live(name + "+ec-p256")
    assert os.path.islink(os.path.join(store, "domains", name))
    assert os.path.islink(os.path.join(store, "domains", name + "+ec-p256"))
    with open(os.path.join(store, "config", name + "+ec-p256.json")) as f:
        config = json.load(f)
    assert config["name"] == name + "+ec-p256" and config["key_type"] == "ec-p256"
    assert config["names"] == [name]

    entries = {d["name"]: d for d in status_entries(httpd, name)}
    assert set(entries) == {name, name + "+ec-p256"}, entries
    assert entries[name]["key_type"] == "rsa-2048"
    assert entries[name + "+ec-p256"]["key_type"] == "ec-p256"
    for d in entries.values():
        assert d["state"] == "valid" and d["cert"], d

    p = httpd.acmectl("--store", store, "--json", "list")
    assert p.returncode == 0, p.stderr
    listed = {d["name"]: d for d in json.loads(p.stdout)}
    assert listed[name]["key_type"] == "rsa-2048", listed
    assert listed[name + "+ec-p256"]["key_type"] == "ec-p256", listed
    p = httpd.acmectl("--store", store, "show", name)
    assert p.returncode == 0 and name + "+ec-p256" in p.stdout, p.stdout + p.stderr


def test_added_key_type_keeps_the_first_certificate(httpd, pebble, unique):
    """AcmeKeyType ec-p256 -> ec-p256 rsa-2048: the store entry of the first
    type stays valid (same certificate); one new order, for the RSA one."""
    name = unique("dualadd")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    ec_leaf = wait_for_served(httpd, "ec-p256", server_name=name, sigalgs=ECDSA_ONLY)
    httpd.wait_live(name)  # served early: its own restart first, then the administrator's
    orders = pebble.new_order_count()

    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType ec-p256 rsa-2048"))
    httpd.graceful()
    wait_for_served(httpd, "rsa-2048", server_name=name, sigalgs=RSA_ONLY)
    verified, leaf, out = s_client(httpd, server_name=name, sigalgs=ECDSA_ONLY)
    assert verified and leaf.serial_number == ec_leaf.serial_number, out[-1500:]
    assert pebble.new_order_count() == orders + 1


def test_revoking_one_key_type_renews_only_that_one(httpd, unique):
    """acmectl revoke NAME+TYPE reads that certificate's configuration; the
    driver orders a new one of that type, the other stays."""
    name = unique("dualrevoke")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType ec-p256 rsa-2048"))
    httpd.start()
    ec_leaf = wait_for_served(httpd, "ec-p256", server_name=name, sigalgs=ECDSA_ONLY)
    rsa_leaf = wait_for_served(httpd, "rsa-2048", server_name=name, sigalgs=RSA_ONLY)

    p = httpd.acmectl("--store", httpd.store, "revoke", name + "+rsa-2048")
    assert p.returncode == 0, p.stdout + p.stderr

    def renewed():
        verified, leaf, _ = s_client(httpd, server_name=name, sigalgs=RSA_ONLY)
        return verified and leaf.serial_number != rsa_leaf.serial_number and \
            key_kind(leaf) == "rsa-2048"
    wait_for(renewed, ISSUE_TIMEOUT, interval=0.5, what="a new RSA certificate")
    verified, leaf, out = s_client(httpd, server_name=name, sigalgs=ECDSA_ONLY)
    assert verified and leaf.serial_number == ec_leaf.serial_number, out[-1500:]


def test_removed_key_type_is_no_longer_served(httpd, unique):
    name = unique("dualdrop")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType ec-p256 rsa-2048"))
    httpd.start()
    ec_leaf = wait_for_served(httpd, "ec-p256", server_name=name, sigalgs=ECDSA_ONLY)
    wait_for_served(httpd, "rsa-2048", server_name=name, sigalgs=RSA_ONLY)

    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType ec-p256"))
    httpd.graceful()
    verified, leaf, out = s_client(httpd, server_name=name)
    assert verified and leaf.serial_number == ec_leaf.serial_number, out[-1500:]
    verified, leaf, out = s_client(httpd, server_name=name, sigalgs=RSA_ONLY)
    assert not verified or key_kind(leaf) != "rsa-2048", out[-1500:]
    assert [d["name"] for d in status_entries(httpd, name)] == [name]


# ---- IP identifiers ---------------------------------------------------------

def check_ip_leaf(leaf):
    assert ipaddress.ip_address("127.0.0.1") in san_ips(leaf), cert_summary(leaf)
    assert "Pebble" in leaf.issuer.rfc4514_string(), cert_summary(leaf)


def test_ip_identifier_certificate(httpd):
    """ServerName 127.0.0.1 with AcmeDomain: Pebble validates the address over
    http-01, clients reach it without SNI."""
    httpd.write_config(vhosts=ssl_vhost("127.0.0.1"))
    httpd.start()
    leaf = wait_for_served(httpd, "ec-p256", verify_ip="127.0.0.1")
    check_ip_leaf(leaf)
    entry = status_entries(httpd, "127.0.0.1")
    assert len(entry) == 1 and entry[0]["name"] == "127.0.0.1", entry
    # an address in a Host header with a port is a managed host: unknown tokens get 404
    status, _, _ = httpd.http_request("/.well-known/acme-challenge/unknown-token",
                                      host="127.0.0.1:%d" % httpd.http_port)
    assert status == 404


def test_ip_identifier_over_tls_alpn(httpd):
    """tls-alpn-01 for an address: the CA's handshake names it by its reverse
    name (1.0.0.127.in-addr.arpa, RFC 8738 section 6)."""
    httpd.write_config(vhosts=ssl_vhost("127.0.0.1", extra="AcmeChallenges tls-alpn-01"))
    httpd.start()
    check_ip_leaf(wait_for_served(httpd, "ec-p256", verify_ip="127.0.0.1"))
    assert "answering tls-alpn-01 for 1.0.0.127.in-addr.arpa" in httpd.error_log_text()


def test_ip_identifier_on_the_vhost_of_that_address(httpd):
    """Server-level AcmeDomain 127.0.0.1: the vhost declared on that address
    serves it, whatever its ServerName."""
    vhost = ("<VirtualHost 127.0.0.1:{https_port}>\n"
             "    ServerName ipvhost.test\n"
             "    DocumentRoot \"{docroot}\"\n"
             "    SSLEngine on\n"
             "</VirtualHost>\n")
    httpd.write_config(vhosts=vhost, extra_global="AcmeDomain 127.0.0.1")
    httpd.start()
    leaf = wait_for_served(httpd, "ec-p256", verify_ip="127.0.0.1")
    check_ip_leaf(leaf)


def test_ipv6_identifier_certificate(httpd):
    """AcmeDomain ::1: Pebble validates [::1] over http-01; the store name has
    no ':' (::1 -> __1); clients reaching [::1] without SNI get it."""
    vhost = ("<VirtualHost [::1]:{https_port}>\n"
             "    ServerName ip6vhost.test\n"
             "    DocumentRoot \"{docroot}\"\n"
             "    SSLEngine on\n"
             "</VirtualHost>\n")
    httpd.write_config(vhosts=vhost, extra_global="Listen [::1]:{http_port}\n"
                       "Listen [::1]:{https_port}\nAcmeDomain ::1")
    httpd.start()

    def served():
        cmd = ["openssl", "s_client", "-connect", "[::1]:%d" % httpd.https_port, "-noservername",
               "-CAfile", httpd.pebble.root_pem, "-verify_return_error", "-verify_ip", "::1"]
        p = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=20)
        m = PEM_RE.search(p.stdout)
        ok = p.returncode == 0 and "Verify return code: 0 (ok)" in p.stdout + p.stderr
        return x509.load_pem_x509_certificate(m.group(0).encode()) if ok and m else None
    leaf = wait_for(served, ISSUE_TIMEOUT, interval=0.5, what="a verified certificate for ::1")
    assert ipaddress.ip_address("::1") in san_ips(leaf), cert_summary(leaf)
    httpd.wait_live("__1")  # served early from staging/ before its restart links it
    assert os.path.islink(os.path.join(httpd.store, "domains", "__1"))
    entry = status_entries(httpd, "::1")
    assert len(entry) == 1 and entry[0]["name"] == "__1" and entry[0]["state"] == "valid", entry


# ---- configtest -------------------------------------------------------------

def test_configtest_ip_with_dns01_only(httpd):
    hook = os.path.join(httpd.serverroot, "dns-hook")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(hook, 0o755)
    httpd.write_config(vhosts=ssl_vhost("127.0.0.1", extra="AcmeChallenges dns-01\n"
                                        "AcmeDnsCmd %s" % hook))
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert "ACME00541" in out and "127.0.0.1" in out and "http-01" in out, out
    assert "%s:%d" % (httpd.conf_path, httpd.line_of("    AcmeDomain")) in out, out


def test_configtest_two_ec_key_types(httpd, unique):
    name = unique("twoec")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType ec-p256 ec-p384"))
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert "ACME00540" in out and "ec-p384" in out, out
    assert "line %d of %s" % (httpd.line_of("AcmeKeyType"), httpd.conf_path) in out, out


def test_configtest_ip_without_a_vhost_for_it(httpd, unique):
    """A server-level IP identifier that no vhost would answer for."""
    httpd.write_config(vhosts=ssl_vhost(unique("noip"), acme_domain=""),
                       extra_global="AcmeDomain 192.0.2.10")
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert "ACME00531" in out and "192.0.2.10" in out and "<VirtualHost <address>" in out, out
