"""Every TLS setting of an SSL vhost mod_acme manages that makes mod_ssl
refuse to start, or leaves it no cipher to serve, fails configtest naming the
line, where it is, what is wrong and the fix: configtest passed such settings,
httpd started on mod_acme's temporary certificate or an earlier one, and the
graceful restart mod_acme makes to activate a certificate stopped httpd.
configtest builds an OpenSSL context as mod_ssl does for the vhost (SSLProtocol,
SSLCipherSuite for TLS up to 1.2 and for TLSv1.3, then every SSLOpenSSLConfCmd
of the server and the vhost in order) and asks it for a usable cipher.

Each refused setting is first shown to stop mod_ssl alone (a vhost with a
certificate file, no mod_acme) or to leave it serving no handshake; settings
mod_ssl takes pass."""
import os
import socket
import ssl
import subprocess
import warnings

import pytest

from harness import HarnessError, configtest_fails, ssl_vhost, wait_for

from test_privsep import logged

VHOST = "<VirtualHost *:%d>"

# (id, server-level lines, vhost lines, the line configtest names, its words,
#  what mod_ssl alone does: "stops" or "serves nothing")
REFUSED = [
    ("tls13-suite", "", "SSLCipherSuite TLSv1.3 NOSUCH_TLS13", "SSLCipherSuite TLSv1.3",
     ["ACME01612: {at}: 'SSLCipherSuite TLSv1.3 NOSUCH_TLS13', the TLSv1.3 cipher suites of "
      "the SSL <VirtualHost> at {vhost}, which serves the certificate of {name}: OpenSSL "
      "rejects this list (it knows none of its suites), so mod_ssl would stop httpd at its "
      "start; name TLSv1.3 suites OpenSSL knows, separated by ':'"], "stops"),
    ("conf-ciphersuites", "", "SSLOpenSSLConfCmd Ciphersuites NOSUCH_TLS13",
     "SSLOpenSSLConfCmd Ciphersuites",
     ["ACME01613: {at}: 'SSLOpenSSLConfCmd Ciphersuites NOSUCH_TLS13', applied by mod_ssl "
      "to the SSL <VirtualHost> at {vhost}, which serves the certificate of {name}: OpenSSL "
      "refuses it (no cipher match), so mod_ssl would stop httpd at its start",
      "; correct the value or remove the line"], "stops"),
    ("conf-minprotocol", "", "SSLOpenSSLConfCmd MinProtocol TLSv9",
     "SSLOpenSSLConfCmd MinProtocol",
     ["ACME01613: {at}: 'SSLOpenSSLConfCmd MinProtocol TLSv9', applied by mod_ssl",
      "OpenSSL refuses it (bad value), so mod_ssl would stop httpd at its start"], "stops"),
    ("conf-curves-server-level", "SSLOpenSSLConfCmd Curves NOSUCHCURVE", "",
     "SSLOpenSSLConfCmd Curves",
     ["ACME01613: {at}: 'SSLOpenSSLConfCmd Curves NOSUCHCURVE', applied by mod_ssl to the "
      "SSL <VirtualHost> at {vhost}"], "stops"),
    ("enull", "", "SSLCipherSuite eNULL", "SSLCipherSuite eNULL",
     ["ACME01611: {at}: 'SSLCipherSuite eNULL', the cipher list of the SSL <VirtualHost> at "
      "{vhost}, which serves the certificate of {name}: mod_ssl adds ':!aNULL:!eNULL:!EXP' "
      "to the list, which then selects no cipher, so mod_ssl would stop httpd at its start; "
      "name ciphers with encryption and authentication"], "stops"),
    ("conf-cipherstring-enull", "", "SSLOpenSSLConfCmd CipherString eNULL",
     "SSLOpenSSLConfCmd CipherString",
     ["ACME01611: {at}: 'SSLOpenSSLConfCmd CipherString eNULL', the cipher list of the SSL "
      "<VirtualHost> at {vhost}"], "stops"),
    ("no-protocol", "", "SSLProtocol -all", "SSLProtocol -all",
     ["ACME01614: {at}: 'SSLProtocol -all', the protocols of the SSL <VirtualHost> at "
      "{vhost}, which serves the certificate of {name}, leaves no protocol, so mod_ssl "
      "would stop httpd at its start; allow one, e.g. 'SSLProtocol -all +TLSv1.2 +TLSv1.3'"],
     "stops"),
    ("tls12-psk-only", "", "SSLProtocol -all +TLSv1.2\nSSLCipherSuite PSK", "SSLCipherSuite PSK",
     ["ACME01615: {vhost}: the SSL <VirtualHost> at {vhost}, which serves the certificate "
      "of {name}, has no cipher a client could use ('SSLProtocol -all +TLSv1.2' at ",
      "'SSLCipherSuite PSK' at {at}",
      "mod_ssl would start and fail every TLS handshake"], "serves nothing"),
    ("tls12-psk-conf-cmd", "SSLProtocol TLSv1.2", "SSLOpenSSLConfCmd CipherString PSK",
     "SSLOpenSSLConfCmd CipherString",
     ["ACME01615: {vhost}: the SSL <VirtualHost> at {vhost}, which serves the certificate "
      "of {name}, has no cipher a client could use", "'SSLProtocol TLSv1.2' at ",
      "'SSLOpenSSLConfCmd CipherString PSK' at {at}"], "serves nothing"),
    ("min-above-max", "",
     "SSLOpenSSLConfCmd MinProtocol TLSv1.3\nSSLOpenSSLConfCmd MaxProtocol TLSv1.2",
     "SSLOpenSSLConfCmd MinProtocol",
     ["ACME01615: {vhost}: the SSL <VirtualHost> at {vhost}",
      "'SSLOpenSSLConfCmd MinProtocol TLSv1.3' at {at}",
      "'SSLOpenSSLConfCmd MaxProtocol TLSv1.2' at "], "serves nothing"),
    ("level-leaves-none", "", "SSLProtocol -all +TLSv1.2\nSSLCipherSuite AES128:@SECLEVEL=4",
     "SSLCipherSuite AES128",
     ["ACME01615: {vhost}: the SSL <VirtualHost> at {vhost}",
      "'SSLCipherSuite AES128:@SECLEVEL=4' at {at}"], "serves nothing"),
    ("tls10-only", "", "SSLProtocol TLSv1", "SSLProtocol TLSv1",
     ["ACME01616: {vhost}: the SSL <VirtualHost> at {vhost}, which serves the certificate of "
      "{name}, allows no protocol version above TLSv1.1 ('SSLProtocol TLSv1' at {at}), and "
      "OpenSSL refuses the signatures of TLS 1.0 and 1.1 (SHA-1, MD5) at every security level "
      "above 0, so mod_ssl would start and fail every TLS handshake; allow TLSv1.2 and "
      "TLSv1.3"], "serves nothing"),
    ("tls11-server-level", "SSLProtocol -all +TLSv1 +TLSv1.1", "", "SSLProtocol -all +TLSv1 ",
     ["ACME01616: {vhost}: the SSL <VirtualHost> at {vhost}",
      "('SSLProtocol -all +TLSv1 +TLSv1.1' at {at})"], "serves nothing"),
    ("tls12-rsa-ciphers-for-ec-key", "", "SSLProtocol -all +TLSv1.2\nSSLCipherSuite aRSA",
     "SSLCipherSuite aRSA",
     ["ACME01617: {vhost}: the SSL <VirtualHost> at {vhost}, which serves the certificate of "
      "{name} (ec-p256 keys), has no cipher for its keys ('SSLProtocol -all +TLSv1.2' at ",
      "'SSLCipherSuite aRSA' at {at}): the ciphers these lines leave are for TLS 1.2 and below "
      "and need RSA keys, so mod_ssl would start and fail every TLS handshake"],
     "serves nothing"),
    ("conf-protocol-none", "", "SSLOpenSSLConfCmd Protocol -ALL", "SSLOpenSSLConfCmd Protocol",
     ["ACME01615: {vhost}: the SSL <VirtualHost> at {vhost}",
      "'SSLOpenSSLConfCmd Protocol -ALL' at {at}"], "serves nothing"),
]

