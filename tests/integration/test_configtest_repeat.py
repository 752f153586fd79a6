"""A directive that takes one value per context, written twice in the same
context (the server configuration, or one <VirtualHost>), fails configtest
naming both lines and what to keep: httpd would otherwise keep the second
without a word. A <VirtualHost>'s own value overriding the server-level one
is normal."""

import os

import pytest

from harness import configtest_fails, ssl_vhost


def at_nth(httpd, fragment, n):
    lines = [i for i, l in enumerate(httpd.conf_text.splitlines(), 1) if fragment in l]
    return "%s:%d" % (httpd.conf_path, lines[n])


def repeated(directive, second, first):
    return ("ACME01600: %s at %s repeats the one at %s, and only one can count: the second "
            "would " % (directive, second, first))


# (directive as the harness writes it at server level, a second value): the
# second line comes after the harness's own, as a line in httpd.conf does
# after Debian's acme.conf.
SERVER_REPEATS = [
    ("AcmeContact", "AcmeContact other@example.test"),
    ("AcmeAgreeToTerms", "AcmeAgreeToTerms on"),
    ("AcmeStoreDir", "AcmeStoreDir /var/lib/acme-elsewhere"),
    ("AcmeCACertificateFile", "AcmeCACertificateFile /etc/ssl/certs/ca-certificates.crt"),
]


@pytest.mark.parametrize("directive,second", SERVER_REPEATS, ids=[d for d, _ in SERVER_REPEATS])
def test_server_level_repeat_names_both_lines(httpd, unique, directive, second):
    httpd.write_config(vhosts=ssl_vhost(unique("rep")), extra_global=second)
    first_at, second_at = at_nth(httpd, directive + " ", 0), at_nth(httpd, directive + " ", -1)
    assert first_at != second_at
    configtest_fails(httpd, [repeated(directive, second_at, first_at)
                             + "replace the first without a word; keep"])
    assert not httpd.running()


def test_server_level_repeat_across_included_file(httpd, unique):
    """One line in an included file (Debian's mods-enabled/acme.conf), one in
    httpd.conf: both files are named."""
    included = os.path.join(httpd.serverroot, "acme-extra.conf")
    with open(included, "w") as f:
        f.write("# site defaults\nAcmeRenewWindow 30d\nAcmeActivation auto\n")
    httpd.write_config(vhosts=ssl_vhost(unique("inc")),
                       extra_global="Include %s\nAcmeRenewWindow 20d\nAcmeActivation manual"
                       % included)
    out = configtest_fails(httpd, [repeated("AcmeRenewWindow", httpd.where("AcmeRenewWindow 20d"),
                                            "%s:2" % included)
                                   + "replace the first without a word; keep the one you mean "
                                     "and remove the other"])
    assert "ACME01600" in out
    # the next one is found once the first is fixed
    httpd.write_config(vhosts=ssl_vhost(unique("inc")),
                       extra_global="Include %s\nAcmeActivation manual" % included)
    configtest_fails(httpd, [repeated("AcmeActivation", httpd.where("AcmeActivation manual"),
                                      "%s:3" % included)])


def test_list_directive_repeat_offers_the_joined_line(httpd, unique):
    """AcmeKeyType on two lines would add the second type to the first (two
    certificates), which may not be what either line meant."""
    httpd.write_config(vhosts=ssl_vhost(unique("kt")),
                       extra_global="AcmeKeyType ec-p256\nAcmeKeyType rsa-2048")
    configtest_fails(httpd, [repeated("AcmeKeyType", httpd.where("AcmeKeyType rsa-2048"),
                                      httpd.where("AcmeKeyType ec-p256"))
                             + "add to the list of the first without a word; write one line, "
                               "'AcmeKeyType ec-p256 rsa-2048', if you mean all of them"])


def test_vhost_repeat_names_both_lines(httpd, unique):
    """Twice in one <VirtualHost>: refused there, the fix says so."""
    name = unique("vh")
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeRenewWindow 30d\nAcmeProfile a\n"
                                                    "AcmeRenewWindow 20%"))
    configtest_fails(httpd, [repeated("AcmeRenewWindow", httpd.where("AcmeRenewWindow 20%"),
                                      httpd.where("AcmeRenewWindow 30d"))
                             + "replace the first without a word; keep the one you mean and "
                               "remove the other in this <VirtualHost>"])
    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeRequireHttps permanent\n"
                                                    "AcmeRequireHttps off"))
    configtest_fails(httpd, [repeated("AcmeRequireHttps", httpd.where("AcmeRequireHttps off"),
                                      httpd.where("AcmeRequireHttps permanent"))])


def test_vhost_overrides_server_value_and_vhosts_are_separate(httpd, unique):
    """The server-level line and one in each <VirtualHost> are not repeats."""
    a, b = unique("ova"), unique("ovb")
    per_vhost = "AcmeRenewWindow 20d\nAcmeWarnWindow 5d\nAcmeKeyType rsa-2048\nAcmeProfile p"
    httpd.write_config(vhosts=ssl_vhost(a, extra=per_vhost) + ssl_vhost(b, extra=per_vhost),
                       extra_global="AcmeRenewWindow 30d\nAcmeWarnWindow 7d\n"
                                    "AcmeKeyType ec-p256\nAcmeProfile p")
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert "ACME01600" not in out, out
