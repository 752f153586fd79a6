"""AcmeCluster's directives at configtest (`apache2 -t`, no Redis needed):
a directive given twice, a URL that does not parse, a key file httpd's
User could read or anyone could replace: each fails naming the file and
line, the value (its password masked), what is wrong and the fix."""
import os
import pwd
import re
import shutil

from cluster import key_file
from harness import HTTPD_USER, free_port, make_tree, ssl_vhost


def at(h, fragment, nth=0):
    """file:line of the nth line of the configuration that holds fragment."""
    with open(h.conf_path) as f:
        lines = [i + 1 for i, l in enumerate(f.read().splitlines()) if fragment in l]
    return "%s:%d" % (h.conf_path, lines[nth])


def fails(h, words, absent=()):
    rc, out = h.configtest()
    assert rc != 0, "configtest passed:\n%s" % out
    for w in words:
        assert w in out, (w, out)
    for w in absent:
        assert w not in out, (w, out)
    return out


def test_cluster_directive_twice(httpd, unique):
    """A second AcmeCluster, AcmeClusterKeyFile or AcmeClusterCACertificateFile
    line would silently replace the first: configtest names both lines."""
    name = unique("twice")
    d = httpd.serverroot
    key, other = key_file(d), key_file(make_tree("it-cluster-key2-"))
    url = "redis://127.0.0.1:%d" % free_port()
    cases = [
        ("AcmeCluster", "AcmeCluster %s\nAcmeCluster redis://127.0.0.1:%d\n"
                        "AcmeClusterKeyFile %s" % (url, free_port(), key),
         ["keep the one with the URL"]),
        ("AcmeClusterKeyFile", "AcmeCluster %s\nAcmeClusterKeyFile %s\nAcmeClusterKeyFile %s"
                               % (url, key, other),
         ["'AcmeClusterKeyFile NEW OLD'"]),
        ("AcmeClusterCACertificateFile",
         "AcmeCluster rediss://127.0.0.1:%d\nAcmeClusterKeyFile %s\n"
         "AcmeClusterCACertificateFile %s\nAcmeClusterCACertificateFile %s"
         % (free_port(), key, httpd.ca_file, httpd.ca_file),
         ["one PEM file may hold several CA certificates"]),
    ]
    for directive, lines, fix in cases:
        httpd.write_config(vhosts=ssl_vhost(name), extra_global=lines)
        first, second = at(httpd, directive + " "), at(httpd, directive + " ", 1)
        fails(httpd, ["ACME01600", "%s at %s repeats the one at %s" % (directive, second, first)]
              + fix)


def test_cluster_url_errors_echo_the_value(httpd, unique):
    """Every URL error names the value as written, with its password masked."""
    name = unique("url")
    key = key_file(httpd.serverroot)
    for url, shown, why in [
            ("redis://:s3cret@127.0.0.1:99999/0", "'redis://:***@127.0.0.1:99999/0'", "99999"),
            ("http://user:s3cret@10.0.0.5:6379", "'http://user:***@10.0.0.5:6379'",
             "must start with redis://"),
            ("redis://s3cret@127.0.0.1:6379", "'redis://***@127.0.0.1:6379'", "user:password@"),
            ("redis://:pa/s3cret@127.0.0.1:6379", "'redis://:***@127.0.0.1:6379'", "write e.g."),
            ("redis-sentinel://10.0.0.5:26379", "'redis-sentinel://10.0.0.5:26379'", "master")]:
        httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCluster": url,
                                                         "AcmeClusterKeyFile": key})
        out = fails(httpd, ["ACME01000: AcmeCluster " + shown, why], absent=["s3cret"])
        assert re.search(r"line %d of %s" % (httpd.line_of("AcmeCluster "),
                                             re.escape(httpd.conf_path)), out), out
    # The check of the combination names the value too (masked).
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCluster": "redis://:s3cret@h:6379"})
    fails(httpd, ["ACME01003", "AcmeCluster redis://:***@h:6379 needs AcmeClusterKeyFile"],
          absent=["s3cret"])


def test_cluster_key_file_custody(httpd, unique):
    """A key file owned by httpd's User (the children and the site's scripts
    could read it), or in a directory others can write without the sticky
    bit (anyone could swap it), fails configtest with the fix; root's file in
    root's directory, or under a sticky one, passes."""
    name = unique("custody")
    url = "redis://127.0.0.1:%d" % free_port()
    d = make_tree("it-cluster-custody-")
    key = key_file(d)

    def config(path, previous=None):
        httpd.write_config(vhosts=ssl_vhost(name), acme={
            "AcmeCluster": url,
            "AcmeClusterKeyFile": path + (" " + previous if previous else "")})
        return at(httpd, "AcmeClusterKeyFile")

    config(key)
    rc, out = httpd.configtest()
    assert rc == 0, out
    user = pwd.getpwnam(HTTPD_USER)
    os.chown(key, user.pw_uid, user.pw_gid)
    where = config(key)
    fails(httpd, ["ACME01070: %s" % where, "owned by %s, the User" % HTTPD_USER,
                  "chown root %s" % key])
    os.chown(key, 0, 0)
    # The key being replaced (the second file) is held to the same rule.
    old = key_file(make_tree("it-cluster-custody-old-"))
    os.chown(old, user.pw_uid, user.pw_gid)
    config(key, old)
    fails(httpd, ["ACME01070", "chown root %s" % old])
    shutil.rmtree(os.path.dirname(old))
    # A directory everyone can write, without the sticky bit.
    os.chmod(d, 0o777)
    where = config(key)
    fails(httpd, ["ACME01070: %s" % where, "its directory %s has mode 0777" % d,
                  "chmod go-w %s" % d])
    # A directory above it counts too.
    sub = os.path.join(d, "sub")
    os.mkdir(sub, 0o700)
    deep = key_file(sub)
    config(deep)
    fails(httpd, ["ACME01070", "its directory %s has mode 0777" % d])
    # The sticky bit (as /tmp has): only the owner may rename over it.
    os.chmod(d, 0o1777)
    config(deep)
    rc, out = httpd.configtest()
    assert rc == 0, out
    # A directory owned by the User.
    os.chown(sub, user.pw_uid, user.pw_gid)
    config(deep)
    fails(httpd, ["ACME01070", "its directory %s is owned by uid %d" % (sub, user.pw_uid),
                  "chown root %s" % sub])
    shutil.rmtree(d)
