"""After the first certificate: configuration changes, renewal, key types, a
CA that rejects nonces, the store's private keys and the status page's HTML."""
import json
import os
import re
import ssl
import stat
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import harness
from harness import cert_names, cert_serial_hex, ssl_vhost, wait_for
from test_status_page import card_of, get

ISSUE_TIMEOUT = 60


def test_added_alias_gets_a_new_certificate(httpd, unique):
    name = unique("grow")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert cert_names(first) == {name}

    httpd.write_config(vhosts=ssl_vhost(name, ["www." + name]))
    httpd.graceful()
    # the new name is served by the old certificate until the new one is live
    cert = httpd.wait_for_pebble_cert("www." + name, ISSUE_TIMEOUT)
    assert cert_names(cert) == {name, "www." + name}, sorted(cert_names(cert))
    assert cert.serial_number != first.serial_number
    assert httpd.verified_cert(name).serial_number == cert.serial_number


def test_renewal_window_reached_renews_without_restart(httpd, unique):
    """A window a few seconds shorter than the certificate's lifetime: renewal
    is due a few seconds after issuance. (A window as long as the lifetime
    would be ignored, to avoid renewing in a loop.)"""
    name = unique("renew")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    lifetime = (first.not_valid_after - first.not_valid_before).total_seconds()

    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeRenewWindow": "%ds" % (lifetime - 5)})
    httpd.graceful()

    def renewed():
        c = httpd.verified_cert(name)
        return c if c.serial_number != first.serial_number else None
    try:
        cert = wait_for(renewed, ISSUE_TIMEOUT, interval=0.5, what="a renewed certificate")
    except TimeoutError as exc:
        raise AssertionError("%s; still serial %s\n%s" % (exc, cert_serial_hex(first),
                                                          httpd.diagnostics()))
    assert cert_names(cert) == {name}
    assert httpd.running()


@pytest.mark.parametrize("key_type,check", [
    ("rsa-2048", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 2048),
    ("ec-p384", lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == "secp384r1"),
])
def test_key_type(httpd, unique, key_type, check):
    name = unique(key_type)
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType %s" % key_type))
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    key = cert.public_key()
    assert check(key), "AcmeKeyType %s, served key %s %s" % (
        key_type, type(key).__name__, getattr(key, "key_size", ""))


def test_default_key_type_is_ec_p256(httpd, unique):
    name = unique("p256")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    key = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1", key


@pytest.fixture
def nonce_rejecting_pebble(workdir, challtestsrv):
    """A second Pebble that rejects half of the good nonces (badNonce)."""
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port, "badnonce",
                                              env={"PEBBLE_WFE_NONCEREJECT": "50"})


def test_bad_nonces_are_retried(httpd_factory, nonce_rejecting_pebble, unique):
    httpd = httpd_factory(pebble=nonce_rejecting_pebble)
    name = unique("nonce")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    # a request whose nonce is rejected 11 times in a row (10 retries) fails
    # the attempt, 1 in 2,048 per request: leave room for that attempt, its
    # backoff (60 s +-50%) and the next one
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT + 90)
    assert name in cert_names(cert)


def test_private_keys_in_the_store_are_private(httpd, unique):
    name = unique("perms")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    keys = []
    for root, _dirs, files in os.walk(httpd.store):
        for f in files:
            path = os.path.join(root, f)
            if os.path.islink(path):
                continue
            try:
                with open(path, "rb") as fh:
                    if b"PRIVATE KEY" not in fh.read(200000):
                        continue
            except OSError:
                continue
            keys.append(path)
    assert len(keys) >= 2, "expected an account key and a certificate key, found %s" % keys
    loose = ["%s %o" % (k, stat.S_IMODE(os.stat(k).st_mode)) for k in keys
             if stat.S_IMODE(os.stat(k).st_mode) & 0o077]
    assert not loose, "private keys readable by others: %s" % loose
    # the live key (store layout: domains/<name> -> archive version) belongs to root
    live_key = os.path.realpath(os.path.join(httpd.store, "domains", name, "privkey.pem"))
    assert os.path.exists(live_key), "no live key at domains/%s/privkey.pem: %s" % (name, keys)
    assert os.stat(live_key).st_uid == 0, "live key %s not owned by root" % live_key


