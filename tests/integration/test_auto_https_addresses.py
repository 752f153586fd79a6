"""HTTPS twins of port-80 <VirtualHost>s on several addresses (configtest
only): a name two port-80 vhosts share is served over https by one twin,
and configtest says so right for where each twin is. httpd looks a name
up among the vhosts of the connection's address only (those on the address
itself, else those on *), so:

- the other twin is on every address of this vhost: it answers the name
  there over https (notice ACME01412, nothing to change);
- it lacks one of them: there a client gets another certificate
  (warning ACME01414, naming the addresses, the <VirtualHost> line that
  would put the twin there, and where it is);
- a twin on an address no Listen of the https port takes is unreachable
  there (warning ACME01415, with the Listen line to add)."""
import re

from test_auto_https import elsewhere_notes, public


def vhost(addrs, name, aliases=(), domain="AcmeDomain"):
    lines = ["<VirtualHost %s>" % " ".join(addrs), "    ServerName %s" % name]
    if aliases:
        lines.append("    ServerAlias %s" % " ".join(aliases))
    lines += ['    DocumentRoot "{docroot}"', "    " + domain, "</VirtualHost>"]
    return "\n".join(lines) + "\n"


def http(ip):
    return "%s:{http_port}" % ip


def at(httpd, fragment, delta=0):
    return "%s:%d" % (httpd.conf_path, httpd.line_of(fragment) + delta)


def only_line(out, tag):
    """The one line of out with tag in it."""
    lines = [l for l in out.splitlines() if tag in l]
    assert len(lines) == 1, out
    return lines[0]


def apart_notes(out):
    """ACME01414 lines: name -> (where, the whole line)."""
    found = {}
    for line in out.splitlines():
        m = re.search(r"ACME01414: (\S+): (\S+) is left out of this <VirtualHost>'s HTTPS twin",
                      line)
        if m:
            found[m.group(2)] = m.group(1), line
    return found


def test_a_name_two_port80_vhosts_share_across_addresses(httpd):
    a, b = public("addr-a"), public("addr-b")      # A on .1 and .2; B on .2, alias a
    c, d = public("addr-c"), public("addr-d")      # C on .1; D on .1 and .3, alias c
    e, f = public("addr-e"), public("addr-f")      # E on *; F on .4, alias e
    g, h = public("addr-g"), public("addr-h")      # G on .5; H on *, alias g
    vhosts = (vhost([http("127.0.0.1"), http("127.0.0.2")], a)
              + vhost([http("127.0.0.2")], b, [a], "AcmeDomain %s" % b)
              + vhost([http("127.0.0.1")], c)
              + vhost([http("127.0.0.1"), http("127.0.0.3")], d, [c], "AcmeDomain %s" % d)
              + vhost([http("*")], e)
              + vhost([http("127.0.0.4")], f, [e], "AcmeDomain %s" % f)
              + vhost([http("127.0.0.5")], g)
              + vhost([http("*")], h, [g], "AcmeDomain %s" % h))
    # every address listened to on both ports: only the names are in question here
    listen = "\n".join("Listen 127.0.0.%d:{http_port}\nListen 127.0.0.%d:{https_port}" % (i, i)
                       for i in range(2, 6))
    httpd.write_config(vhosts=vhosts, extra_global=listen)
    rc, out = httpd.configtest()
    assert rc == 0, out
    P, S = httpd.http_port, httpd.https_port

    def vhost_at(name):
        return at(httpd, "ServerName " + name, -1)

    def domain_at(name):
        return at(httpd, "ServerName " + name, +2)

    # B's twin leaves a out; A's twin is on B's address too and answers it there
    notes = elsewhere_notes(out)
    assert set(notes) == {a}, out
    assert notes[a] == (vhost_at(b), "<VirtualHost 127.0.0.1:%d 127.0.0.2:%d> at %s has it too, "
                        "and its HTTPS twin <VirtualHost 127.0.0.1:%d 127.0.0.2:%d> serves it "
                        "with the AcmeDomain at %s" % (P, P, vhost_at(a), S, S, domain_at(a))), \
        out
    line = only_line(out, "ACME01412")
    assert "Over https that vhost answers every request for %s" % a in line, line
    assert "keep %s in one <VirtualHost> only" % a in line, line

    # the other three: the twin that serves the name lacks an address of the vhost
    apart = apart_notes(out)
    assert set(apart) == {c, e, g}, out
    for name, other, owner, lacking, owner_addrs in (
            (c, d, c, ["127.0.0.3:%d" % P], ["127.0.0.1:%d" % P]),
            (e, f, e, ["127.0.0.4:%d" % P], ["*:%d" % P]),
            (g, h, g, ["*:%d" % P], ["127.0.0.5:%d" % P])):
        where, line = apart[name]
        assert where == vhost_at(other), (name, line)
        https_lacking = " ".join(x.replace(":%d" % P, ":%d" % S) for x in lacking)
        twin = " ".join(x.replace(":%d" % P, ":%d" % S) for x in owner_addrs)
        assert ("as another twin serves it: <VirtualHost %s> at %s has it too, and its HTTPS "
                "twin <VirtualHost %s> serves it with the AcmeDomain at %s, but not on %s. "
                % (" ".join(owner_addrs), vhost_at(owner), twin, domain_at(owner),
                   https_lacking)) in line, (name, line)
        assert ("There a client asking for %s over https is handed the certificate of the "
                "address's first SSL <VirtualHost>, which does not hold it" % name) in line, line
        # the exact line to write, and where
        assert ("write '<VirtualHost %s %s>' in place of '<VirtualHost %s>' at %s, or keep %s "
                "in one <VirtualHost> only" % (" ".join(owner_addrs), " ".join(lacking),
                                               " ".join(owner_addrs), vhost_at(owner), name)) \
            in line, (name, line)
    # nobody is told that these names get no certificate, and every address is listened to
    for name in (a, c, e, g):
        assert not re.search(r"ACME01407: \S+: %s gets" % re.escape(name), out), (name, out)
    assert "ACME01415" not in out, out


