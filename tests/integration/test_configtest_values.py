"""configtest on values: a number, share or duration that parses but lies
outside its range says "out of range" with the range; AcmeChallenges dns-01
without a hook is reported at the AcmeChallenges line, and a listed type that
cannot be used while another can is warned about there; a warn window not
inside the renew window is warned about (configtest passes)."""
import pytest

import harness
from harness import configtest_fails, ssl_vhost


def test_dns01_without_hook_names_the_challenges_line(httpd, unique):
    """AcmeChallenges dns-01 with no AcmeDnsCmd: the message is at the
    AcmeChallenges line, and names the AcmeDomain it applies to; server level
    and <VirtualHost>."""
    name = unique("dns")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeChallenges dns-01"))
    configtest_fails(httpd, ["ACME00914: %s: AcmeChallenges allows only dns-01 for the AcmeDomain "
                             "at %s, but no AcmeDnsCmd" % (httpd.where("AcmeChallenges dns-01"),
                                                           httpd.where("    AcmeDomain"))])
    httpd.write_config(vhosts=ssl_vhost(name), extra_global="AcmeChallenges dns-01")
    configtest_fails(httpd, ["ACME00914: %s: AcmeChallenges allows only dns-01 for the AcmeDomain "
                             "at %s" % (httpd.where("AcmeChallenges dns-01"),
                                        httpd.where("    AcmeDomain"))])


def test_unusable_listed_type_is_warned_at_the_challenges_line(httpd, unique):
    """AcmeChallenges dns-01 http-01 without AcmeDnsCmd: http-01 works, so
    configtest passes, with a warning at the AcmeChallenges line that names
    the AcmeDomain and why dns-01 cannot be used; a listed type whose port no
    Listen covers is warned about the same way."""
    name = unique("dnsmix")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeChallenges dns-01 http-01"))
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert ("ACME01606: %s: AcmeChallenges lists a type the AcmeDomain at %s cannot use: dns-01 "
            "needs an AcmeDnsCmd" % (httpd.where("AcmeChallenges dns-01"),
                                     httpd.where("    AcmeDomain"))) in out, out
    assert "add 'AcmeDnsCmd /path/to/hook' for dns-01" in out, out

    http_port = harness.closed_port()
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmePortMap": "http:%d https:%d" % (http_port, httpd.https_port),
        "AcmeChallenges": "http-01 tls-alpn-01"})
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert ("ACME01606: %s: AcmeChallenges lists a type the AcmeDomain at %s cannot use: no "
            "Listen covers port %d, where the CA's http-01 requests arrive"
            % (httpd.where("AcmeChallenges http-01"), httpd.where("    AcmeDomain"),
               http_port)) in out, out


def test_unusable_type_is_warned_once_per_challenges_line(httpd, unique):
    """A server-wide AcmeChallenges dns-01 http-01 without AcmeDnsCmd over
    several AcmeDomain lines: one warning, naming the first AcmeDomain and
    how many more, not one per AcmeDomain (at every restart)."""
    names = [unique("many%d" % i) for i in range(3)]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       extra_global="AcmeChallenges dns-01 http-01")
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert out.count("ACME01606") == 1, out
    assert ("ACME01606: %s: AcmeChallenges lists a type the AcmeDomain at %s (and 2 more "
            "AcmeDomain lines under the same AcmeChallenges) cannot use: dns-01 needs an "
            "AcmeDnsCmd" % (httpd.where("AcmeChallenges dns-01"),
                            httpd.where("    AcmeDomain"))) in out, out


def test_no_usable_type_names_every_reason(httpd, unique):
    """AcmeChallenges dns-01 http-01, no hook and nothing on the http-01
    port: the warning that nothing can be answered names both."""
    name = unique("dnsnone")
    http_port = harness.closed_port()
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmePortMap": "http:%d https:%d" % (http_port, httpd.https_port),
        "AcmeChallenges": "dns-01 http-01"})
    rc, out = httpd.configtest()
    assert "ACME00542: %s: no challenge type for %s can be answered here: dns-01 needs an " \
        "AcmeDnsCmd" % (httpd.where("    AcmeDomain"), name) in out, out
    assert "add 'AcmeDnsCmd /path/to/hook' for dns-01 or 'Listen %d' for http-01" % http_port \
        in out, out
    assert "ACME01606" not in out, out


