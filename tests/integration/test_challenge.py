"""The http-01 responder: answers only pending tokens, from memory, never
from files, and keeps the connection open."""
import http.client
import os
import re

import pytest

from harness import closed_port, ssl_vhost, wait_for

PREFIX = "/.well-known/acme-challenge/"
SECRET = "file-content-that-must-never-be-served"
ON_DISK_TOKEN = "Unknown_Token-0123456789abcdefABCDEF"


@pytest.fixture
def responder(httpd, unique):
    """httpd with mod_acme and a dead CA (no token is ever pending), and files
    placed where a naive file-based responder would look. Requests carry the
    managed name as Host, as the CA's validation requests do."""
    httpd.managed_name = unique("chal")
    httpd.write_config(vhosts=ssl_vhost(httpd.managed_name),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % closed_port()})
    for rel in (".well-known/acme-challenge/" + ON_DISK_TOKEN,
                ".well-known/acme-challenge/BBBBtoken2",
                ".well-known/x", "etc/passwd", ".well-known/acme-challenge/x"):
        path = os.path.join(httpd.docroot, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.chmod(os.path.dirname(path), 0o755)
        with open(path, "w") as f:
            f.write(SECRET + " " + rel + "\n")
        os.chmod(path, 0o644)
    httpd.start()
    return httpd


def raw_get(httpd, path, host=None):
    """GET with the path sent exactly as given (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", httpd.http_port, timeout=5)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or httpd.managed_name)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_unknown_token_is_404_and_not_read_from_disk(responder):
    status, body = raw_get(responder, PREFIX + ON_DISK_TOKEN)
    assert status == 404, (status, body[:300])
    assert SECRET.encode() not in body


@pytest.mark.parametrize("path", [
    PREFIX + "..%2F..%2Fetc%2Fpasswd",
    PREFIX + "../x",
    PREFIX + "..%2fx",
    PREFIX + "%2e%2e/x",
    PREFIX + "x/../../etc/passwd",
])
def test_traversal_is_404_without_file_access(responder, path):
    status, body = raw_get(responder, path)
    assert status == 404, "%s -> %d %r" % (path, status, body[:300])
    assert SECRET.encode() not in body, "%s served a file: %r" % (path, body[:300])
    assert not re.search(rb"root:.*:0:0:", body), "%s served /etc/passwd" % path


def test_challenge_responses_keep_the_connection_alive(responder):
    conn = http.client.HTTPConnection("127.0.0.1", responder.http_port, timeout=5)
    try:
        host = {"Host": responder.managed_name}
        conn.request("GET", PREFIX + "AAAAtoken1", headers=host)
        r1 = conn.getresponse()
        r1.read()
        assert r1.status == 404
        assert not r1.will_close, "first response closes the connection: %s" % r1.getheaders()
        sock = conn.sock
        assert sock is not None
        local = sock.getsockname()
        conn.request("GET", PREFIX + "BBBBtoken2", headers=host)
        assert conn.sock is sock, "http.client had to reconnect"
        r2 = conn.getresponse()
        body2 = r2.read()
        # a file exists for this token: a 404 means the responder answered
        assert r2.status == 404 and SECRET.encode() not in body2, (r2.status, body2[:200])
        assert conn.sock is None or conn.sock.getsockname() == local
    finally:
        conn.close()
    # httpd's view: the second request came on a kept-alive connection. httpd
    # logs a request after answering it, so the line may take a moment.
    def logged():
        with open(responder.access_log) as f:
            return [l for l in f if "BBBBtoken2" in l] or None
    lines = wait_for(logged, 5, interval=0.05, what="the access log line of the second request")
    assert "keepalive=1" in lines[-1], lines
