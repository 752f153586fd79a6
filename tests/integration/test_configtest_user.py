"""configtest checks what the issuing child needs as the identity it runs as,
the server's User (www-data): root can read every file, so a check as root
passes and every attempt fails later. Each failure names the file and line
of the directive, the path, the user and the command that fixes it; a
runtime file error of libcurl names them too."""
import os
import pwd
import shutil

import pytest

from harness import HTTPD_USER, names_place, ssl_vhost, wait_for

HOOK = "#!/bin/sh\nexit 0\n"


def user_ids():
    pw = pwd.getpwnam(HTTPD_USER)
    return pw.pw_uid, pw.pw_gid


def copy_ca(h, path, mode):
    shutil.copyfile(h.ca_file, path)
    os.chmod(path, mode)
    return path


def write_hook(h, path, mode):
    with open(path, "w") as f:
        f.write(HOOK)
    os.chmod(path, mode)
    return path


# (id, builder) -- builder(httpd, name) writes the config and returns
# (directive line fragment, words the message must contain)
def ca_file_unreadable(h, name):
    """Root's 0600 file: root's configtest reads it, the child cannot."""
    path = copy_ca(h, os.path.join(h.serverroot, "ca-%s.pem" % name), 0o600)
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeCACertificateFile": path})
    return "AcmeCACertificateFile", ["ACME00570", path, HTTPD_USER, "chmod o+r " + path,
                                     "cannot read"]


def ca_file_in_closed_directory(h, name):
    """The file is readable, the directory holding it lets nobody else in."""
    closed = os.path.join(h.serverroot, "closed-" + name)
    os.mkdir(closed, 0o700)
    path = copy_ca(h, os.path.join(closed, "ca.pem"), 0o644)
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeCACertificateFile": path})
    return "AcmeCACertificateFile", ["ACME00570", path, HTTPD_USER, "chmod o+x " + closed]


def store_unreachable(h, name):
    """The store under a root directory of mode 0700 (like /root)."""
    closed = os.path.join(h.serverroot, "private-" + name)
    os.mkdir(closed, 0o700)
    path = os.path.join(closed, "acme")
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeStoreDir": path})
    return "AcmeStoreDir", ["ACME00572", path, HTTPD_USER, "chmod o+x " + closed]


def store_area_unwritable(h, name):
    """jobs/ already the User's (a store from an earlier start) but mode 0500."""
    path = os.path.join(h.serverroot, "store-" + name)
    os.mkdir(path, 0o755)
    jobs = os.path.join(path, "jobs")
    os.mkdir(jobs, 0o500)
    os.chown(jobs, *user_ids())
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeStoreDir": path})
    return "AcmeStoreDir", ["ACME00573", jobs, HTTPD_USER, "cannot write in",
                            "chmod u+rwx " + jobs]


def store_area_unwritable_after_grant(h, name):
    """status/ still root's, mode 0500: root hands it to the User at start
    without changing its mode, so the User could not write there either."""
    path = os.path.join(h.serverroot, "store-" + name)
    os.mkdir(path, 0o755)
    status = os.path.join(path, "status")
    os.mkdir(status, 0o500)
    h.write_config(vhosts=ssl_vhost(name), acme={"AcmeStoreDir": path})
    return "AcmeStoreDir", ["ACME00574", status, HTTPD_USER, "0500", "chmod u+rwx " + status]


def hook_not_executable(h, name):
    """Root's hook of mode 0744: root may run it, the User may not."""
    hook = write_hook(h, os.path.join(h.serverroot, "hook-" + name), 0o744)
    h.write_config(vhosts=ssl_vhost(name),
                   acme={"AcmeDnsCmd": hook, "AcmeChallenges": "dns-01"})
    return "AcmeDnsCmd", ["ACME00571", hook, HTTPD_USER, "chmod o+rx " + hook]


def hook_in_vhost_closed_directory(h, name):
    """A vhost's own hook, in a directory the User cannot enter: the
    vhost's AcmeDnsCmd line is the one named."""
    closed = os.path.join(h.serverroot, "hooks-" + name)
    os.mkdir(closed, 0o700)
    hook = write_hook(h, os.path.join(closed, "hook"), 0o755)
    h.write_config(vhosts=ssl_vhost(name, extra="AcmeDnsCmd %s\nAcmeChallenges dns-01" % hook))
    return "AcmeDnsCmd %s" % hook, ["ACME00571", hook, HTTPD_USER, "chmod o+x " + closed]


CASES = [ca_file_unreadable, ca_file_in_closed_directory, store_unreachable,
         store_area_unwritable, store_area_unwritable_after_grant, hook_not_executable,
         hook_in_vhost_closed_directory]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_configtest_checks_as_user(httpd, unique, case):
    name = unique("user")
    fragment, words = case(httpd, name)
    rc, out = httpd.configtest()
    assert rc != 0, "configtest passed:\n%s\nconfig:\n%s" % (out, httpd.conf_text)
    line = httpd.line_of(fragment)
    assert names_place(out, "%s:%d" % (httpd.conf_path, line)), \
        "message does not name line %d (%r):\n%s" % (line, fragment, out)
    missing = [w for w in words if w not in out]
    assert not missing, "message lacks %s:\n%s" % (missing, out)
    assert not httpd.running()


def test_configtest_passes_when_the_user_can(httpd, unique):
    """The same kinds of files, set up right: a CA file and a hook of
    root's that others may read and run, a store whose areas the User owns
    already: configtest passes and says nothing about them."""
    name = unique("userok")
    ca = copy_ca(httpd, os.path.join(httpd.serverroot, "ca-ok.pem"), 0o644)
    hook = write_hook(httpd, os.path.join(httpd.serverroot, "hook-ok"), 0o755)
    store = os.path.join(httpd.serverroot, "store-ok")
    os.mkdir(store, 0o755)
    for area in ("jobs", "status"):
        os.mkdir(os.path.join(store, area), 0o700)
        os.chown(os.path.join(store, area), *user_ids())
    os.mkdir(os.path.join(store, "accounts"), 0o700)     # root's: handed over at start
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCACertificateFile": ca, "AcmeStoreDir": store,
                             "AcmeDnsCmd": hook, "AcmeChallenges": "dns-01 http-01"})
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert "ACME0057" not in out, out


def test_start_logs_and_attempt_names_file_user_fix(httpd, unique):
    """A server started with a CA file its User cannot read: it starts (its
    sites do not need the file), the start logs the problem, and the
    attempt's failure names the file, the user and the fix instead of
    libcurl's bare 'error setting certificate file'."""
    name = unique("userrt")
    ca = copy_ca(httpd, os.path.join(httpd.serverroot, "ca-rt.pem"), 0o600)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCACertificateFile": ca})
    httpd.start()
    log = wait_for(lambda: "ACME00220" in httpd.error_log_text() and httpd.error_log_text(),
                   60, what="ACME00220 in the error log")
    assert "ACME00570" in log, log
    line = [ln for ln in log.splitlines() if "ACME00220" in ln][0]
    for word in (ca, HTTPD_USER, "chmod o+r " + ca, "AcmeCACertificateFile"):
        assert word in line, "%r not in %s" % (word, line)
    # The status page carries the same reason.
    detail = wait_for(lambda: (httpd.domain_status(name).get("error") or {}).get("detail"), 30,
                      what="the status page's error")
    assert ca in str(detail) and HTTPD_USER in str(detail), detail