ACCEPTED = [
    ("conf-ciphersuites", "", "SSLOpenSSLConfCmd Ciphersuites TLS_AES_128_GCM_SHA256"),
    ("conf-minprotocol", "", "SSLOpenSSLConfCmd MinProtocol TLSv1.2"),
    ("tls13-suite", "", "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384"),
    ("tls13-only", "", "SSLProtocol TLSv1.3"),
    ("tls12-only", "SSLProtocol -all +TLSv1.2", "SSLCipherSuite ECDHE+AESGCM"),
    ("psk-beside-tls13", "", "SSLCipherSuite PSK"),
    ("conf-options-curves", "SSLOpenSSLConfCmd Curves X25519:P-256",
     "SSLOpenSSLConfCmd Options -SessionTicket\nSSLOpenSSLConfCmd Protocol -TLSv1.1"),
    ("tls10-at-level-0", "", "SSLProtocol TLSv1\nSSLCipherSuite DEFAULT:@SECLEVEL=0"),
    ("tls12-beside-tls13-suites", "",
     "SSLProtocol TLSv1.2\nSSLCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256"),
    # what clients may sign with: OpenSSL's list of a server's usable ciphers
    # dropped the ECDSA ones for it, and configtest refused an EC vhost
    ("tls12-client-sigalgs-rsa", "SSLProtocol -all +TLSv1.2",
     "SSLOpenSSLConfCmd ClientSignatureAlgorithms RSA+SHA256:RSA-PSS+SHA256"),
    ("tls12-client-sigalgs-rsa-only-cmd", "",
     "SSLOpenSSLConfCmd MaxProtocol TLSv1.2\n"
     "SSLOpenSSLConfCmd ClientSignatureAlgorithms RSA+SHA256"),
]


