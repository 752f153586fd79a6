"""configtest holds each managed vhost's key types against the vhost's OpenSSL
security level: a key that gives fewer bits than the level asks for (rsa-2048
has 112, level 3 asks for 128) is refused by mod_ssl once the certificate is
issued, and httpd stopped at the restart that made it live. The level comes
from @SECLEVEL in SSLCipherSuite (the vhost's own, else the server's; a TLSv1.3
suite sets none) or in SSLOpenSSLConfCmd CipherString, else OpenSSL's default
(2 on Debian). configtest fails with the AcmeKeyType line, the key type and
its bits, the level and its line, and the fix."""
import pytest

from harness import configtest_fails, ssl_vhost

LEVEL3 = "SSLCipherSuite DEFAULT:@SECLEVEL=3"


def vhost_at(httpd):
    return httpd.where("<VirtualHost *:%d>" % httpd.https_port)


def passes(httpd):
    rc, out = httpd.configtest()
    assert rc == 0, "%s\nconfig:\n%s" % (out, httpd.conf_text)
    assert "ACME01607" not in out and "ACME01608" not in out, out


def test_rsa2048_at_level3_in_the_vhost(httpd, unique):
    name = unique("lvl3")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048\n" + LEVEL3))
    keytype_at = httpd.where("AcmeKeyType rsa-2048")
    level_at = httpd.where(LEVEL3)
    configtest_fails(httpd, [
        "ACME01607: %s: the key type rsa-2048 (AcmeKeyType rsa-2048) gives 112 bits of "
        "security, and the SSL <VirtualHost> at %s, which serves the certificate of %s, has "
        "OpenSSL security level 3 ('%s' at %s), which asks for 128 bits: mod_ssl would refuse "
        "the certificate once it is issued ('ee key too small') and httpd would stop at the "
        "restart that makes it live" % (keytype_at, vhost_at(httpd), name, LEVEL3, level_at),
        "write 'AcmeKeyType rsa-3072' at %s (key types of 128 bits or more: ec-p256, ec-p384, "
        "rsa-3072, rsa-4096), or lower @SECLEVEL to 2 in '%s' at %s" % (keytype_at, LEVEL3,
                                                                        level_at)])


def test_level3_at_server_level_reaches_the_vhost(httpd, unique):
    """The server-level SSLCipherSuite counts for a vhost without its own;
    a vhost's own SSLCipherSuite without @SECLEVEL replaces it."""
    name = unique("srv3")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048"),
                       extra_global=LEVEL3)
    configtest_fails(httpd, [
        "ACME01607: %s: the key type rsa-2048" % httpd.where("AcmeKeyType rsa-2048"),
        "security level 3 ('%s' at %s)" % (LEVEL3, httpd.where(LEVEL3)),
        "'AcmeKeyType rsa-3072'"])
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048\nSSLCipherSuite HIGH"),
                       extra_global=LEVEL3)
    passes(httpd)


def test_level3_through_openssl_conf_cmd(httpd, unique):
    name = unique("conf3")
    cmd = "SSLOpenSSLConfCmd CipherString DEFAULT:@SECLEVEL=3"
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048\n" + cmd))
    configtest_fails(httpd, [
        "ACME01607: %s: the key type rsa-2048" % httpd.where("AcmeKeyType rsa-2048"),
        "security level 3 ('%s' at %s)" % (cmd, httpd.where(cmd)),
        "OpenSSL would refuse the certificate at every TLS handshake once it is issued",
        "lower @SECLEVEL to 2 in '%s' at %s" % (cmd, httpd.where(cmd))])


def test_second_key_type_is_held_too(httpd, unique):
    """AcmeKeyType ec-p256 rsa-2048 at level 3: the RSA certificate fails,
    and the fix keeps the EC one."""
    name = unique("two3")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType ec-p256 rsa-2048\n" + LEVEL3))
    out = configtest_fails(httpd, [
        "ACME01607: %s: the key type rsa-2048 (AcmeKeyType ec-p256 rsa-2048)"
        % httpd.where("AcmeKeyType ec-p256"),
        "certificate of %s+rsa-2048" % name,
        "write 'AcmeKeyType ec-p256 rsa-3072' at %s" % httpd.where("AcmeKeyType ec-p256")])
    assert "the key type ec-p256" not in out, out


