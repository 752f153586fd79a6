"""A cipher list OpenSSL rejects (SSLCipherSuite, SSLOpenSSLConfCmd
CipherString) in the configuration of an SSL vhost that serves a certificate
of mod_acme: configtest fails naming the line, where it is and the list,
instead of passing and mod_ssl stopping httpd at its start. A vhost mod_acme
does not manage is left to mod_ssl."""
import os
import subprocess

from harness import configtest_fails, ssl_vhost


def rejected(httpd, line):
    """The words configtest says for line, a rejected list used by the first
    SSL vhost."""
    return ["ACME01610: %s: '%s', the list of the SSL <VirtualHost> at %s"
            % (httpd.where(line), line, httpd.where("<VirtualHost *:%d>" % httpd.https_port)),
            "OpenSSL rejects this cipher list (it selects no cipher from it), so mod_ssl would "
            "stop httpd at its start"]


def passes(httpd):
    rc, out = httpd.configtest()
    assert rc == 0, "%s\nconfig:\n%s" % (out, httpd.conf_text)
    assert "ACME01610" not in out, out


def test_level_command_after_a_plus(httpd, unique):
    """'HIGH:+@SECLEVEL=3': OpenSSL selects no cipher at all."""
    name = unique("plus")
    line = "SSLCipherSuite HIGH:+@SECLEVEL=3"
    httpd.write_config(vhosts=ssl_vhost(name, extra=line))
    configtest_fails(httpd, rejected(httpd, line) + ["certificate of %s" % name])


def test_unknown_cipher_at_server_level(httpd, unique):
    """The server-level list counts for the vhost without its own, and is
    said once for every vhost that uses it."""
    first, second = unique("srv1"), unique("srv2")
    line = "SSLCipherSuite NOSUCHCIPHER"
    httpd.write_config(vhosts=ssl_vhost(first) + ssl_vhost(second), extra_global=line)
    out = configtest_fails(httpd, rejected(httpd, line) + ["(the same for 1 more <VirtualHost>s)"])
    assert out.count("ACME01610") == 1, out
    # a vhost's own list replaces it
    httpd.write_config(vhosts=ssl_vhost(first, extra="SSLCipherSuite HIGH")
                       + ssl_vhost(second, extra="SSLCipherSuite HIGH"), extra_global=line)
    passes(httpd)


def test_openssl_conf_cmd_cipher_string(httpd, unique):
    name = unique("conf")
    line = "SSLOpenSSLConfCmd CipherString NOSUCHCIPHER"
    httpd.write_config(vhosts=ssl_vhost(name, extra=line))
    configtest_fails(httpd, rejected(httpd, line))


def test_lists_openssl_takes_pass(httpd, unique):
    """An unknown word beside known ones, a level OpenSSL reads, a TLSv1.3
    suite: OpenSSL takes them all."""
    name = unique("fine")
    httpd.write_config(vhosts=ssl_vhost(name, extra="SSLCipherSuite HIGH:NOSUCHCIPHER:!aNULL\n"
                                                    "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384\n"
                                                    "SSLOpenSSLConfCmd CipherString DEFAULT@SECLEVEL=2"))
    passes(httpd)


def test_vhost_without_acme_domain_is_left_to_mod_ssl(httpd, unique):
    managed, own = unique("mgd"), unique("own")
    key = os.path.join(httpd.serverroot, "own-key.pem")
    cert = os.path.join(httpd.serverroot, "own-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=" + own],
                   check=True, capture_output=True, timeout=30)
    httpd.write_config(vhosts=ssl_vhost(managed) + ssl_vhost(
        own, acme_domain="", extra="SSLCertificateFile %s\nSSLCertificateKeyFile %s\n"
        "SSLCipherSuite NOSUCHCIPHER" % (cert, key)))
    rc, out = httpd.configtest()
    assert "ACME01610" not in out, out