def test_a_twin_on_an_address_no_https_listen_takes(httpd):
    """<VirtualHost 127.0.0.1:80 127.0.0.2:80> with Listen 443 only on
    127.0.0.1: its twin is on both addresses, reachable on one."""
    name = public("addr-listen")
    httpd.write_config(vhosts=vhost([http("127.0.0.1"), http("127.0.0.2")], name),
                       extra_global="Listen 127.0.0.2:{http_port}")
    rc, out = httpd.configtest()
    assert rc == 0, out
    P, S = httpd.http_port, httpd.https_port
    line = only_line(out, "ACME01415")
    assert ("ACME01415: %s: mod_acme adds the HTTPS twin <VirtualHost 127.0.0.1:%d "
            "127.0.0.2:%d> of <VirtualHost 127.0.0.1:%d 127.0.0.2:%d> (%s), but no Listen takes "
            "connections at 127.0.0.2:%d, so no client reaches it there while this <VirtualHost> "
            "answers http there; add 'Listen 127.0.0.2:%d' next to 'Listen 127.0.0.1:%d' at %s"
            % (at(httpd, "ServerName " + name, -1), S, S, P, P, name, S, S, S,
               at(httpd, "Listen 127.0.0.1:%d" % S))) in line, line
    # a Listen on every address of the port takes both
    httpd.write_config(vhosts=vhost([http("127.0.0.1"), http("127.0.0.2")], name),
                       extra_global="Listen 127.0.0.2:{http_port}")
    httpd.conf_text = httpd.conf_text.replace("Listen 127.0.0.1:%d\n" % S, "Listen %d\n" % S)
    with open(httpd.conf_path, "w") as f:
        f.write(httpd.conf_text)
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME01415" not in out, out
    # so does one on the missing address
    httpd.write_config(vhosts=vhost([http("127.0.0.1"), http("127.0.0.2")], name),
                       extra_global="Listen 127.0.0.2:{http_port}\nListen 127.0.0.2:{https_port}")
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME01415" not in out, out


def test_an_address_in_the_serveralias_of_a_port80_vhost(httpd):
    """A port-80 vhost whose ServerAlias holds IP addresses (health checks,
    the bare address): AcmeAutoDomains leaves each address out, saying so,
    and the names get their twin; an AcmeDomain without names there fails
    configtest naming the AcmeDomain line, the <VirtualHost>, the address
    and the ways out (never a DNS name for an address, never a vhost to add
    by name for it)."""
    name = public("addr-alias")
    addrs = ["203.0.113.7", "2001:db8::7", "10.1.2.3"]
    httpd.write_config(vhosts=vhost([http("*")], name, ["www." + name] + addrs, domain=""),
                       extra_global="AcmeAutoDomains on")
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME00531" not in out and "ACME00587" not in out, out
    for ip in addrs:
        line = only_line(out, "ACME01407: %s: %s gets no certificate" % (
            at(httpd, "ServerName " + name, -1), ip))
        assert ("an IP address: AcmeAutoDomains manages DNS names only" in line
                or "does not look public" in line), line

    httpd.write_config(vhosts=vhost([http("*")], name, ["www." + name, addrs[0]]))
    rc, out = httpd.configtest()
    assert rc != 0, out
    line = only_line(out, "ACME00587")
    assert line.startswith(
        "ACME00587: %s: AcmeDomain without names takes every ServerName and ServerAlias of "
        "its <VirtualHost> (at %s), and 'ServerAlias %s' there is an IP address that no SSL "
        "virtual host (port %d) answers" % (at(httpd, "AcmeDomain"), at(httpd, "ServerName " + name, -1),
                                             addrs[0], httpd.https_port)), line
    assert line.endswith(
        "take %s out of that ServerAlias, or list the names after AcmeDomain ('AcmeDomain %s "
        "www.%s'), or, for a certificate of the address, give it a <VirtualHost %s:%d> with "
        "'AcmeDomain %s'" % (addrs[0], name, name, addrs[0], httpd.https_port, addrs[0])), line
    assert "ACME00531" not in out, out
    # IPv6: the <VirtualHost> to write has the address in brackets
    httpd.write_config(vhosts=vhost([http("*")], name, [addrs[1]]))
    rc, out = httpd.configtest()
    assert rc != 0 and "<VirtualHost [%s]:%d>" % (addrs[1], httpd.https_port) in \
        only_line(out, "ACME00587"), out