def static_cert(httpd, name, key_type=("ec", "-pkeyopt", "ec_paramgen_curve:P-384")):
    """A certificate and key files for name in the server root: EC P-384 by
    default, which OpenSSL takes up to security level 4."""
    key = os.path.join(httpd.serverroot, "static-key.pem")
    cert = os.path.join(httpd.serverroot, "static-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey"] + list(key_type) + [
                    "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=" + name],
                   check=True, capture_output=True, timeout=30)
    return "SSLCertificateFile %s\nSSLCertificateKeyFile %s" % (cert, key)


def handshake(httpd, name):
    """None when a client that takes any protocol and cipher completes a TLS
    handshake with the https port, else the error."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    try:
        with socket.create_connection(("127.0.0.1", httpd.https_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name):
                return None
    except (OSError, ssl.SSLError) as e:
        return e


def words_for(httpd, name, at_line, words):
    at = httpd.where(at_line)
    vhost = httpd.where(VHOST % httpd.https_port)
    return [w.format(at=at, vhost=vhost, name=name) for w in words]


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_mod_ssl_alone_refuses(httpd, unique, case):
    """The same vhost with a certificate file and without mod_acme: mod_ssl's
    configtest passes, and httpd then stops at its start or serves no
    handshake."""
    _, top, own, _, _, effect = case
    name = unique("alone")
    httpd.write_config(load_acme=False, extra_global=top, vhosts=ssl_vhost(
        name, acme_domain="", extra=static_cert(httpd, name) + "\n" + own))
    rc, out = httpd.configtest()
    assert rc == 0, out
    if effect == "stops":
        with pytest.raises(HarnessError):
            httpd.start()
        return
    httpd.start()
    try:
        assert handshake(httpd, name) is not None
    finally:
        httpd.stop()


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_configtest_refuses(httpd, unique, case):
    _, top, own, at_line, words, _ = case
    name = unique("tls")
    httpd.write_config(extra_global=top, vhosts=ssl_vhost(name, extra=own))
    configtest_fails(httpd, words_for(httpd, name, at_line, words))


@pytest.mark.parametrize("case", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_settings_mod_ssl_takes_pass(httpd, unique, case):
    """configtest passes, and mod_ssl alone serves a handshake with them."""
    _, top, own = case
    name = unique("ok")
    httpd.write_config(extra_global=top, vhosts=ssl_vhost(name, extra=own))
    rc, out = httpd.configtest()
    assert rc == 0, "%s\nconfig:\n%s" % (out, httpd.conf_text)
    httpd.write_config(load_acme=False, extra_global=top, vhosts=ssl_vhost(
        name, acme_domain="", extra=static_cert(httpd, name) + "\n" + own))
    httpd.start()
    try:
        assert handshake(httpd, name) is None
    finally:
        httpd.stop()


def test_vhost_without_acme_domain_is_left_to_mod_ssl(httpd, unique):
    """A vhost mod_acme does not manage is mod_ssl's business."""
    managed, own = unique("mgd"), unique("own")
    httpd.write_config(vhosts=ssl_vhost(managed) + ssl_vhost(
        own, acme_domain="", extra=static_cert(httpd, own) + "\nSSLProtocol -all\n"
        "SSLCipherSuite TLSv1.3 NOSUCH_TLS13\nSSLOpenSSLConfCmd MinProtocol TLSv9"))
    rc, out = httpd.configtest()
    assert rc == 0, out
    for tag in ("ACME01611", "ACME01612", "ACME01613", "ACME01614", "ACME01615", "ACME01616"):
        assert tag not in out, out


def test_unknown_conf_cmd_is_refused_by_mod_ssl_already(httpd, unique):
    """'SSLOpenSSLConfCmd NoSuchCommand x' fails configtest in mod_ssl's own
    reading of the line, with or without mod_acme."""
    name = unique("unk")
    httpd.write_config(vhosts=ssl_vhost(name, extra="SSLOpenSSLConfCmd NoSuchCommand x"))
    configtest_fails(httpd, ["'NoSuchCommand': invalid OpenSSL configuration command"])


