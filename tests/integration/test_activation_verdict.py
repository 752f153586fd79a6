"""The configuration test's verdict: before an automatic restart the test
proves every staged entry and reports, with each one it passes, a SHA-256 of
the bytes it proved (cert.pem as read, root's key file for the leaf); the
parent keeps it in memory, and the activation at the restart's post_config
proves again only what depends on more than those bytes, where the bytes it
reads are the same (ACME01505 counts them). A verdict never lets through an
entry changed after the test: tests/unit/test_archive.c
(test_staged_verdict)."""
import re

from harness import ssl_vhost

NAMES = 3
ISSUE_TIMEOUT = 120


def activations(httpd):
    """(written, on the verdict) of each activation that wrote a version."""
    return [(int(m.group(1)), int(m.group(2))) for m in re.finditer(
        r"ACME01505: (\d+) staged certificate\(s\) proven.*?; (\d+) of them with the "
        r"configuration test's verdict", httpd.error_log_text())]


def test_automatic_restart_activates_on_the_test_verdict(httpd, unique):
    names = [unique("verdict%d" % i) for i in range(NAMES)]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names))
    httpd.start()
    for name in names:
        httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    done = activations(httpd)
    assert sum(w for w, _ in done) == NAMES, httpd.diagnostics()
    # at least one went live on its test's verdict (one staged between the
    # test and the restart has none, and is proven whole)
    assert all(v <= w for w, v in done), done
    assert sum(v for _, v in done) >= 1, (done, httpd.diagnostics())
    text = httpd.error_log_text()
    for name in names:
        assert re.search(r"ACME00300: %s: activated certificate" % re.escape(name), text), name
