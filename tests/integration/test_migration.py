"""Migration without downtime: a vhost that already has SSLCertificateFile /
SSLCertificateKeyFile and gets AcmeDomain serves its static certificate until
mod_acme's own is live, and from then on only the managed one; a client
polling through the changeover never sees the temporary certificate or a 503."""
import os
import subprocess
import time

from cryptography import x509

from harness import ssl_vhost

ISSUE_TIMEOUT = 60


def static_cert(httpd, name):
    """A self-signed certificate for name, as certbot's files would be."""
    key = os.path.join(httpd.serverroot, "static-key.pem")
    cert = os.path.join(httpd.serverroot, "static-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=" + name, "-addext",
                    "subjectAltName=DNS:" + name], check=True, capture_output=True, timeout=30)
    os.chmod(key, 0o600)
    with open(cert, "rb") as f:
        return cert, key, x509.load_pem_x509_certificate(f.read()).serial_number


def test_static_certificate_serves_until_the_managed_one_is_live(httpd, unique):
    name = unique("migrate")
    cert, key, static_serial = static_cert(httpd, name)
    httpd.write_config(vhosts=ssl_vhost(name, extra="SSLCertificateFile %s\nSSLCertificateKeyFile %s"
                                        % (cert, key)))
    code, out = httpd.configtest()
    assert code == 0 and "ACME00639" not in out, out
    httpd.start()
    seen = []          # (serial is static, issuer is Pebble, HTTP status)
    deadline = time.monotonic() + ISSUE_TIMEOUT
    managed_since = None
    while time.monotonic() < deadline:
        try:
            leaf = httpd.served_cert(name)
            status, _, _ = httpd.https_request(name, "/index.html")
        except OSError as exc:
            seen.append(("error", repr(exc)))
            time.sleep(0.2)
            continue
        pebble = "Pebble" in leaf.issuer.rfc4514_string()
        seen.append((leaf.serial_number == static_serial, pebble, status))
        if pebble and managed_since is None:
            managed_since = time.monotonic()
        if managed_since is not None and time.monotonic() - managed_since > 3:
            break
        time.sleep(0.2)
    assert managed_since is not None, "the managed certificate never came:\n%s\n%s" % (
        seen[-5:], httpd.diagnostics())
    first_managed = next(i for i, s in enumerate(seen) if s[1] is True)
    before, after = seen[:first_managed], seen[first_managed:]
    assert before, "the managed certificate was live before the first request: %s" % seen[:3]
    assert all(s == (True, False, 200) for s in before), \
        "before the managed certificate: %s" % [s for s in before if s != (True, False, 200)][:5]
    assert all(s == (False, True, 200) for s in after), \
        "after the managed certificate: %s" % [s for s in after if s != (False, True, 200)][:5]
    # configtest now says that the static lines can go, naming their place
    code, out = httpd.configtest()
    assert code == 0, out
    line = httpd.line_of("SSLCertificateFile")
    assert "ACME00639: %s:%d:" % (httpd.conf_path, line) in out and name in out, out
    # a live certificate that does not parse (emptied, truncated, garbage) is
    # not served, so configtest does not say it is
    live = os.path.join(httpd.store, "domains", name, "cert.pem")
    with open(live, "rb") as f:
        good = f.read()
    try:
        for bad in (b"", good[:len(good) // 2], b"\x00garbage\xff" * 40):
            with open(live, "wb") as f:
                f.write(bad)
            code, out = httpd.configtest()
            assert code == 0 and "ACME00639" not in out, (bad[:20], out)
    finally:
        with open(live, "wb") as f:
            f.write(good)
