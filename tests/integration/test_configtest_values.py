"""configtest on values: AcmeChallenges dns-01 without a hook is reported at
the AcmeChallenges line."""
from harness import ssl_vhost


def at(httpd, fragment):
    return "%s:%d" % (httpd.conf_path, httpd.line_of(fragment))


def fails(httpd, words):
    rc, out = httpd.configtest()
    assert rc != 0, "configtest passed:\n%s\nconfig:\n%s" % (out, httpd.conf_text)
    for w in words:
        assert w in out, "%r not in:\n%s" % (w, out)
    return out


def test_dns01_without_hook_names_the_challenges_line(httpd, unique):
    """AcmeChallenges dns-01 with no AcmeDnsCmd: the message is at the
    AcmeChallenges line, and names the AcmeDomain it applies to; server level
    and <VirtualHost>."""
    name = unique("dns")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeChallenges dns-01"))
    fails(httpd, ["ACME00914: %s: AcmeChallenges allows only dns-01 for the AcmeDomain at %s, "
                  "but no AcmeDnsCmd" % (at(httpd, "AcmeChallenges dns-01"),
                                         at(httpd, "    AcmeDomain"))])
    httpd.write_config(vhosts=ssl_vhost(name), extra_global="AcmeChallenges dns-01")
    fails(httpd, ["ACME00914: %s: AcmeChallenges allows only dns-01 for the AcmeDomain at %s"
                  % (at(httpd, "AcmeChallenges dns-01"), at(httpd, "    AcmeDomain"))])
