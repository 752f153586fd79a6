"""HTTPS for sites that have only port-80 virtual hosts, with no file edited:
mod_acme adds the SSL twin of a port-80 <VirtualHost> itself (AcmeDomain in
it, or AcmeAutoDomains on), and configtest says what is missing when it cannot.

The configurations are Debian-shaped: 'Listen <https port>' inside
<IfModule ssl_module> (ports.conf), vhosts only on the http port."""
import re
import uuid

from harness import cert_names, wait_for

ISSUE_TIMEOUT = 90


def public(label):
    """A name that looks public (AcmeAutoDomains skips *.test); Pebble's DNS
    (challtestsrv) answers every name with 127.0.0.1."""
    return "%s-%s.example.com" % (label, uuid.uuid4().hex[:8])


def plain_vhost(name, aliases=(), extra=""):
    lines = ["<VirtualHost *:{http_port}>", "    ServerName %s" % name]
    if aliases:
        lines.append("    ServerAlias %s" % " ".join(aliases))
    lines.append('    DocumentRoot "{docroot}"')
    lines += ["    " + l for l in extra.strip("\n").splitlines() if l]
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def edit_config(httpd, old, new):
    assert old in httpd.conf_text, old
    httpd.conf_text = httpd.conf_text.replace(old, new)
    with open(httpd.conf_path, "w") as f:
        f.write(httpd.conf_text)


def debian_listen(httpd):
    """The https Listen as Debian's ports.conf has it: only with mod_ssl."""
    listen = "Listen 127.0.0.1:%d\n" % httpd.https_port
    edit_config(httpd, listen, "<IfModule ssl_module>\n    %s</IfModule>\n" % listen)


def dump_vhosts(httpd):
    p = httpd._ctl("-t", "-D", "DUMP_VHOSTS")
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def https_section(dump, port):
    """The DUMP_VHOSTS lines of the https port."""
    m = re.search(r"^\*:%d .*?(?=^\S|\Z)" % port, dump, re.M | re.S)
    return m.group(0) if m else ""


def test_port80_vhost_with_acmedomain_gets_https(httpd, unique):
    name = unique("plain80")
    httpd.write_config(vhosts=plain_vhost(name, ["www." + name],
                                          "AcmeDomain\nAcmeRequireHttps temporary"))
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    section = https_section(dump_vhosts(httpd), httpd.https_port)
    # (DUMP_VHOSTS lists aliases only where several vhosts share an address)
    assert name in section, dump_vhosts(httpd)
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert cert_names(cert) == {name, "www." + name}, cert_names(cert)
    assert httpd.verified_cert("www." + name).serial_number == cert.serial_number
    status, _, body = httpd.https_request(name, "/index.html", verify=True)
    assert status == 200 and b"plain docroot" in body, (status, body[:300])
    # the port-80 vhost redirects to its twin (AcmeRequireHttps), challenges aside
    status, headers, _ = httpd.http_request("/index.html?a=1", host=name)
    assert status == 302 and headers.get("Location") == "https://%s/index.html?a=1" % name, \
        (status, headers)
    assert "ACME01405" in httpd.error_log_text(), httpd.diagnostics()


def test_configtest_names_the_missing_listen(httpd, unique):
    name = unique("nolisten")
    httpd.write_config(vhosts=plain_vhost(name, extra="AcmeDomain"))
    edit_config(httpd, "Listen 127.0.0.1:%d\n" % httpd.https_port, "")
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert "ACME00551" in out and "'Listen %d'" % httpd.https_port in out, out
    # where the vhost is, and where the http Listen is to put it next to
    assert "%s:%d" % (httpd.conf_path, httpd.line_of("ServerName " + name) - 1) in out, out
    assert "%s:%d" % (httpd.conf_path, httpd.line_of(
        "Listen 127.0.0.1:%d" % httpd.http_port)) in out, out


