"""Every bad value fails `apache2 -t` with the file, the line and what is wrong."""
import os
import pwd
import re

import pytest

from harness import HTTPD_USER, configtest_fails, names_place, ssl_vhost


def any_location_named(out, path):
    return re.search(r"(line \d+ of %s)|(%s:\d+)" % (re.escape(path), re.escape(path)), out)


def test_valid_configuration_passes(httpd, unique):
    """The baseline every failure case below changes one thing in."""
    httpd.write_config(vhosts=ssl_vhost(unique("ok")))
    rc, out = httpd.configtest()
    assert rc == 0, out


# (id, builder) -- builder(httpd, name) writes the config and returns
# (directive line fragment or None, words the message must contain)
def invalid_dns_name(h, name):
    h.write_config(vhosts=ssl_vhost(name, acme_domain="AcmeDomain %s bad..%s" % (name, name)))
    return "AcmeDomain %s bad" % name, ["bad..%s" % name]


def wildcard_http01_only(h, name):
    h.write_config(vhosts=ssl_vhost(name, ["*." + name],
                                    acme_domain="AcmeDomain %s *.%s" % (name, name)),
                   acme={"AcmeChallenges": "http-01"})
    return "AcmeDomain %s" % name, ["*." + name, "dns-01"]


def agree_to_terms_missing(h, name):
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeAgreeToTerms": None})
    return None, ["AcmeAgreeToTerms"]


def unknown_key_type(h, name):
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeKeyType": "ec-p999"})
    return "AcmeKeyType", ["ec-p999", "ec-p256"]


def unknown_challenge_type(h, name):
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeChallenges": "carrier-pigeon-01"})
    return "AcmeChallenges", ["carrier-pigeon-01", "http-01"]


def names_without_ssl_vhost(h, name):
    """Server-level AcmeDomain for a name no SSL vhost has."""
    h.write_config(vhosts=ssl_vhost("served-" + name, acme_domain=""),
                   extra_global="AcmeDomain orphan-%s" % name)
    return "AcmeDomain orphan-", ["orphan-" + name, "ssl"]


def vhost_domain_with_unserved_name(h, name):
    """An SSL vhost's AcmeDomain that adds a name no SSL vhost serves."""
    h.write_config(vhosts=ssl_vhost(name, acme_domain="AcmeDomain %s stray-%s" % (name, name)))
    return "AcmeDomain %s stray-" % name, ["stray-" + name, "ssl"]


def plain_vhost_domain(h, name):
    """AcmeDomain in a vhost without SSL for a name that vhost does not have:
    no SSL vhost serves it, and none can be added for it (a port-80 vhost
    with its own names gets its HTTPS twin: test_auto_https.py)."""
    h.write_config(plain_vhost_extra="AcmeDomain %s" % name)
    return "AcmeDomain %s" % name, [name, "ssl"]


def unreadable_ca_file(h, name):
    path = h.serverroot + "/no-such-dir/ca.pem"
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeCACertificateFile": path})
    return "AcmeCACertificateFile", [path]


def store_dir_owned_by_user(h, name):
    """A store the server's User owns: it could swap its parts for links and
    make root write certificate keys wherever it likes."""
    path = os.path.join(h.serverroot, "userstore-" + name)
    os.mkdir(path, 0o755)
    os.chown(path, pwd.getpwnam(HTTPD_USER).pw_uid, -1)
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeStoreDir": path})
    return "AcmeStoreDir", [path, "owned by", "chown root:root"]


def store_dir_in_user_directory(h, name):
    """A store inside a directory the User may write: the User could rename it away."""
    parent = os.path.join(h.serverroot, "userdir-" + name)
    os.mkdir(parent, 0o755)
    os.chown(parent, pwd.getpwnam(HTTPD_USER).pw_uid, -1)
    path = os.path.join(parent, "store")
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeStoreDir": path})
    return "AcmeStoreDir", [parent, "owned by"]


def store_dir_is_a_file(h, name):
    path = os.path.join(h.serverroot, "afile-" + name)
    with open(path, "w") as f:
        f.write("not a directory\n")
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeStoreDir": path})
    return "AcmeStoreDir", [path, "not a directory"]


def store_dir_on_proc(h, name):
    """A store under /proc: root's, mode 0555, passes every check of owners and
    modes, and cannot be created there (start failed with ACME00605)."""
    path = "/proc/acme-" + name
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeStoreDir": path})
    return "AcmeStoreDir", [path, "cannot open or create the store", "proc file system"]


def pace_rate_in_weeks(h, name):
    """A DURATION unit AcmeMaxParallel does not know: the message lists the
    ones it does and the longest DURATION."""
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeMaxParallel": "10 60/1w"})
    return "AcmeMaxParallel", ["ACME00554", "60/1w", "s, m, h or d", "at most 3650d",
                               "1 to 1000000"]


CASES = [pace_rate_in_weeks, invalid_dns_name, wildcard_http01_only, agree_to_terms_missing, unknown_key_type,
         unknown_challenge_type, names_without_ssl_vhost, vhost_domain_with_unserved_name,
         plain_vhost_domain, unreadable_ca_file, store_dir_owned_by_user,
         store_dir_in_user_directory, store_dir_is_a_file, store_dir_on_proc]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_configtest_rejects(httpd, unique, case):
    name = unique("cfg")
    fragment, words = case(httpd, name)
    out = configtest_fails(httpd, [httpd.conf_path])
    if fragment:
        assert names_place(out, httpd.where(fragment)), \
            "message does not name %s (%r):\n%s" % (httpd.where(fragment), fragment, out)
    else:
        assert any_location_named(out, httpd.conf_path), "message names no line:\n" + out
    low = out.lower()
    missing = [w for w in words if w.lower() not in low]
    assert not missing, "message lacks %s:\n%s" % (missing, out)
    # a failed configtest must not leave a server behind
    assert not httpd.running()


