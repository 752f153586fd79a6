"""Before a certificate exists, and when the CA cannot or will not issue one:
the vhost serves a temporary certificate and a 503, the status page says why,
and httpd keeps serving."""
import datetime
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from harness import (closed_port, free_port, parse_time, ssl_vhost, utcnow,
                     wait_for_status_error)


def dead_ca_url():
    return "https://127.0.0.1:%d/dir" % closed_port()


def start_with_dead_ca(httpd, name, aliases=()):
    url = dead_ca_url()
    httpd.write_config(vhosts=ssl_vhost(name, aliases), acme={"AcmeCA": url})
    httpd.start()
    return url


def visible_text(body):
    text = body.decode("utf-8", "replace")
    text = re.sub(r"(?is)<(script|style|title|head)[^>]*>.*?</\1>", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return [l.strip() for l in text.splitlines() if l.strip()]


def test_fallback_certificate_and_503_until_issued(httpd, pebble, unique):
    name = unique("early")
    start_with_dead_ca(httpd, name)
    cert = httpd.served_cert(name)
    assert cert.issuer == cert.subject, "fallback is not self-signed: issuer %s subject %s" % (
        cert.issuer.rfc4514_string(), cert.subject.rfc4514_string())
    assert "Pebble" not in cert.issuer.rfc4514_string()
    with pytest.raises(ssl.SSLCertVerificationError):
        httpd.verified_cert(name)

    status, headers, body = httpd.https_request(name, "/index.html")
    assert status == 503, (status, body[:500])
    assert b"plain docroot" not in body
    lines = visible_text(body)
    assert lines, "503 without an explanation"
    assert len(lines) <= 2, "explanation is more than one line: %r" % lines
    assert "certificate" in " ".join(lines).lower(), lines

    # still the fallback a few seconds later: the CA is unreachable
    time.sleep(3)
    assert httpd.served_cert(name).issuer == cert.issuer
    assert httpd.https_request(name, "/index.html")[0] == 503


def test_status_page_names_unreachable_ca(httpd, unique):
    name = unique("deadca")
    url = start_with_dead_ca(httpd, name)
    domain = wait_for_status_error(httpd, name)
    err = domain["error"]
    # no problem document from a CA nobody reached: no type, the local class
    assert err["type"] is None and err["kind"] == "transport", err
    hostport = url.split("/")[2]
    assert hostport in (err.get("detail") or ""), \
        "error detail does not name the CA %s: %s" % (url, err)
    assert err.get("at"), err
    parse_time(err["at"])
    assert domain.get("next_action"), domain
    next_action = parse_time(domain["next_action"])
    assert next_action > utcnow() - datetime.timedelta(seconds=2), \
        "next_action %s is in the past" % domain["next_action"]
    assert domain.get("state") != "valid", domain
    assert domain.get("cert") is None, domain


def test_advice_for_an_unreachable_ca_names_it_and_the_fix(httpd, unique):
    """Connection refused on the way to the CA: the status page, acmectl show
    and the visitors' 503 say that the CA cannot be reached, with curl's reason
    and the fix, not the list of every cause of a failure without a CA error."""
    name = unique("adviceca")
    url = start_with_dead_ca(httpd, name)
    domain = wait_for_status_error(httpd, name)
    advice = domain.get("advice") or ""
    assert advice.startswith("Cannot reach AcmeCA %s: " % url), domain
    reason = advice[len("Cannot reach AcmeCA %s: " % url):]
    assert re.search(r"(?i)connect", reason.split(". Check")[0]), advice
    assert "AcmeDnsCmd" not in advice and "the store" not in advice, advice
    out = httpd.acmectl("--store", httpd.store, "show", name)
    assert re.search(r"^advice: +Cannot reach AcmeCA %s: " % re.escape(url), out.stdout,
                     re.M), out.stdout
    _, _, body = httpd.https_request(name, "/index.html")
    assert b"this server cannot reach the CA" in body, body[:500]


def test_advice_for_a_ca_failing_tls_verification(httpd, unique):
    """AcmeCA at an https listener whose certificate the CA file does not
    trust (this httpd's own temporary certificate): the advice is the TLS one."""
    name = unique("advicetls")
    url = "https://127.0.0.1:%d/dir" % httpd.https_port
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": url})
    httpd.start()
    domain = wait_for_status_error(httpd, name)
    advice = domain.get("advice") or ""
    assert advice.startswith("TLS to AcmeCA %s failed: " % url), domain
    assert "AcmeCACertificateFile" in advice and "clock" in advice, advice
    assert domain["error"]["type"] is None and domain["error"]["kind"] == "tls", domain["error"]
    assert "AcmeDnsCmd" not in advice, advice


def test_unreachable_ca_never_stops_httpd(httpd, unique):
    name = unique("alive")
    start_with_dead_ca(httpd, name)
    parent = httpd.pid()
    wait_for_status_error(httpd, name)
    time.sleep(2)
    assert httpd.running() and httpd.pid() == parent, httpd.diagnostics()
    status, _, body = httpd.http_request("/index.html")
    assert status == 200 and b"plain docroot" in body, (status, body[:300])
    assert httpd.https_request(name, "/index.html")[0] == 503


def test_refused_order_never_stops_httpd(httpd_factory, pebble, unique):
    """Pebble validates http-01 at a port where nothing listens: the
    authorization fails, the order is refused; httpd keeps serving."""
    httpd = httpd_factory(http_port=free_port(), https_port=free_port())
    assert httpd.http_port != pebble.http_port
    name = unique("refused")
    httpd.write_config(vhosts=ssl_vhost(name))
    orders_before = pebble.new_order_count()
    httpd.start()
    parent = httpd.pid()
    domain = wait_for_status_error(httpd, name, timeout=60)
    assert pebble.new_order_count() > orders_before, "no order reached Pebble"
    assert domain.get("state") != "valid", domain
    assert domain["error"].get("detail"), domain["error"]
    assert domain.get("next_action"), domain
    assert httpd.running() and httpd.pid() == parent, httpd.diagnostics()
    status, _, body = httpd.http_request("/index.html")
    assert status == 200 and b"plain docroot" in body, (status, body[:300])
    assert httpd.https_request(name, "/index.html")[0] == 503


def test_second_ca_is_used_when_the_first_is_unreachable(httpd, pebble, unique):
    """AcmeCA with two URLs: failover order."""
    name = unique("failover")
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": "%s %s" % (dead_ca_url(), pebble.directory_url)})
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, 90)
    assert "Pebble" in cert.issuer.rfc4514_string()


