"""HTTPS for sites that have only port-80 virtual hosts, with no file edited:
mod_acme adds the SSL twin of a port-80 <VirtualHost> itself (AcmeDomain in
it, or AcmeAutoDomains on), and configtest says what is missing when it cannot.

The configurations are Debian-shaped: 'Listen <https port>' inside
<IfModule ssl_module> (ports.conf), vhosts only on the http port."""
import os
import re
import ssl
import subprocess
import time
import uuid

import pytest

from harness import cert_names, ssl_vhost, wait_for

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
    # on the address of the http Listen ('Listen 127.0.0.1:<http>'), not on every address
    assert "ACME00551" in out and "'Listen 127.0.0.1:%d'" % httpd.https_port in out, out
    assert "next to 'Listen 127.0.0.1:%d'" % httpd.http_port in out, out
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


def handshake_outcome(httpd, name):
    """'refused: <reason>' when the TLS handshake for SNI name fails, else the
    set of names of the certificate served (not verified)."""
    try:
        return cert_names(httpd.served_cert(name))
    except ssl.SSLError as exc:
        return "refused: %s" % exc


def openssl_sni(httpd, name):
    """openssl s_client's view: (exit code, output) of a handshake with SNI name."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % httpd.https_port,
                        "-servername", name, "-brief"], input="", capture_output=True,
                       text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def test_twins_carry_only_the_names_their_certificates_cover(httpd):
    """Names AcmeAutoDomains skips (excluded, not public) and names no
    AcmeDomain lists stay out of the HTTPS twins: a TLS client asking for one
    is refused at the handshake instead of being served another name's
    certificate; configtest and the log name each with the reason, and an
    'except' name that matches no vhost is a warning."""
    site, hand, shown = public("twin-a"), public("twin-h"), public("twin-s")
    excl_alias, excl_server, excl_vhost = "excl." + site, public("twin-xs"), public("twin-xv")
    typo = public("twin-typo")
    vhosts = (plain_vhost(site, ["www." + site, excl_alias, "intranet", "db.internal",
                                 "10.1.2.3"])
              # its ServerName excluded, an alias not: the alias becomes the twin's ServerName
              + plain_vhost(excl_server, [shown])
              + plain_vhost(excl_vhost)
              # written by hand: the certificate holds only what AcmeDomain lists
              + plain_vhost(hand, ["other." + hand], "AcmeDomain %s" % hand))
    httpd.write_config(vhosts=vhosts, extra_global="AcmeAutoDomains on except %s %s %s %s"
                       % (excl_alias, excl_server, excl_vhost, typo))
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    where = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeAutoDomains on"))
    warn = [l for l in out.splitlines() if "ACME01408" in l]
    assert len(warn) == 1 and typo in warn[0] and where in warn[0], out
    skipped = {}
    for line in out.splitlines():
        m = re.search(r"ACME01407: (\S+): (\S+) gets no certificate from mod_acme: (.*)", line)
        if m:
            skipped[m.group(2)] = (m.group(1), m.group(3))
    expect = {excl_alias: "excluded by 'AcmeAutoDomains on except' (%s)" % where,
              excl_server: "excluded by", excl_vhost: "excluded by",
              "intranet": "does not look public", "db.internal": "does not look public",
              "10.1.2.3": "does not look public", "localhost": "does not look public",
              "other." + hand: "left out of its HTTPS twin"}
    for name, why in expect.items():
        assert name in skipped and skipped[name][1].startswith(why), (name, out)
    assert skipped[excl_alias][0] == "%s:%d" % (httpd.conf_path,
                                               httpd.line_of("ServerName " + site) - 1), out
    for name in (site, "www." + site, shown, hand, typo):
        assert name not in skipped, (name, out)

    section = https_section(dump_vhosts(httpd), httpd.https_port)
    for name in (site, shown, hand):
        assert name in section, section
    for name in (excl_alias, excl_server, excl_vhost, "intranet", "db.internal",
                 "other." + hand):
        assert name not in section, section

    httpd.start()
    certs = {n: httpd.wait_for_pebble_cert(n, ISSUE_TIMEOUT) for n in (site, shown, hand)}
    assert cert_names(certs[site]) == {site, "www." + site}, cert_names(certs[site])
    assert cert_names(certs[shown]) == {shown}, cert_names(certs[shown])
    assert cert_names(certs[hand]) == {hand}, cert_names(certs[hand])
    assert httpd.verified_cert("www." + site).serial_number == certs[site].serial_number
    status, _, body = httpd.https_request(shown, "/index.html", verify=True)
    assert status == 200 and b"plain docroot" in body, (status, body[:300])

    # every name left out: never a certificate that does not hold it
    for name in (excl_alias, excl_server, excl_vhost, "intranet", "db.internal",
                 "other." + hand):
        got = handshake_outcome(httpd, name)
        assert isinstance(got, str) and "UNRECOGNIZED_NAME" in got.upper(), (name, got)
    code, text = openssl_sni(httpd, excl_alias)
    assert code != 0 and "unrecognized name" in text.lower(), text
    code, text = openssl_sni(httpd, "www." + site)
    assert code == 0 and "unrecognized" not in text.lower(), text
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--cacert", httpd.pebble.root_pem,
                        "--resolve", "%s:%d:127.0.0.1" % (excl_alias, httpd.https_port),
                        "https://%s:%d/" % (excl_alias, httpd.https_port)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "unrecognized name" in p.stderr.lower(), p.stderr
    # a name nobody left out keeps httpd's way: the address's first vhost answers
    assert not isinstance(handshake_outcome(httpd, public("twin-other")), str)

    log = httpd.error_log_text()
    assert "ACME01408" in log and typo in log, httpd.diagnostics()
    assert re.search(r"ACME01407: \S+: %s gets no certificate" % re.escape(excl_alias), log), \
        httpd.diagnostics()


def test_twin_leaves_out_redirects_to_itself(httpd, unique):
    """A port-80 vhost that already sends its visitors to https (certbot's
    rewrite, a Redirect) gets a twin without those lines: copied, they would
    send every https request to itself. A redirect elsewhere stays."""
    name = unique("loop")
    extra = ("AcmeDomain\n"
             "RewriteEngine on\n"
             "RewriteCond %{{SERVER_NAME}} ={name} [OR]\n"
             "RewriteCond %{{SERVER_NAME}} =www.{name}\n"
             "RewriteRule ^/(index|other)\\.html$ https://%{{SERVER_NAME}}%{{REQUEST_URI}} "
             "[END,NE,R=permanent]\n"
             "Redirect /moved https://www.{name}/index.html\n"
             "Redirect /away https://elsewhere.example.net/x\n").format(name=name)
    httpd.write_config(vhosts=plain_vhost(name, ["www." + name], extra.replace("{", "{{")
                                          .replace("}", "}}")))
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    dropped = [l for l in out.splitlines() if "ACME01410" in l]
    assert len(dropped) == 2, out
    assert any("RewriteRule" in l and "%s:%d" % (httpd.conf_path, httpd.line_of("RewriteRule"))
               in l for l in dropped), out
    assert any("Redirect /moved" in l for l in dropped), out
    assert not any("/away" in l for l in dropped), out
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    for host in (name, "www." + name):
        status, headers, body = httpd.https_request(host, "/index.html", verify=True)
        assert status == 200 and b"plain docroot" in body, (host, status, headers)
    status, headers, _ = httpd.https_request(name, "/moved", verify=True)
    assert status == 404, (status, headers)
    status, headers, _ = httpd.https_request(name, "/away", verify=True)
    assert status == 302 and headers.get("Location") == "https://elsewhere.example.net/x", \
        (status, headers)
    # the port-80 vhost redirects as written
    status, headers, _ = httpd.http_request("/index.html", host=name)
    assert status == 301 and headers.get("Location") == "https://%s/index.html" % name, \
        (status, headers)
    status, headers, _ = httpd.http_request("/moved", host=name)
    assert status == 302 and headers.get("Location") == \
        "https://www.%s/index.html" % name, (status, headers)
    assert "ACME01410" in httpd.error_log_text(), httpd.diagnostics()


def test_debian_layout_acme_conf_as_shipped(httpd):
    """The Debian set-up as README gives it: the shipped acme.conf (its
    directives inside <IfModule acme_module>) with AcmeAgreeToTerms
    uncommented, and a site file with a port-80 vhost only, both pulled in
    by Include: the site is served on https with a verified certificate."""
    name = public("debian")
    shipped = os.path.join(os.path.dirname(__file__), "..", "..", "build", "debian", "acme.conf")
    with open(shipped) as f:
        conf = f.read()
    assert "#AcmeAgreeToTerms on" in conf
    conf = conf.replace("#AcmeAgreeToTerms on", "AcmeAgreeToTerms on")
    mods = os.path.join(httpd.serverroot, "mods-enabled")
    sites = os.path.join(httpd.serverroot, "sites-enabled")
    os.makedirs(mods, exist_ok=True)
    os.makedirs(sites, exist_ok=True)
    with open(os.path.join(mods, "acme.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(sites, "example.conf"), "w") as f:
        f.write(plain_vhost(name, ["www." + name]).format(http_port=httpd.http_port,
                                                           docroot=httpd.docroot))
    httpd.write_config(extra_global="IncludeOptional %s/*.conf" % mods,
                       vhosts="IncludeOptional %s/*.conf\n" % sites,
                       acme={"AcmeAgreeToTerms": None})
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME01406" not in out, out
    section = https_section(dump_vhosts(httpd), httpd.https_port)
    assert name in section and os.path.join(sites, "example.conf") in section, section
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert cert_names(cert) == {name, "www." + name}, cert_names(cert)
    status, _, body = httpd.https_request("www." + name, "/index.html", verify=True)
    assert status == 200 and b"plain docroot" in body, (status, body[:300])


def ssl_uncovered(out):
    """ACME01411 lines: name -> (where, certificate, why, fix)."""
    found = {}
    for line in out.splitlines():
        m = re.search(r"ACME01411: (\S+): (\S+) is a name of this SSL <VirtualHost>, but the "
                      r"certificate mod_acme gets for the vhost \((.*?)\) does not hold it: "
                      r"(.*?)\. A client asking for \S+ is handed that certificate and sees a "
                      r"name mismatch; (.*)", line)
        if m:
            found[m.group(2)] = m.group(1), m.group(3), m.group(4), m.group(5)
    return found


def test_configtest_warns_of_ssl_vhost_names_its_certificate_lacks(httpd):
    """A name on an SSL vhost whose certificate from mod_acme will not hold it
    (excluded with 'except', not public, not in the vhost's AcmeDomain) would
    be served with that certificate: configtest warns with the vhost's
    file:line, why and what to change, instead of saying the name is served
    by an SSL vhost of its own."""
    site, hand, excluded = public("cover-a"), public("cover-h"), public("cover-x")
    vhosts = (ssl_vhost(site, [excluded, "db.internal"], acme_domain="")
              + ssl_vhost(hand, ["www." + hand], acme_domain="AcmeDomain %s" % hand))
    httpd.write_config(vhosts=vhosts, extra_global="AcmeAutoDomains on except %s" % excluded)
    rc, out = httpd.configtest()
    assert rc == 0, out
    found = ssl_uncovered(out)
    assert set(found) == {excluded, "db.internal", "www." + hand}, out
    site_at = "%s:%d" % (httpd.conf_path, httpd.line_of("ServerName " + site) - 1)
    auto_at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeAutoDomains on"))
    where, cert, why, fix = found[excluded]
    assert where == site_at and cert == "'AcmeDomain %s', added by AcmeAutoDomains at %s" \
        % (site, auto_at), found[excluded]
    assert why.startswith("excluded by 'AcmeAutoDomains on except'"), why
    assert fix.startswith("remove it from 'except'"), fix
    where, cert, why, fix = found["db.internal"]
    assert where == site_at and why.startswith("does not look public"), found["db.internal"]
    assert "SSL <VirtualHost> of its own" in fix, fix
    where, cert, why, fix = found["www." + hand]
    assert where == "%s:%d" % (httpd.conf_path, httpd.line_of("ServerName " + hand) - 1), where
    assert cert == "the AcmeDomain at %s:%d" % (httpd.conf_path,
                                                httpd.line_of("AcmeDomain " + hand)), cert
    assert why == "no AcmeDomain of this <VirtualHost> lists it", why
    assert fix.startswith("add it to that AcmeDomain"), fix
    # told once, as a mismatch, not as "served only by an SSL vhost of its own"
    for name in found:
        assert not re.search(r"ACME01407: \S+: %s gets" % re.escape(name), out), (name, out)


def test_site_vhosts_share_one_certificate_and_health_checks_pass(httpd):
    """A site with a port-80 vhost (name and www alias) and an SSL vhost
    written for the name only gets one certificate for both names: the SSL
    vhost serves the name, the port-80 vhost's twin serves www with the same
    certificate, and nobody is told the name gets none. A <VirtualHost *>
    (no port: every port) gets its twin like a port-80 one. localhost, which
    gets no certificate, is still answered over TLS (curl -k health checks)."""
    site, star = public("site"), public("star")
    ssl_root = os.path.join(httpd.serverroot, "ssl-docroot")
    os.makedirs(ssl_root, exist_ok=True)
    with open(os.path.join(ssl_root, "index.html"), "w") as f:
        f.write("hand-written ssl docroot\n")
    hand_ssl = ssl_vhost(site, acme_domain="", extra='DocumentRoot "%s"\n<Directory "%s">\n'
                         '    Require all granted\n</Directory>' % (ssl_root, ssl_root))
    star_vhost = plain_vhost(star).replace("<VirtualHost *:{http_port}>", "<VirtualHost *>")
    httpd.write_config(vhosts=plain_vhost(site, ["www." + site]) + hand_ssl + star_vhost,
                       extra_global="AcmeAutoDomains on")
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    for name in (site, "www." + site, star):
        assert not re.search(r"ACME01407: \S+: %s gets" % re.escape(name), out), (name, out)
    assert re.search(r"ACME01407: \S+: localhost gets no certificate .* the first SSL "
                     r"<VirtualHost> of the address answers it", out), out
    section = https_section(dump_vhosts(httpd), httpd.https_port)
    # the twin carries www only (the SSL vhost serves the name), not twice
    assert section.count("www." + site) == 1 and star in section, section

    httpd.start()
    cert = httpd.wait_for_pebble_cert("www." + site, ISSUE_TIMEOUT)
    assert cert_names(cert) == {site, "www." + site}, cert_names(cert)
    assert httpd.verified_cert(site).serial_number == cert.serial_number
    status, _, body = httpd.https_request(site, "/index.html", verify=True)
    assert status == 200 and b"hand-written ssl docroot" in body, (status, body[:300])
    status, _, body = httpd.https_request("www." + site, "/index.html", verify=True)
    assert status == 200 and b"plain docroot" in body, (status, body[:300])
    assert cert_names(httpd.wait_for_pebble_cert(star, ISSUE_TIMEOUT)) == {star}
    status, _, body = httpd.https_request(star, "/index.html", verify=True)
    assert status == 200 and b"plain docroot" in body, (status, body[:300])
    managed = {d["name"] for d in httpd.status()["domains"]}
    assert managed == {site, star}, managed

    assert not isinstance(handshake_outcome(httpd, "localhost"), str)
    p = subprocess.run(["curl", "-k", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                        "https://localhost:%d/index.html" % httpd.https_port],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0 and p.stdout == "200", (p.returncode, p.stdout, p.stderr)


def test_except_takes_wildcards(httpd):
    """'except *.zone' leaves out every name one label below zone, as a
    certificate wildcard matches, and neither zone itself nor deeper names."""
    zone = public("wild")
    vhosts = plain_vhost("a." + zone, ["b." + zone, zone, "c.d." + zone])
    httpd.write_config(vhosts=vhosts, extra_global="AcmeAutoDomains on except *.%s" % zone)
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME01408" not in out, out
    for name in ("a." + zone, "b." + zone):
        assert re.search(r"ACME01407: \S+: %s gets no certificate from mod_acme: excluded by "
                         r"'AcmeAutoDomains on except'" % re.escape(name), out), (name, out)
    for name in (zone, "c.d." + zone):
        assert not re.search(r"ACME01407: \S+: %s gets" % re.escape(name), out), (name, out)
    # the twin's ServerName: a.zone is left out, zone stands in
    section = https_section(dump_vhosts(httpd), httpd.https_port)
    assert zone in section and "a." + zone not in section, section


def elsewhere_notes(out):
    """ACME01412 lines: name -> (where, why)."""
    found = {}
    for line in out.splitlines():
        m = re.search(r"ACME01412: (\S+): (\S+) is left out of this <VirtualHost>'s HTTPS twin, "
                      r"and it does get a certificate: (.*?)\. Over https", line)
        if m:
            found[m.group(2)] = m.group(1), m.group(3)
    return found


def test_a_name_on_several_port80_vhosts_is_not_said_to_get_no_certificate(httpd):
    """A name on several port-80 vhosts (ServerName of one, ServerAlias of
    another; alias of both; in an AcmeDomain written in one and added by
    AcmeAutoDomains to the other; in one written AcmeDomain and left out of
    another's) gets its certificate with the first vhost's twin: configtest
    says so for the other vhost, with both places and which certificate,
    and never that the name gets no certificate. Each name is served with a
    certificate that holds it."""
    a1, b1 = public("dup-a1"), public("dup-b1")          # a1: ServerName of A1, alias of B1
    a2, b2, z2 = public("dup-a2"), public("dup-b2"), public("dup-z2")   # z2: alias of both
    a3, b3 = public("dup-a3"), public("dup-b3")          # a3: AcmeDomain written in A3
    a4, b4 = public("dup-a4"), public("dup-b4")          # no AcmeAutoDomains for these
    vhosts = (plain_vhost(a1) + plain_vhost(b1, [a1])
              + plain_vhost(a2, [z2]) + plain_vhost(b2, [z2])
              + plain_vhost(a3, extra="AcmeDomain %s" % a3) + plain_vhost(b3, [a3])
              + plain_vhost(a4, extra="AcmeDomain") + plain_vhost(b4, [a4], "AcmeDomain %s" % b4))
    httpd.write_config(vhosts=vhosts, extra_global="AcmeAutoDomains on")
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    for name in (a1, z2, a3, a4):
        assert not re.search(r"ACME01407: \S+: %s gets" % re.escape(name), out), (name, out)
    notes = elsewhere_notes(out)
    assert set(notes) == {a1, z2, a3, a4}, out
    auto_at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeAutoDomains on"))

    def vhost_at(server_name):
        return "%s:%d" % (httpd.conf_path, httpd.line_of("ServerName " + server_name) - 1)

    for name, owner, other, cert in (
            (a1, a1, b1, "'AcmeDomain %s', added by AcmeAutoDomains at %s" % (a1, auto_at)),
            (z2, a2, b2, "'AcmeDomain %s %s', added by AcmeAutoDomains at %s"
             % (a2, z2, auto_at)),
            (a3, a3, b3, "the AcmeDomain at %s:%d" % (httpd.conf_path,
                                                     httpd.line_of("AcmeDomain " + a3))),
            (a4, a4, b4, "the AcmeDomain at %s:%d" % (httpd.conf_path,
                                                     httpd.line_of("ServerName " + a4) + 2))):
        where, why = notes[name]
        assert where == vhost_at(other), (name, where, out)
        assert why == ("<VirtualHost *:%d> at %s has it too, and its HTTPS twin "
                       "<VirtualHost *:%d> serves it with %s"
                       % (httpd.http_port, vhost_at(owner), httpd.https_port, cert)), (name, why)
    line = [l for l in out.splitlines() if "ACME01412" in l and a1 + " is left" in l][0]
    assert "keep %s in one <VirtualHost> only" % a1 in line, line

    httpd.start()
    for name, holder in ((a1, a1), (b1, b1), (z2, a2), (b2, b2), (a3, a3), (b3, b3),
                         (a4, a4), (b4, b4)):
        cert = httpd.wait_for_pebble_cert(holder, ISSUE_TIMEOUT)
        assert name in cert_names(cert), (name, cert_names(cert))
        assert httpd.verified_cert(name).serial_number == cert.serial_number, name
    log = httpd.error_log_text()
    assert "ACME01412" in log, httpd.diagnostics()
    assert not re.search(r"ACME01407: \S+: %s gets" % re.escape(a1), log), httpd.diagnostics()
    # a twin AcmeAutoDomains made is said to be its, with how to leave a name out;
    # one for an AcmeDomain written by hand says "has AcmeDomain"
    auto_twin = [l for l in log.splitlines() if "ACME01413" in l and vhost_at(b1) in l]
    # (each start reads the configuration twice: one line per reading)
    assert auto_twin and all("managed by AcmeAutoDomains (%s)" % auto_at in l and "add it to "
                             "'AcmeAutoDomains on except ...'" in l for l in auto_twin), log
    assert not [l for l in log.splitlines() if "ACME01405" in l and vhost_at(b1) in l], log
    hand_twin = [l for l in log.splitlines() if "ACME01405" in l and vhost_at(a4) in l]
    assert hand_twin and all("has AcmeDomain" in l for l in hand_twin), log


def set_server_name(httpd, old, new):
    """Replaces the server-level 'ServerName old' (the harness writes
    'ServerName localhost') with 'ServerName new', or removes it (new None)."""
    line = "\nServerName %s\n" % old
    assert line in httpd.conf_text
    httpd.conf_text = httpd.conf_text.replace(line, "\nServerName %s\n" % new if new else "\n", 1)
    with open(httpd.conf_path, "w") as f:
        f.write(httpd.conf_text)


NAMELESS_SSL = ("<VirtualHost {addr}:{{https_port}}>\n    DocumentRoot \"{{docroot}}\"\n"
                "    SSLEngine on\n    AcmeDomain{names}\n</VirtualHost>\n")


def test_configtest_says_where_a_nameless_vhost_got_its_name(httpd):
    """An SSL vhost with AcmeDomain and no ServerName takes the name httpd
    gives it: the server-level ServerName (an error when that is no name a
    certificate can hold, a warning when it is), or its address's reverse
    DNS name (an error: nobody wrote it). Each message names the AcmeDomain,
    the <VirtualHost>, where the name came from and the ServerName to add."""
    httpd.write_config(vhosts=NAMELESS_SSL.format(addr="*", names=""))
    rc, out = httpd.configtest()
    assert rc != 0, out
    at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeDomain"))
    vhost_at = "%s:%d" % (httpd.conf_path, httpd.line_of("<VirtualHost *:%d>" % httpd.https_port))
    server_name_at = "%s:%d" % (httpd.conf_path, httpd.line_of("ServerName localhost"))
    line = [l for l in out.splitlines() if "ACME00502" in l]
    assert len(line) == 1, out
    assert line[0].startswith("ACME00502: %s: 'localhost' is not a name a certificate can hold"
                              % at), out
    assert ("the <VirtualHost> at %s has none of its own: httpd gave it the server-level "
            "ServerName at %s; add 'ServerName www.example.org' (the site's name) inside the "
            "<VirtualHost> at %s" % (vhost_at, server_name_at, vhost_at)) in line[0], out

    # a server-level ServerName a certificate can hold: it works, with a warning
    site = public("nameless")
    set_server_name(httpd, "localhost", site)
    rc, out = httpd.configtest()
    assert rc == 0, out
    line = [l for l in out.splitlines() if "ACME00579" in l]
    assert len(line) == 1, out
    assert ("%s: AcmeDomain without names takes its <VirtualHost>'s ServerName, and the "
            "<VirtualHost> at %s has none of its own: its certificate is for '%s', the "
            "server-level ServerName at %s, which httpd gives it; if that is this site's "
            "name, write 'ServerName %s' inside the <VirtualHost> at %s"
            % (at, vhost_at, site, server_name_at, site, vhost_at)) in line[0], out

    # no server-level ServerName: the machine's name, which nobody wrote for the site
    set_server_name(httpd, site, None)
    rc, out = httpd.configtest()
    assert rc != 0, out
    at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeDomain"))
    vhost_at = "%s:%d" % (httpd.conf_path, httpd.line_of("<VirtualHost *:%d>" % httpd.https_port))
    assert ("ACME00578: %s: AcmeDomain without names takes its <VirtualHost>'s ServerName, and "
            "the <VirtualHost> at %s has none of its own: httpd named it '" % (at, vhost_at)) \
        in out, out
    assert ("after the machine's host name or address (there is no server-level ServerName), a "
            "name nobody "
            "wrote for this site; add 'ServerName www.example.org' (the site's name) inside the "
            "<VirtualHost> at %s" % vhost_at) in out, out

    # on an address of its own: the reverse DNS name of the address
    httpd.write_config(vhosts=NAMELESS_SSL.format(addr="127.0.0.1", names=""))
    rc, out = httpd.configtest()
    assert rc != 0, out
    at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeDomain"))
    vhost_at = "%s:%d" % (httpd.conf_path, httpd.line_of("<VirtualHost 127.0.0.1:"))
    m = re.search(r"ACME00578: %s: AcmeDomain without names takes its <VirtualHost>'s "
                  r"ServerName, and the <VirtualHost> at %s has none of its own: httpd named it "
                  r"'[^']+' after (the reverse DNS name of its address 127\.0\.0\.1|its address "
                  r"127\.0\.0\.1, for which no reverse DNS name was found), a name nobody wrote "
                  r"for this site; add 'ServerName www\.example\.org' \(the site's name\) inside "
                  r"the <VirtualHost> at %s, or list the names after AcmeDomain"
                  % (re.escape(at), re.escape(vhost_at), re.escape(vhost_at)), out)
    assert m, out


def test_configtest_names_the_servername_an_address_only_ssl_vhost_lacks(httpd):
    """An SSL vhost addressed only by IP (no ServerName) whose AcmeDomain
    lists names: mod_ssl would never pick it by those names, so configtest
    fails naming the vhost, the name httpd gave it and the ServerName to add,
    not "add a <VirtualHost>". An AcmeDomain of the address itself needs none."""
    site = public("iponly")
    httpd.write_config(vhosts=NAMELESS_SSL.format(addr="127.0.0.1",
                                                  names=" %s www.%s" % (site, site)))
    rc, out = httpd.configtest()
    assert rc != 0, out
    at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeDomain"))
    vhost_at = "%s:%d" % (httpd.conf_path, httpd.line_of("<VirtualHost 127.0.0.1:"))
    line = [l for l in out.splitlines() if "ACME00580" in l]
    assert len(line) == 1 and "ACME00531" not in out, out
    assert line[0].startswith("ACME00580: %s: the SSL <VirtualHost> at %s with this AcmeDomain "
                              "has no ServerName of its own (httpd named it '" % (at, vhost_at)), out
    assert "neither that name nor a ServerAlias of it is %s, www.%s" % (site, site) in line[0], out
    assert line[0].endswith("add 'ServerName %s' inside the <VirtualHost> at %s (and "
                            "'ServerAlias' with its other names)" % (site, vhost_at)), out

    httpd.write_config(vhosts=NAMELESS_SSL.format(addr="127.0.0.1", names=" 127.0.0.1"))
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME00580" not in out and "ACME00578" not in out, out

    # a port-80 vhost without ServerName: its HTTPS twin needs the name in it
    httpd.write_config(vhosts="<VirtualHost *:{http_port}>\n    DocumentRoot \"{docroot}\"\n"
                       "    AcmeDomain %s\n</VirtualHost>\n" % site)
    rc, out = httpd.configtest()
    assert rc != 0, out
    at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeDomain " + site))
    vhost_at = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeDomain " + site) - 2)
    line = [l for l in out.splitlines() if "ACME00580" in l]
    assert len(line) == 1 and "ACME00531" not in out, out
    assert line[0].startswith("ACME00580: %s: the <VirtualHost> at %s with this AcmeDomain has "
                              "no ServerName of its own (httpd named it 'localhost' after the "
                              "server-level ServerName at %s:%d)"
                              % (at, vhost_at, httpd.conf_path,
                                 httpd.line_of("ServerName localhost"))), out
    assert "mod_acme adds the HTTPS twin of a port-80 vhost for the names it carries" in line[0]
    assert line[0].endswith("add 'ServerName %s' inside the <VirtualHost> at %s (and "
                            "'ServerAlias' with its other names)" % (site, vhost_at)), out


def test_configtest_refuses_a_second_auto_domains(httpd):
    """A second AcmeAutoDomains would silently replace the first (Debian's
    acme.conf already has one): configtest names both lines and the one line
    that means both, 'except' lists joined."""
    a, b = public("except-a"), public("except-b")
    httpd.write_config(extra_global="AcmeAutoDomains on except %s\nAcmeAutoDomains on except "
                       "%s %s" % (a, b, a))
    rc, out = httpd.configtest()
    assert rc != 0, out
    first = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeAutoDomains on except %s" % a))
    second = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeAutoDomains on except %s" % b))
    assert ("ACME01600: AcmeAutoDomains at %s repeats the one at %s, and only one can count: "
            "the second would replace the first without a word; keep one line, "
            "'AcmeAutoDomains on except %s %s', and remove the other" % (second, first, a, b)) \
        in out, out
    httpd.write_config(extra_global="AcmeAutoDomains on\nAcmeAutoDomains off")
    rc, out = httpd.configtest()
    assert rc != 0, out
    assert ("repeats the one at %s:%d" % (httpd.conf_path, httpd.line_of("AcmeAutoDomains on"))
            in out and "keep the one you mean (on or off) and remove the other" in out), out


def test_a_name_under_another_vhosts_wildcard_is_not_said_to_get_no_certificate(httpd):
    """A port-80 vhost's name that another port-80 vhost's wildcard covers
    (AcmeDomain *.zone, dns-01) gets its certificate with that vhost's twin:
    configtest says so, with both places, instead of 'gets no certificate'."""
    zone, other = public("wild-zone"), public("wild-other")
    dns = "AcmeChallenges http-01 dns-01\nAcmeDnsCmd /bin/true"
    vhosts = (plain_vhost("w." + zone, ["*." + zone], "AcmeDomain w.%s *.%s\n%s" % (zone, zone, dns))
              + plain_vhost(other, ["a." + zone], "AcmeDomain %s" % other))
    httpd.write_config(vhosts=vhosts)
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert not re.search(r"ACME01407: \S+: a\.%s gets" % re.escape(zone), out), out
    notes = elsewhere_notes(out)
    assert set(notes) == {"a." + zone}, out
    where, why = notes["a." + zone]
    assert where == "%s:%d" % (httpd.conf_path, httpd.line_of("ServerName " + other) - 1), out
    assert why == ("<VirtualHost *:%d> at %s:%d has it too, and its HTTPS twin <VirtualHost *:%d> "
                   "serves it with the AcmeDomain at %s:%d"
                   % (httpd.http_port, httpd.conf_path, httpd.line_of("ServerName w." + zone) - 1,
                      httpd.https_port, httpd.conf_path, httpd.line_of("AcmeDomain w." + zone))), why


def test_except_typo_is_warned_once_per_start(httpd):
    """The warning about an 'except' name no <VirtualHost> has (ACME01408)
    comes once from configtest, once per start and once per graceful restart,
    not once per configuration pass."""
    site, typo = public("once"), public("typo-once")
    httpd.write_config(vhosts=plain_vhost(site),
                       extra_global="AcmeAutoDomains on except %s" % typo)
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0 and len([l for l in out.splitlines() if "ACME01408" in l]) == 1, out

    def counts():
        lines = httpd.error_log_text().splitlines()
        # AH00489: a generation configured (start, each graceful restart,
        # mod_acme's own after it activates the certificate)
        return (len([l for l in lines if "ACME01408" in l and typo in l]),
                len([l for l in lines if "AH00489" in l]))
    httpd.start()
    time.sleep(1)
    warned, generations = counts()
    assert generations >= 1 and warned == generations, httpd.diagnostics()
    httpd.graceful()
    time.sleep(1)
    warned, after = counts()
    assert after > generations and warned == after, httpd.diagnostics()


@pytest.mark.parametrize("first,second", [("explicit", "explicit"), ("bare", "bare"),
                                          ("bare", "explicit")])
def test_a_name_in_two_acme_domains_names_the_lines_to_change(httpd, first, second):
    """ACME00523 names both AcmeDomain lines, and for an AcmeDomain without
    names (it takes its vhost's ServerName and ServerAlias) the <VirtualHost>
    whose ServerAlias to change, not an AcmeDomain that lists nothing."""
    a, b, shared = public("one"), public("two"), public("shared")

    def acme_domain(kind, own):
        return "AcmeDomain" if kind == "bare" else "AcmeDomain %s %s" % (own, shared)

    httpd.write_config(vhosts=plain_vhost(a, [shared], extra=acme_domain(first, a))
                       + plain_vhost(b, [shared], extra=acme_domain(second, b)))
    rc, out = httpd.configtest()
    assert rc != 0, out
    line_a = httpd.line_of("ServerName %s" % a)
    line_b = httpd.line_of("ServerName %s" % b)
    at_a, at_b = ["%s:%d" % (httpd.conf_path, n + 3) for n in (line_a, line_b)]
    # either line may be the one reported: httpd's list of vhosts is not in file order
    assert ("ACME00523: %s: %s" % (at_a, shared) in out and at_b in out) \
        or ("ACME00523: %s: %s" % (at_b, shared) in out and at_a in out), out
    if first == second == "explicit":
        assert "remove it from one of them" in out, out
        assert "ServerAlias" not in out, out
        return
    if second == "bare":
        assert "<VirtualHost> at %s:%d" % (httpd.conf_path, line_b - 1) in out, out
    assert "<VirtualHost> at %s:%d" % (httpd.conf_path, line_a - 1) in out, out
    if first == second:
        assert "remove it from the ServerAlias of one of the two <VirtualHost>s" in out, out
    else:
        assert "remove it from the AcmeDomain that lists it" in out, out
