"""'SSLOpenSSLConfCmd PrivateKey' and 'Certificate' in an SSL vhost mod_acme
manages. mod_ssl loads the certificates mod_acme hands it before it applies
SSLOpenSSLConfCmd, and OpenSSL keeps one certificate and key per key type: a
key of mod_acme's key type that belongs to another certificate is refused
(AH02407, key values mismatch), and a key or certificate alone leaves
SSL_CTX_check_private_key nothing to pair it with (AH02572). configtest
passed such a line and httpd stopped at its next start, which can be the
graceful restart mod_acme makes by itself; configtest now loads a
certificate and key of each of the vhost's key types first and fails
(ACME01619) with the line, what is wrong and the fix. A certificate and key
of another key type, added together, have a slot of their own: mod_ssl
serves them beside mod_acme's, and configtest passes them."""
import os
import socket
import ssl
import subprocess

import pytest

from harness import HarnessError, configtest_fails, ssl_vhost

from test_check_tls_settings import static_cert, words_for

KEY_TYPES = {"ec": ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "rsa": ["rsa:2048"]}


def pair(httpd, stem, kind):
    """A self-signed certificate and its key in the server root: (cert, key)."""
    cert = os.path.join(httpd.serverroot, stem + "-cert.pem")
    key = os.path.join(httpd.serverroot, stem + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey"] + KEY_TYPES[kind] + [
                    "-nodes", "-keyout", key, "-out", cert, "-days", "30",
                    "-subj", "/CN=" + stem + ".pairs.test"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# (id, lines from the files of pair(): "{ec_key}", "{rsa_cert}", ...; the
#  line configtest names; mod_ssl's own error; ACME01619's words)
REFUSED = [
    ("ec-key-of-another-certificate", "SSLOpenSSLConfCmd PrivateKey {ec_key}",
     "SSLOpenSSLConfCmd PrivateKey", ["AH02407", "key values mismatch"],
     ["this key does not match the certificate loaded for its key type (mod_acme's, or one "
      "an earlier line loaded) (OpenSSL: key values mismatch), so mod_ssl would stop httpd "
      "at its start; give the key of that certificate"]),
    ("rsa-key-alone", "SSLOpenSSLConfCmd PrivateKey {rsa_key}", "SSLOpenSSLConfCmd PrivateKey",
     ["AH02572", "no certificate assigned"],
     ["no certificate of this key's type is loaded, so the key pairs with none (OpenSSL: no "
      "certificate assigned), so mod_ssl would stop httpd at its start; load the key's "
      "certificate with 'SSLOpenSSLConfCmd Certificate FILE' before this line"]),
    ("rsa-certificate-alone", "SSLOpenSSLConfCmd Certificate {rsa_cert}",
     "SSLOpenSSLConfCmd Certificate", ["AH02572", "no private key assigned"],
     ["this certificate comes without its key: it takes the place of the certificate of its "
      "key type, whose key does not match it (OpenSSL: no private key assigned), so mod_ssl "
      "would stop httpd at its start; load its key with 'SSLOpenSSLConfCmd PrivateKey FILE' "
      "after this line"]),
    ("ec-certificate-alone", "SSLOpenSSLConfCmd Certificate {ec_cert}",
     "SSLOpenSSLConfCmd Certificate", ["AH02572", "no private key assigned"],
     ["this certificate comes without its key"]),
    ("rsa-certificate-with-a-key-of-another", "SSLOpenSSLConfCmd Certificate {rsa_cert}\n"
     "SSLOpenSSLConfCmd PrivateKey {rsa2_key}", "SSLOpenSSLConfCmd PrivateKey",
     ["AH02407", "key values mismatch"],
     ["this key does not match the certificate loaded for its key type"]),
]


def files(httpd):
    names = {}
    for stem, kind in (("ec", "ec"), ("rsa", "rsa"), ("rsa2", "rsa")):
        names[stem + "_cert"], names[stem + "_key"] = pair(httpd, stem, kind)
    return names


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_mod_ssl_alone_stops(httpd, unique, case):
    """The vhost with an EC certificate of its own in place of mod_acme's, and
    no mod_acme: mod_ssl's configtest passes, and httpd stops at its start."""
    _, lines, _, stops, _ = case
    name = unique("alone")
    own = lines.format(**files(httpd))
    httpd.write_config(load_acme=False, vhosts=ssl_vhost(name, acme_domain="", extra=static_cert(
        httpd, name, KEY_TYPES["ec"]) + "\n" + own))
    rc, out = httpd.configtest()
    assert rc == 0, out
    with pytest.raises(HarnessError) as err:
        httpd.start()
    for w in stops:
        assert w in str(err.value), str(err.value)


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_configtest_refuses(httpd, unique, case):
    _, lines, at_line, _, words = case
    name = unique("pairs")
    own = lines.format(**files(httpd))
    httpd.write_config(vhosts=ssl_vhost(name, extra=own))
    configtest_fails(httpd, words_for(httpd, name, at_line, [
        "ACME01619: {at}: '%s' in the SSL <VirtualHost> at {vhost}, which serves the "
        "certificate of {name} (ec-p256 keys): mod_ssl loads mod_acme's certificate and key "
        "of each key type before it applies SSLOpenSSLConfCmd"
        % [l for l in own.splitlines() if at_line in l][0]] + words))


def test_an_rsa_vhost_refuses_an_rsa_key_of_another_certificate(httpd, unique):
    """With AcmeKeyType rsa-2048 the RSA slot holds mod_acme's certificate."""
    name = unique("rsa")
    line = "SSLOpenSSLConfCmd PrivateKey %s" % files(httpd)["rsa_key"]
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048\n" + line))
    configtest_fails(httpd, words_for(httpd, name, "SSLOpenSSLConfCmd PrivateKey", [
        "ACME01619: {at}: '%s' in the SSL <VirtualHost> at {vhost}, which serves the "
        "certificate of {name} (rsa-2048 keys)" % line, "(OpenSSL: key values mismatch)"]))


def test_the_start_stops_on_it(httpd, unique):
    """mod_ssl itself stops at such a line: so does the start, with mod_acme's
    message, before mod_ssl's."""
    name = unique("start")
    httpd.write_config(vhosts=ssl_vhost(name, extra="SSLOpenSSLConfCmd PrivateKey %s"
                                        % files(httpd)["rsa_key"]))
    with pytest.raises(HarnessError) as err:
        httpd.start()
    text = str(err.value)
    assert "ACME01619" in text, text
    assert "AH02572" not in text and "AH02407" not in text, text


def served_key(httpd, name, ciphers):
    """The key algorithm of the certificate served to a TLS 1.2 client that
    offers only ciphers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", httpd.https_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-text"], input=der,
                         check=True, capture_output=True, timeout=30).stdout.decode()
    return "rsaEncryption" if "rsaEncryption" in out else "id-ecPublicKey" \
        if "id-ecPublicKey" in out else out


@pytest.mark.parametrize("order", ["certificate-first", "key-first"])
def test_a_pair_of_another_key_type_passes_and_both_are_served(httpd, unique, order):
    """An RSA certificate and its key beside mod_acme's EC one: configtest
    passes (in either order: the RSA slot is empty), and mod_ssl serves the
    RSA certificate to a client of RSA ciphers and mod_acme's to one of
    ECDSA ciphers."""
    name = unique("both")
    names = files(httpd)
    lines = ["SSLOpenSSLConfCmd Certificate %s" % names["rsa_cert"],
             "SSLOpenSSLConfCmd PrivateKey %s" % names["rsa_key"]]
    if order == "key-first":
        lines.reverse()
    httpd.write_config(vhosts=ssl_vhost(name, extra="\n".join(lines)))
    rc, out = httpd.configtest()
    assert rc == 0, "%s\nconfig:\n%s" % (out, httpd.conf_text)
    if order == "key-first":
        return
    httpd.start()
    httpd.wait_for_pebble_cert(name)
    assert served_key(httpd, name, "ECDHE-ECDSA-AES128-GCM-SHA256") == "id-ecPublicKey"
    assert served_key(httpd, name, "ECDHE-RSA-AES128-GCM-SHA256") == "rsaEncryption"


# (id, the vhost's key type line, the family of the pair)
REPLACED = [("ec-pair-on-ec-p256", "", "ec", "ec-p256"),
            ("rsa-pair-on-rsa-2048", "AcmeKeyType rsa-2048", "rsa", "rsa-2048")]


@pytest.mark.parametrize("case", REPLACED, ids=[c[0] for c in REPLACED])
def test_a_pair_of_mod_acmes_key_type_is_warned_of(httpd, unique, case):
    """A certificate and its key of a key family the vhost's AcmeKeyType has
    take the place of mod_acme's (mod_ssl applies the commands after it loads
    mod_acme's certificates, one per key type): mod_ssl serves the
    administrator's certificate and mod_acme renews one that is never
    served. The server works, so configtest passes, and warns with the line,
    the vhost and the fix."""
    _, key_type, stem, keys = case
    name = unique("replaced")
    names = files(httpd)
    line = "SSLOpenSSLConfCmd Certificate %s" % names[stem + "_cert"]
    own = "\n".join(l for l in (key_type, line, "SSLOpenSSLConfCmd PrivateKey %s"
                                % names[stem + "_key"]) if l)
    httpd.write_config(vhosts=ssl_vhost(name, extra=own))
    rc, out = httpd.configtest()
    assert rc == 0, "%s\nconfig:\n%s" % (out, httpd.conf_text)
    for w in words_for(httpd, name, "SSLOpenSSLConfCmd Certificate", [
            "ACME01620: {at}: '%s' in the SSL <VirtualHost> at {vhost}, which serves the "
            "certificate of {name} (%s keys): this certificate's key is of a key type mod_acme "
            "serves there" % (line, keys),
            "clients get this certificate, and mod_acme renews one that is never served; "
            "remove the line and its PrivateKey, or take AcmeDomain out of the "
            "<VirtualHost>"]):
        assert w in out, "%r not in:\n%s" % (w, out)


def test_a_pair_of_the_other_key_type_is_not_warned_of(httpd, unique):
    name = unique("beside")
    names = files(httpd)
    httpd.write_config(vhosts=ssl_vhost(name, extra="SSLOpenSSLConfCmd Certificate %s\n"
                                        "SSLOpenSSLConfCmd PrivateKey %s"
                                        % (names["rsa_cert"], names["rsa_key"])))
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert "ACME01620" not in out, out