def test_one_notice_for_all_vhosts_on_the_temporary_certificate(httpd, unique):
    """A first start with many domains says once how many vhosts wait for
    their certificate (ACME00674), not once per vhost: ACME00612 only at
    debug. One waiting vhost is named (ACME00673)."""
    names = [unique("wait%d" % i) for i in range(3)]
    httpd.write_config(vhosts="\n".join(ssl_vhost(n) for n in names),
                       acme={"AcmeCA": dead_ca_url()})
    httpd.start()
    assert httpd.https_request(names[0], "/index.html")[0] == 503
    log = httpd.error_log_text()
    summaries = re.findall(r"\[acme:notice\].*ACME00674: (\d+) SSL vhosts have no certificate "
                           r"yet \((\S+) among them", log)
    assert summaries, "no ACME00674 summary:\n" + log[-3000:]
    assert all(int(count) == 3 and name in names for count, name in summaries), summaries
    per_vhost = re.findall(r"\[acme:(\w+)\].*ACME00612: ", log)
    assert per_vhost and set(per_vhost) == {"debug"}, per_vhost

    # one vhost: the single notice names it
    httpd.stop()
    httpd.write_config(vhosts=ssl_vhost(names[0]), acme={"AcmeCA": dead_ca_url()})
    httpd.start()
    assert re.search(r"ACME00673: %s has no certificate yet" % re.escape(names[0]),
                     httpd.error_log_text()), httpd.error_log_text()[-3000:]


def test_503_stays_with_the_vhost_that_waits(httpd, unique):
    """On one address, the first vhost waits for its certificate (the CA is
    down); a vhost with a certificate of its own, with or without AcmeDomain,
    behind it serves its content to a client that sends its name by SNI.
    A client without SNI got the first vhost's temporary certificate, so it
    gets the 503 whatever Host it names."""
    pending, static, migrating = unique("wait1"), unique("own2"), unique("mig3")
    key = os.path.join(httpd.serverroot, "own-key.pem")
    cert = os.path.join(httpd.serverroot, "own-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=" + static, "-addext",
                    "subjectAltName=DNS:%s,DNS:%s" % (static, migrating)],
                   check=True, capture_output=True, timeout=30)
    own = "SSLCertificateFile %s\nSSLCertificateKeyFile %s" % (cert, key)
    httpd.write_config(vhosts=ssl_vhost(pending) + ssl_vhost(static, acme_domain="", extra=own)
                       + ssl_vhost(migrating, extra=own), acme={"AcmeCA": dead_ca_url()})
    httpd.start()

    assert httpd.https_request(pending, "/index.html")[0] == 503
    for name in (static, migrating):
        status, _, body = httpd.https_request(name, "/index.html")
        assert status == 200 and b"plain docroot" in body, (name, status, body[:300])

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", httpd.https_port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:      # no server_hostname: no SNI
            tls.sendall(("GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                         % static).encode())
            answer = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 503"), answer[:300]


def test_sni_of_another_vhost_gets_mod_ssl_421(httpd, unique):
    """SNI names a vhost with a certificate of its own, Host the vhost that
    waits for its certificate: mod_ssl answers 421 Misdirected Request (the
    two vhosts' TLS set-ups differ), not the waiting vhost's 503. SNI and
    Host both naming the waiting vhost still get its 503, and so does SNI of
    another waiting vhost: both have the temporary certificate's files, so
    mod_ssl finds their TLS set-ups alike and would serve the content."""
    pending, static, other = unique("wait1"), unique("own2"), unique("wait3")
    key = os.path.join(httpd.serverroot, "own-key.pem")
    cert = os.path.join(httpd.serverroot, "own-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=" + static, "-addext",
                    "subjectAltName=DNS:%s" % static],
                   check=True, capture_output=True, timeout=30)
    own = "SSLCertificateFile %s\nSSLCertificateKeyFile %s" % (cert, key)
    for first, second in ((ssl_vhost(pending), ssl_vhost(static, extra=own)),
                          (ssl_vhost(static, extra=own), ssl_vhost(pending))):
        httpd.write_config(vhosts=first + second + ssl_vhost(other),
                           acme={"AcmeCA": dead_ca_url()})
        httpd.start()
        status, _, body = httpd.https_request(static, "/index.html", headers={"Host": pending})
        assert status == 421, (status, body[:300])
        assert b"certificate" not in body, body[:300]
        status, _, body = httpd.https_request(pending, "/index.html")
        assert status == 503 and b"plain docroot" not in body, (status, body[:300])
        status, _, body = httpd.https_request(static, "/index.html")
        assert status == 200 and b"plain docroot" in body, (status, body[:300])
        status, _, body = httpd.https_request(other, "/index.html", headers={"Host": pending})
        assert status == 503 and pending.encode() in body, (status, body[:300])
        httpd.stop()
