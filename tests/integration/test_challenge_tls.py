"""http-01 fetched over https on a vhost still on the fallback certificate.

A front end that redirects port 80 to https sends the CA's http-01 fetch to
https://NAME/.well-known/acme-challenge/TOKEN (RFC 8555 section 8.3 lets the
CA follow redirects). Until the first certificate arrives the vhost is on the
fallback certificate, where mod_acme refuses every request with 503 before
any handler runs: it answers pending tokens before that, and everything else
keeps the 503."""
import http.server
import socketserver
import threading

import harness
from harness import ssl_vhost, wait_for

PREFIX = "/.well-known/acme-challenge/"


def test_pending_token_is_answered_over_https_on_the_fallback_certificate(httpd, plain_proxy,
                                                                          unique):
    name = unique("tlshttp01")
    # held where the client has published the answer and tells the CA to validate
    gate = plain_proxy.gate("POST", r"^/chalZ/", timeout=60)
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeChallenges http-01"),
                       acme={"AcmeCA": plain_proxy.directory_url})
    httpd.start()
    wait_for(gate.held.is_set, 60, interval=0.05, what="the challenge POST held at the proxy")
    token = plain_proxy.http01_tokens()[-1]

    status, _, plain = httpd.http_request(PREFIX + token, host=name)
    assert status == 200 and plain.decode().startswith(token + "."), (status, plain)
    status, headers, body = httpd.https_request(name, PREFIX + token)
    assert status == 200, (status, body, httpd.diagnostics())
    assert body == plain, (body, plain)
    assert headers.get("Content-Type", "").startswith("text/plain"), headers

    # everything else on the fallback certificate still gets 503
    status, _, body = httpd.https_request(name, PREFIX + "A" * 43)
    assert status == 503, (status, body)
    status, _, body = httpd.https_request(name, "/index.html")
    assert status == 503, (status, body)
    status, _, body = httpd.https_request(name, PREFIX + token + "x")
    assert status == 503, (status, body)

    plain_proxy.open_gates()
    httpd.wait_for_pebble_cert(name, 60)


class Redirector:
    """Plays a front end on the port the CA validates http-01 at: every GET
    gets 301 to the same path over https on httpd's TLS port."""

    def __init__(self, port, https_port):
        self.port, self.https_port, self.seen = port, https_port, []

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                host = self.headers.get("Host", "").split(":")[0]
                outer.seen.append((host, self.path))
                self.send_response(301)
                self.send_header("Location", "https://%s:%d%s" % (host, outer.https_port, self.path))
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_first_certificate_when_port_80_redirects_to_https(httpd_factory, workdir, challtestsrv, unique):
    name = unique("redir")
    front_port, https_port = harness.free_port(), harness.free_port()
    redirector = Redirector(front_port, https_port).start()
    pb = None
    try:
        pb = harness.private_pebble(workdir, challtestsrv.dns_port, "redirect-%s" % name,
                                    http_port=front_port, tls_port=https_port,
                                    env={"PEBBLE_AUTHZREUSE": "0"})
        httpd = httpd_factory(pebble=pb, http_port=harness.free_port(), https_port=https_port)
        httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeChallenges http-01"))
        httpd.start()
        httpd.wait_for_pebble_cert(name, 60)
        assert any(h == name and p.startswith(PREFIX) for h, p in redirector.seen), redirector.seen
    finally:
        redirector.stop()
        if pb:
            pb.stop()
