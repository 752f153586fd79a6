"""AcmeRequireHttps: http -> https redirects for managed names once their
certificate is live (never before, never on the challenge path), and
Strict-Transport-Security with 'permanent'."""
import http.client

from harness import closed_port, ssl_vhost

ISSUE_TIMEOUT = 60
PREFIX = "/.well-known/acme-challenge/"
HSTS = "Strict-Transport-Security"


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def test_bad_value_fails_configtest(httpd, unique):
    httpd.write_config(vhosts=ssl_vhost(unique("bad"), extra="AcmeRequireHttps sometimes"))
    code, out = httpd.configtest()
    assert code != 0, out
    assert "ACME00549" in out and "sometimes" in out and "permanent" in out, out


def test_no_redirect_and_no_hsts_before_the_certificate_is_live(httpd, unique):
    name = unique("notlive")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeRequireHttps permanent"),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % closed_port(),
                             "AcmeRequireHttps": "permanent"})
    httpd.start()
    status, headers, body = httpd.http_request("/index.html", host=name)
    assert status == 200 and b"plain docroot" in body, (status, headers, body[:200])
    assert header(headers, "Location") is None
    status, headers, _ = httpd.http_request(PREFIX + "AAAAtoken1", host=name)
    assert status == 404 and header(headers, "Location") is None, (status, headers)
    # the temporary certificate answers 503 and must not pin the browser to https
    status, headers, body = httpd.https_request(name, "/index.html")
    assert status == 503, (status, body[:200])
    assert header(headers, HSTS) is None, headers


def test_permanent_in_the_ssl_vhost_redirects_with_301_and_sends_hsts(httpd, unique):
    name = unique("perm")
    alias = "www." + name
    httpd.write_config(vhosts=ssl_vhost(name, [alias], extra="AcmeRequireHttps permanent"))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)

    status, headers, _ = httpd.http_request("/a/b.html?x=1&y=%20z", host=name)
    assert status == 301, (status, headers, httpd.diagnostics())
    assert header(headers, "Location") == "https://%s/a/b.html?x=1&y=%%20z" % name, headers
    status, headers, _ = httpd.http_request("/", host=alias, method="HEAD")
    assert status == 301 and header(headers, "Location") == "https://%s/" % alias, headers
    # a client that addressed the local http port by number gets the local https port
    status, headers, _ = httpd.http_request("/index.html", host="%s:%d" % (name, httpd.http_port))
    assert status == 301, headers
    assert header(headers, "Location") == "https://%s:%d/index.html" % (name, httpd.https_port)

    # the challenge path is never redirected, and names not managed are left alone
    status, headers, _ = httpd.http_request(PREFIX + "AAAAtoken1", host=name)
    assert status == 404 and header(headers, "Location") is None, (status, headers)
    status, headers, body = httpd.http_request("/index.html", host="localhost")
    assert status == 200 and b"plain docroot" in body, (status, headers)

    # the redirect keeps the connection open
    conn = http.client.HTTPConnection("127.0.0.1", httpd.http_port, timeout=5)
    try:
        for _ in range(2):
            conn.request("GET", "/", headers={"Host": name})
            r = conn.getresponse()
            r.read()
            assert r.status == 301 and not r.will_close, r.getheaders()
    finally:
        conn.close()

    status, headers, body = httpd.https_request(name, "/index.html", verify=True)
    assert status == 200 and b"plain docroot" in body, (status, body[:200])
    assert header(headers, HSTS) == "max-age=31536000", headers
    status, headers, _ = httpd.https_request(name, "/missing.html", verify=True)
    assert status == 404 and header(headers, HSTS) == "max-age=31536000", headers


def test_temporary_at_server_level_and_off_in_one_vhost(httpd, unique):
    name = unique("temp")
    other = unique("optout")
    httpd.write_config(vhosts=ssl_vhost(name) + ssl_vhost(other, extra="AcmeRequireHttps off"),
                       acme={"AcmeRequireHttps": "temporary"})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    httpd.wait_for_pebble_cert(other, ISSUE_TIMEOUT)

    status, headers, _ = httpd.http_request("/x", host=name)
    assert status == 302 and header(headers, "Location") == "https://%s/x" % name, headers
    status, headers, _ = httpd.https_request(name, "/index.html", verify=True)
    assert status == 200 and header(headers, HSTS) is None, headers
    status, headers, body = httpd.http_request("/index.html", host=other)
    assert status == 200 and b"plain docroot" in body, (status, headers)


def test_a_name_added_since_the_live_certificate_is_not_redirected(httpd, unique):
    """Only the names the live certificate holds are live: an alias added to
    the configuration (its certificate not yet obtained: the CA is
    unreachable now) is neither redirected nor sent HSTS, while the names the
    live certificate holds still are."""
    name = unique("added")
    alias = "new." + name
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeRequireHttps permanent"))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    status, headers, _ = httpd.http_request("/", host=name)
    assert status == 301, (status, headers)

    httpd.write_config(vhosts=ssl_vhost(name, [alias], extra="AcmeRequireHttps permanent"),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % closed_port()})
    httpd.graceful()
    status, headers, body = httpd.http_request("/index.html", host=alias)
    assert status == 200 and b"plain docroot" in body, (status, headers, httpd.diagnostics())
    assert header(headers, "Location") is None, headers
    status, headers, _ = httpd.http_request("/x", host=name)
    assert status == 301 and header(headers, "Location") == "https://%s/x" % name, headers
    status, headers, _ = httpd.https_request(name, "/index.html", verify=True)
    assert status == 200 and header(headers, HSTS) == "max-age=31536000", headers