@pytest.mark.parametrize("line,words", [
    ("AcmeRenewWindow 150%", ["ACME01604: AcmeRenewWindow 150% is out of range; write a share "
                              "of the lifetime left from 1% to 100%"]),
    ("AcmeRenewWindow 0%", ["ACME01604: AcmeRenewWindow 0% is out of range"]),
    ("AcmeWarnWindow 0d", ["ACME01604: AcmeWarnWindow 0d is out of range", "from 1s to 3650d"]),
    ("AcmeWarnWindow 4000d", ["ACME01604: AcmeWarnWindow 4000d is out of range"]),
    ("AcmeRenewWindow soon", ["ACME00520: AcmeRenewWindow 'soon' is not understood"]),
    ("AcmeMaxParallel 0", ["ACME01601: AcmeMaxParallel 0 is out of range", "1 to 100000"]),
    ("AcmeMaxParallel 5 0/1h", ["ACME01602: AcmeMaxParallel: rate '0/1h' is out of range"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_out_of_range_values_say_so(httpd, unique, line, words):
    httpd.write_config(vhosts=ssl_vhost(unique("rng")), extra_global=line)
    out = configtest_fails(httpd, words)
    assert "line %d of %s" % (httpd.line_of(line), httpd.conf_path) in out, out


def test_port_map_out_of_range(httpd, unique):
    httpd.write_config(vhosts=ssl_vhost(unique("pm")), acme={"AcmePortMap": "http:0 https:443"})
    configtest_fails(httpd, ["ACME01603: AcmePortMap 'http:0' is out of range: a port is from 1 "
                             "to 65535"])


def test_warn_window_not_inside_renew_window_is_warned(httpd, unique):
    """AcmeWarnWindow 50% with AcmeRenewWindow 10%: every renewal would be
    warned about before it is attempted. configtest passes with a warning
    naming both lines and a warn window that fits."""
    name = unique("ww")
    httpd.write_config(vhosts=ssl_vhost(name),
                       extra_global="AcmeRenewWindow 10%\nAcmeWarnWindow 50%")
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert ("ACME01605: %s: AcmeWarnWindow 50%% (written there) is not inside AcmeRenewWindow "
            "10%% (%s), for the AcmeDomain at %s" % (httpd.where("AcmeWarnWindow 50%"),
                                                     httpd.where("AcmeRenewWindow 10%"),
                                                     httpd.where("    AcmeDomain"))) in out, out
    assert "write 'AcmeWarnWindow 5%'" in out, out
    # durations compare too; the default warn window (10%) against a renew window of 5%
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeRenewWindow 30d\nAcmeWarnWindow 30d"))
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME01605" in out and "write 'AcmeWarnWindow 15d'" in out, out
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeRenewWindow 5%"))
    rc, out = httpd.configtest()
    assert rc == 0 and "AcmeWarnWindow 10% (the default) is not inside AcmeRenewWindow 5%" \
        in out, out
    # inside: nothing said
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeRenewWindow 30d\nAcmeWarnWindow 7d"))
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME01605" not in out, out


def test_internationalized_name_is_given_in_its_a_label_form(httpd, unique):
    """AcmeDomain with a name beyond ASCII: configtest fails and gives the
    A-label form to write instead (the name as written, Punycode), and idn2
    for names IDNA maps first; before, it only said to write an xn-- form."""
    name = unique("idn")
    httpd.write_config(vhosts=ssl_vhost(name, acme_domain="AcmeDomain b\u00fccher.%s" % name))
    # httpd shows the bytes beyond ASCII escaped: the name to write is ASCII
    configtest_fails(httpd, ["ACME00502: 'b\\xc3\\xbccher.%s' is not a name a certificate can "
                             "hold" % name,
                             "A-label form; write xn--bcher-kva.%s instead" % name,
                             "'idn2 NAME'"])