def test_configtest_names_the_missing_mod_ssl(httpd, unique):
    name = unique("nossl")
    httpd.write_config(vhosts=plain_vhost(name, extra="AcmeDomain"))
    debian_listen(httpd)
    ssl_line = [l for l in httpd.conf_text.splitlines() if l.startswith("LoadModule ssl_module")]
    assert ssl_line, httpd.conf_text
    edit_config(httpd, ssl_line[0] + "\n", "")
    edit_config(httpd, " ssl:warn", "")
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert "ACME00550" in out and "LoadModule ssl_module" in out and name in out, out
    assert "%s:%d" % (httpd.conf_path, httpd.line_of("ServerName " + name) - 1) in out, out
    assert "ACME00531" not in out, out


def test_auto_domains_whole_setup(httpd, unique):
    """AcmeAutoDomains on: every public name of every vhost gets a
    certificate served on the https port; other names get nothing."""
    site_a, site_b, site_c = public("auto-a"), public("auto-b"), public("auto-c")
    excluded, late = public("auto-x"), public("auto-late")
    internal = unique("auto-int")           # *.test: not public
    vhosts = (plain_vhost(site_a, ["www." + site_a, "intranet", "db.internal"])
              + plain_vhost(site_b)
              + plain_vhost(internal, ["printer.local"])
              + plain_vhost(excluded)
              # site_c has both vhosts written by hand: one certificate, no twin
              + plain_vhost(site_c)
              + "<VirtualHost *:{https_port}>\n    ServerName %s\n"
                "    DocumentRoot \"{docroot}\"\n    SSLEngine on\n</VirtualHost>\n" % site_c)
    httpd.write_config(vhosts=vhosts,
                       extra_global="AcmeAutoDomains on except %s" % excluded)
    debian_listen(httpd)
    section = https_section(dump_vhosts(httpd), httpd.https_port)
    for name in (site_a, site_b, site_c):
        assert name in section, section
    for name in (internal, excluded, "localhost"):
        assert name not in section, section
    httpd.start()
    certs = {n: httpd.wait_for_pebble_cert(n, ISSUE_TIMEOUT) for n in (site_a, site_b, site_c)}
    assert cert_names(certs[site_a]) == {site_a, "www." + site_a}, cert_names(certs[site_a])
    assert cert_names(certs[site_b]) == {site_b}
    assert cert_names(certs[site_c]) == {site_c}
    managed = {d["name"] for d in httpd.status()["domains"]}
    assert managed == {site_a, site_b, site_c}, managed

    # a graceful restart keeps serving the same certificates
    httpd.graceful()
    for n, cert in certs.items():
        assert httpd.verified_cert(n).serial_number == cert.serial_number, n

    # a configuration change: one more port-80 vhost gets its certificate too
    with open(httpd.conf_path, "a") as f:
        f.write(plain_vhost(late).format(http_port=httpd.http_port, docroot=httpd.docroot))
    httpd.conf_text = open(httpd.conf_path).read()
    httpd.graceful()
    cert = httpd.wait_for_pebble_cert(late, ISSUE_TIMEOUT)
    assert cert_names(cert) == {late}
    wait_for(lambda: late in {d["name"] for d in httpd.status()["domains"]}, 10,
             what="%s on the status page" % late)
    for n, old in certs.items():
        assert httpd.verified_cert(n).serial_number == old.serial_number, n


def test_auto_domains_wait_for_the_terms(httpd):
    """Debian's acme.conf has AcmeAutoDomains on: enabling the module changes
    nothing until AcmeAgreeToTerms on is written."""
    name = public("auto-terms")
    httpd.write_config(vhosts=plain_vhost(name), extra_global="AcmeAutoDomains on",
                       acme={"AcmeAgreeToTerms": None})
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert "ACME01406" in out and "AcmeAgreeToTerms on" in out, out
    assert "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeAutoDomains on")) in out, out
    assert name not in https_section(dump_vhosts(httpd), httpd.https_port)