def test_a_vhost_left_with_no_cipher_does_not_stop_the_start(httpd, unique):
    """mod_ssl alone starts with a vhost that has no usable cipher and fails
    only that vhost's handshakes: configtest fails (ACME01615), but a start
    (a graceful restart of a running server by a signal) goes on, said in the
    error log, and the other vhosts serve. A false "no cipher" would
    otherwise take every vhost down."""
    good, none = unique("good"), unique("nocipher")
    httpd.write_config(vhosts=ssl_vhost(good))
    httpd.start()
    httpd.wait_for_pebble_cert(good)
    httpd.write_config(vhosts=ssl_vhost(good) + ssl_vhost(
        none, extra="SSLProtocol -all +TLSv1.2\nSSLCipherSuite PSK"))
    rc, out = httpd.configtest()
    assert rc != 0 and "ACME01615" in out, out
    httpd.graceful()
    wait_for(lambda: logged(httpd, "ACME01615"), 30, what="the start to say it")
    assert httpd.running()
    httpd.wait_for_pebble_cert(good)
    assert handshake(httpd, none) is not None


def test_https_twin_of_a_port80_vhost(httpd, unique):
    """The HTTPS twin mod_acme adds for a port-80 vhost with AcmeDomain takes
    the server's settings and the lines it copies from that vhost (here a
    TLSv1.3 list, which mod_ssl ignores in the port-80 vhost and applies in
    the twin)."""
    name = unique("twin")
    line = "SSLCipherSuite TLSv1.3 NOSUCH_TLS13"
    httpd.write_config(vhosts="<VirtualHost *:{http_port}>\n    ServerName %s\n"
                       "    DocumentRoot \"{docroot}\"\n    %s\n    AcmeDomain\n</VirtualHost>\n"
                       % (name, line))
    twin_of = httpd.where("ServerName %s" % name, below=-1)
    configtest_fails(httpd, [
        "ACME01612: %s: '%s', the TLSv1.3 cipher suites of the SSL <VirtualHost> at %s, which "
        "serves the certificate of %s" % (httpd.where(line), line, twin_of, name)])
    httpd.write_config(extra_global="SSLProtocol -all", vhosts="<VirtualHost *:{http_port}>\n"
                       "    ServerName %s\n    DocumentRoot \"{docroot}\"\n    AcmeDomain\n"
                       "</VirtualHost>\n" % name)
    configtest_fails(httpd, [
        "ACME01614: %s: 'SSLProtocol -all', the protocols of the SSL <VirtualHost> at %s"
        % (httpd.where("SSLProtocol -all"), httpd.where("ServerName %s" % name, below=-1))])


def test_rsa_ciphers_alone_pass_with_an_rsa_key_type(httpd, unique):
    """TLS 1.2 alone with ciphers for RSA keys: fine for AcmeKeyType
    rsa-2048 (or beside an EC type), and mod_ssl serves them with an RSA
    certificate."""
    name = unique("rsa")
    lines = "SSLProtocol -all +TLSv1.2\nSSLCipherSuite aRSA"
    for types in ("rsa-2048", "ec-p256 rsa-3072"):
        httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType %s\n%s" % (types, lines)))
        rc, out = httpd.configtest()
        assert rc == 0, "%s\nconfig:\n%s" % (out, httpd.conf_text)
    httpd.write_config(load_acme=False, vhosts=ssl_vhost(name, acme_domain="", extra=static_cert(
        httpd, name, ("rsa:2048",)) + "\n" + lines))
    httpd.start()
    try:
        assert handshake(httpd, name) is None
    finally:
        httpd.stop()


def test_automatic_restart_is_not_made_on_a_refused_setting(httpd, unique):
    """httpd runs on the temporary certificate while the first one is
    ordered, and a TLSv1.3 list mod_ssl refuses is written meanwhile: the
    configuration test mod_acme runs before its automatic restart fails with
    the line (ACME00717 quoting ACME01612), so httpd is not restarted and
    keeps running, instead of stopping at the restart."""
    name = unique("held")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    line = "SSLCipherSuite TLSv1.3 NOSUCH_TLS13"
    httpd.write_config(vhosts=ssl_vhost(name, extra=line))
    wait_for(lambda: logged(httpd, "ACME00717", "ACME01612: %s" % httpd.where(line)), 120,
             what="the automatic restart refused for the line")
    assert httpd.running()
    assert handshake(httpd, name) is None