def test_status_page_html_and_format_param(httpd, unique):
    name = unique("html")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    status, headers, body = httpd.http_request("/acme-status", headers={"Accept": "text/html"})
    assert status == 200, (status, body[:300])
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert ctype.startswith("text/html"), ctype
    assert name.encode() in body
    status, headers, body = httpd.http_request("/acme-status?format=json")
    assert status == 200
    doc = json.loads(body)
    assert any(d.get("name") == name for d in doc.get("domains", [])), doc


def test_manual_activation_waits_for_the_admin(httpd, unique):
    """AcmeActivation manual: the certificate is obtained and staged, but only
    a restart by the administrator makes it live."""
    name = unique("manual")
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeActivation": "manual"})
    httpd.start()
    generations = httpd.generation_count()
    try:
        wait_for(lambda: httpd.domain_status(name).get("state") == "staged", ISSUE_TIMEOUT,
                 what="state 'staged' on the status page")
    except TimeoutError as exc:
        raise AssertionError("%s; page: %s\n%s" % (exc, json.dumps(httpd.status()),
                                                   httpd.diagnostics()))
    # longer than the parent's activation poll: nothing may restart by itself
    time.sleep(12)
    assert httpd.generation_count() == generations, "httpd restarted by itself:\n" + \
        httpd.diagnostics()
    with pytest.raises(ssl.SSLCertVerificationError):
        httpd.verified_cert(name)
    # acmectl show proves what is staged as activation would
    show = httpd.acmectl("--store", httpd.store, "show", name)
    assert re.search(r"^staged: +yes, waiting for activation: certificate (\w+) valid until",
                     show.stdout, re.M), show.stdout
    assert re.search(r"^state: +staged$", show.stdout, re.M), show.stdout
    doc = json.loads(httpd.acmectl("--store", httpd.store, "--json", "show", name).stdout)
    assert doc["state"] == "staged" and doc["staged_check"]["result"] == "ok", doc
    assert doc["staged"] and doc["staged"]["serial"] == doc["staged_check"]["serial"], doc
    assert doc["record_disagrees"] is None, doc
    staged_serial = doc["staged_check"]["serial"]
    # the page and acmectl say the administrator's restart makes it live
    page = httpd.domain_status(name)
    assert page["next_action"] is None, page
    assert page["next_action_text"].startswith(
        "goes live when the administrator restarts httpd (AcmeActivation manual"), page
    # the overview may be a few seconds behind the JSON
    wait_for(lambda: "obtained, going live when the administrator restarts httpd" in card_of(
        get(httpd, "/acme-status")[1], name), 10, interval=0.5,
        what="the card to say the administrator's restart makes it live")
    # acmectl knows the server's mode (activation-mode.json): the page's words
    assert re.search(r"^next action: +goes live when the administrator restarts httpd "
                     r"\(AcmeActivation manual: apachectl graceful makes it live\)$", show.stdout,
                     re.M), show.stdout
    httpd.graceful()
    cert = httpd.wait_for_pebble_cert(name, 10)
    assert name in cert_names(cert)
    # live now: whatever the record still says, show tells the files
    doc = json.loads(httpd.acmectl("--store", httpd.store, "--json", "show", name).stdout)
    assert doc["state"] == "valid" and doc["staged"] is None, doc
    assert doc["cert"]["serial"] == staged_serial, doc


def test_two_domains_are_issued_independently(httpd, unique):
    a, b = unique("pa"), unique("pb")
    httpd.write_config(vhosts=ssl_vhost(a) + ssl_vhost(b, ["www." + b]))
    httpd.start()
    ca = httpd.wait_for_pebble_cert(a, ISSUE_TIMEOUT)
    cb = httpd.wait_for_pebble_cert("www." + b, ISSUE_TIMEOUT)
    assert cert_names(ca) == {a}
    assert cert_names(cb) == {b, "www." + b}