# Every server-level directive, with a value it accepts at server level: in a
# <VirtualHost> it is refused (the vhost's record has no server-level part).
SERVER_LEVEL = [
    "AcmeCA https://ca.example.test/dir",
    "AcmeCACertificateFile /etc/ssl/certs/ca-certificates.crt",
    "AcmeTrustedRootsFile /etc/ssl/certs/ca-certificates.crt",
    "AcmeContact mailto:admin@example.test",
    "AcmeAgreeToTerms on",
    "AcmeStoreDir /var/lib/acme-elsewhere",
    "AcmePortMap http:8080 https:8443",
    "AcmeActivation auto",
    "AcmeMaxParallel 4 10/3h",
    "AcmeNotifyCmd /bin/true",
    "AcmeEAB kid-1 aGVsbG8td29ybGQtaGVsbG8td29ybGQ",
    "AcmeDnsResolver 192.0.2.53",
    "AcmeAutoDomains on",
    "AcmeCluster rediss://127.0.0.1:6380/0",
    "AcmeClusterKeyFile /etc/apache2/acme-cluster.key /etc/apache2/acme-cluster.key.old",
    "AcmeClusterCACertificateFile /etc/ssl/certs/ca-certificates.crt",
]


@pytest.mark.parametrize("line", SERVER_LEVEL, ids=[l.split()[0] for l in SERVER_LEVEL])
def test_server_level_directive_in_vhost_refused(httpd, unique, line):
    """configtest fails at the directive's line, telling to move it out."""
    name = unique("srv")
    httpd.write_config(vhosts=ssl_vhost(name, extra=line))
    out = configtest_fails(httpd, ["outside the <VirtualHost>"])
    # ssl_vhost writes ServerName, DocumentRoot, SSLEngine, then the extra line
    # (some of these lines are also written at server level, earlier)
    assert names_place(out, httpd.where("ServerName %s" % name, below=3)), out
    assert not httpd.running()


def test_second_max_parallel_refused_naming_both_lines(httpd, unique):
    """A second AcmeMaxParallel would replace the first without a word."""
    httpd.write_config(vhosts=ssl_vhost(unique("mp")),
                       extra_global="AcmeMaxParallel 10 60/1m\nAcmeMaxParallel 20")
    out = configtest_fails(httpd, [])
    first = httpd.where("AcmeMaxParallel 10 60/1m")
    second = httpd.where("AcmeMaxParallel 20")
    assert ("ACME01600: AcmeMaxParallel at %s repeats the one at %s, and only one can count"
            % (second, first)) in out, out
    assert not httpd.running()


@pytest.mark.parametrize("where_a,where_b", [("name", "name"), ("name", "alias"),
                                             ("alias", "name")])
def test_a_name_in_two_vhosts_gets_advice_for_the_directives_holding_it(httpd, unique,
                                                                        where_a, where_b):
    """ACME00523 for a name two AcmeDomain lines without names take from
    their <VirtualHost>s: the advice names the directives that hold it. Two
    ServerNames have no ServerAlias to remove it from."""
    a, b, shared = unique("one"), unique("two"), unique("shared")

    def vhost(kind, own):
        return ssl_vhost(shared, [own]) if kind == "name" else ssl_vhost(own, [shared])
    httpd.write_config(vhosts=vhost(where_a, a) + vhost(where_b, b))
    rc, out = httpd.configtest()
    assert rc != 0 and "ACME00523" in out, out
    if where_a == where_b == "name":
        assert "ServerAlias" not in out.split("a name belongs to one certificate only:")[1], out
        assert "it is the ServerName of both <VirtualHost>s" in out, out
    else:
        alias_line = httpd.line_of("ServerAlias %s" % shared)
        assert "remove it from that ServerAlias (at %s:%d's <VirtualHost>)" \
            % (httpd.conf_path, alias_line - 2) in out, (alias_line, out)


@pytest.mark.parametrize("directive", ["ServerName", "ServerAlias"])
def test_a_bad_name_from_the_vhost_is_located_at_its_own_line(httpd, unique, directive):
    """A name no certificate can hold that an AcmeDomain without names took
    from ServerName or ServerAlias: ACME00502 names that line (the one to
    fix), and the AcmeDomain that took it."""
    good, bad = unique("good"), "site_150.%s" % unique("bad")
    vhost = ssl_vhost(bad, [good]) if directive == "ServerName" else ssl_vhost(good, [bad])
    httpd.write_config(vhosts=vhost)
    out = configtest_fails(httpd, ["ACME00502", bad])
    at = "%s:%d" % (httpd.conf_path, httpd.line_of("%s %s" % (directive, bad)))
    acme_domain = "%s:%d" % (httpd.conf_path, httpd.line_of("AcmeDomain"))
    assert "ACME00502: %s: '%s'" % (at, bad) in out, (at, out)
    assert "in this %s; the AcmeDomain at %s" % (directive, acme_domain) in out, out
