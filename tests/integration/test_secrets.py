"""No key material outside the key files: a full run (issuance with External
Account Binding, a renewal, a revocation and its replacement, with acme
logging at trace8 and AcmeNotifyCmd recording every event) leaves no private
key, no part of one and no EAB MAC key in the error log, the status page,
any store file other than the key files, the events or acmectl's output."""
import base64
import json
import os
import secrets
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import harness
from harness import ssl_vhost, wait_for

ISSUE_TIMEOUT = 60
REPLACE_TIMEOUT = 90
EAB_KID = "kid-secrets"
EAB_KEY = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
# Key files: what the store keeps private keys in (and nothing else does).
KEY_FILE_NAMES = ("privkey.pem",)
KEY_FILE_SUFFIXES = (".key", ".key.new")


@pytest.fixture(scope="module")
def eab_pebble(workdir, challtestsrv):
    yield from harness.started_eab_pebble(workdir, challtestsrv.dns_port, "secrets", EAB_KID,
                                          EAB_KEY)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def is_key_file(path):
    base = os.path.basename(path)
    return base in KEY_FILE_NAMES or base.endswith(KEY_FILE_SUFFIXES)


def key_files(store):
    found = []
    for root, _dirs, files in os.walk(store):
        for f in files:
            path = os.path.join(root, f)
            if not os.path.islink(path) and is_key_file(path):
                found.append(path)
    return found


def key_material(path):
    """(label, text) of every form a private key could leak in: each line of
    its PEM body (64 characters of base64 of the DER), the base64 and
    base64url of the whole DER, the private numbers (JWK "d", RSA p and q) in
    base64url and hex."""
    with open(path, "rb") as f:
        pem = f.read()
    key = serialization.load_pem_private_key(pem, password=None)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # A line of the PEM body that decodes to public key bytes only (the
    # public point or modulus the key file carries too) is in the
    # certificate as well: not a secret.
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    forms = [("%s: PEM line %d" % (path, i), line.decode())
             for i, line in enumerate(pem.splitlines())
             if line and not line.startswith(b"-----") and base64.b64decode(line) not in public]
    forms.append(("%s: base64 DER" % path, base64.b64encode(der).decode()[:64]))
    forms.append(("%s: base64url DER" % path, b64url(der)[:64]))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        secret_numbers = [("d", key.private_numbers().private_value)]
    elif isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        secret_numbers = [("d", n.d), ("p", n.p), ("q", n.q)]
    else:
        raise AssertionError("unexpected key type in %s" % path)
    for label, value in secret_numbers:
        raw = int_bytes(value)
        forms.append(("%s: %s (JWK base64url)" % (path, label), b64url(raw)))
        forms.append(("%s: %s (hex)" % (path, label), raw.hex()[:48]))
    return forms


def artefacts(httpd, notify_out, acmectl_outputs):
    """(where, text) of everything a run shows or leaves, but the key files."""
    found = [("error log", httpd.error_log_text()),
             ("status page (JSON)", json.dumps(httpd.status())),
             ("status page (HTML)", httpd.http_request("/acme-status")[2].decode(errors="replace"))]
    with open(notify_out, errors="replace") as f:
        found.append(("AcmeNotifyCmd events", f.read()))
    for root, _dirs, files in os.walk(httpd.store):
        for f in files:
            path = os.path.join(root, f)
            if is_key_file(path) or os.path.islink(path):
                continue
            try:
                with open(path, "rb") as fh:
                    found.append((path, fh.read().decode("latin-1")))
            except FileNotFoundError:
                pass  # a temp file renamed into place while the store was walked
    found += [("acmectl %s" % " ".join(args), out) for args, out in acmectl_outputs]
    return found


def test_no_key_material_in_any_artefact_of_a_full_run(httpd_factory, eab_pebble, unique):
    name = unique("secrets")
    httpd = httpd_factory(pebble=eab_pebble)
    notify = os.path.join(httpd.serverroot, "notify.sh")
    notify_out = notify + ".out"
    with open(notify, "w") as f:
        f.write('#!/bin/sh\necho "args=$* event=$ACME_EVENT domain=$ACME_DOMAIN '
                'detail=$ACME_DETAIL" >> %s\n' % notify_out)
    os.chmod(notify, 0o755)
    httpd.write_config(vhosts=ssl_vhost(name), extra_global="LogLevel info ssl:warn acme:trace8",
                       acme={"AcmeEAB": "%s %s" % (EAB_KID, EAB_KEY), "AcmeNotifyCmd": notify})
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    outputs = []

    def ctl(*args):
        p = httpd.acmectl("--store", httpd.store, *args, timeout=60)
        outputs.append((args, p.stdout + p.stderr))
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p

    def replaced(old):
        def new_one():
            c = httpd.verified_cert(name)
            return c if c.serial_number != old.serial_number else None
        try:
            return wait_for(new_one, REPLACE_TIMEOUT, interval=0.5, what="a new certificate")
        except TimeoutError as exc:
            raise AssertionError("%s\n%s" % (exc, httpd.diagnostics())) from None

    ctl("renew", name)
    second = replaced(first)
    ctl("revoke", name, "--reason", "keyCompromise")
    replaced(second)
    for args in (["list"], ["show", name], ["--json", "show", name], ["check"],
                 ["account", "show"]):
        ctl(*args)
    wait_for(lambda: os.path.exists(notify_out) and "renewed" in open(notify_out).read(), 20,
             what="the renewed event")
    httpd.wait_idle()

    keys = key_files(httpd.store)
    # the account key, root's certificate keys and the fallback key, at least
    assert any(k.endswith("account.key") for k in keys), keys
    assert sum(1 for k in keys if os.path.basename(k) == "privkey.pem") >= 3, keys
    for k in keys:
        mode = stat.S_IMODE(os.stat(k).st_mode)
        assert mode & 0o077 == 0, "%s is mode %o" % (k, mode)
    material = [m for k in keys for m in key_material(k)]
    material.append(("the EAB MAC key", EAB_KEY))
    texts = artefacts(httpd, notify_out, outputs)
    # the run was logged at trace level: there was something to leak into
    assert "ACME00204" in texts[0][1], "no trace8 request lines in the error log"
    assert len(texts) > 10, [where for where, _text in texts]
    leaks = ["%s in %s" % (label, where) for where, text in texts
             for label, secret in material if secret in text]
    leaks += ["a PEM private key block in %s" % where for where, text in texts
              if "PRIVATE KEY-----" in text]
    assert leaks == [], "\n".join(leaks)