def test_ec_p256_and_the_temporary_certificate_at_level4(httpd, unique):
    """Level 4 asks for 192 bits: the default ec-p256 (named at its
    AcmeDomain line) and mod_acme's temporary certificate (EC P-256) both."""
    name = unique("lvl4")
    level4 = "SSLCipherSuite DEFAULT:@SECLEVEL=4"
    httpd.write_config(vhosts=ssl_vhost(name, extra=level4))
    domain_at = httpd.where("    AcmeDomain")
    configtest_fails(httpd, [
        "ACME01607: %s: the key type ec-p256 (the default: no AcmeKeyType is written) gives 128 "
        "bits of security" % domain_at,
        "which asks for 192 bits",
        "add 'AcmeKeyType ec-p384' next to the AcmeDomain at %s" % domain_at,
        "ACME01608: %s: the SSL <VirtualHost> at %s, which serves the certificate of %s, has "
        "OpenSSL security level 4" % (httpd.where(level4), vhost_at(httpd), name),
        "temporary certificate",
        "lower @SECLEVEL to 3 in '%s' at %s" % (level4, httpd.where(level4))])


def test_key_types_that_meet_the_level_pass(httpd, unique):
    """rsa-3072 and ec-p256 at level 3, rsa-2048 at the default level and
    under a TLSv1.3 suite (which sets no level)."""
    name = unique("ok")
    for extra in ("AcmeKeyType rsa-3072\n" + LEVEL3, LEVEL3, "AcmeKeyType ec-p256 rsa-4096\n" +
                  LEVEL3, "AcmeKeyType rsa-2048",
                  "AcmeKeyType rsa-2048\nSSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384"):
        httpd.write_config(vhosts=ssl_vhost(name, extra=extra))
        passes(httpd)


def test_live_chain_at_a_raised_level(httpd, unique):
    """A key type that meets level 3 (rsa-3072), its certificate live from
    Pebble, whose intermediate has an RSA-2048 key (112 bits): raising the
    vhost to level 3 fails configtest with that chain certificate and the fix,
    rather than mod_ssl stopping httpd at the next restart ('ca key too
    small')."""
    name = unique("chain")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-3072"))
    httpd.start()
    httpd.wait_for_pebble_cert(name)
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-3072\n" + LEVEL3))
    out = configtest_fails(httpd, [
        "ACME01609: %s: the live certificate of %s, served by the SSL <VirtualHost> at %s, has "
        "in its chain /CN=Pebble Intermediate CA " % (httpd.where(LEVEL3), name, vhost_at(httpd)),
        "whose key gives 112 bits of security, and the vhost has OpenSSL security level 3",
        "mod_ssl would refuse it ('ca key too small')",
        "lower @SECLEVEL to 2 in '%s' at %s" % (LEVEL3, httpd.where(LEVEL3))])
    assert "ACME01607" not in out, out


@pytest.mark.parametrize("line", [
    "SSLCipherSuite DEFAULT@SECLEVEL=3",            # openssl.cnf's spelling: no ':' before '@'
    "SSLCipherSuite HIGH:!aNULL@SECLEVEL=3",
    "SSLCipherSuite ECDHE+AESGCM:DEFAULT@SECLEVEL=1:@SECLEVEL=3",   # the last level counts
    "SSLOpenSSLConfCmd CipherString DEFAULT@SECLEVEL=3",
])
def test_level3_spelled_as_openssl_reads_it(httpd, unique, line):
    """A level command right after a cipher rule is read by OpenSSL (and so
    by mod_ssl) as the level: configtest reads the list as OpenSSL does."""
    name = unique("spell3")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeKeyType rsa-2048\n" + line))
    configtest_fails(httpd, [
        "ACME01607: %s: the key type rsa-2048" % httpd.where("AcmeKeyType rsa-2048"),
        "security level 3 ('%s' at %s)" % (line, httpd.where(line))])
