"""Programs the root parent runs are root's, down to the interpreter a
script's #! line names: each test gives AcmeNotifyCmd a root-owned script
whose interpreter the server's User could change (owns it, its directory, a
link's target, an interpreter script further down, what env finds in PATH)
and asserts that configtest fails saying what and how to fix it, or that the
parent refuses to run it (docs/security.md, "Programs run as root")."""
import os
import shutil

import pytest

import harness
from harness import ssl_vhost, wait_for
from test_privsep import USER, as_user, event_file, lines_of, logged, user_write

NOTIFY_TIMEOUT = 20
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELL = os.path.realpath("/bin/sh")


@pytest.fixture
def tree():
    """tree() -> a fresh root-owned 0755 directory under /tmp, removed afterwards."""
    made = []

    def make():
        made.append(harness.make_tree("it-rootprog-"))
        return made[-1]
    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def interpreter(directory, name="sh"):
    """A copy of the system shell, root's, mode 0755."""
    path = os.path.join(directory, name)
    shutil.copy(SHELL, path)
    os.chmod(path, 0o755)
    return path


def script_with(httpd, shebang, body=harness.NOTIFY_RECORDING):
    """The notify script (root's, 0755) with its own #! line."""
    path, out = harness.notify_script(httpd, body)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("#!/bin/sh\n", "#!%s\n" % shebang, 1))
    return path, out


def configtest_fails(httpd, name, script, *words):
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeNotifyCmd": script})
    rc, out = httpd.configtest()
    assert rc != 0, "configtest passed:\n" + out
    assert "ACME00543" in out and script in out, out
    assert "line %d" % httpd.line_of("AcmeNotifyCmd") in out, out
    for w in words:
        assert w in out, "%r not in:\n%s" % (w, out)
    return out


def configtest_passes(httpd):
    rc, out = httpd.configtest()
    assert rc == 0, out


def test_interpreter_the_user_can_write_fails_configtest(httpd, unique, tree):
    """The interpreter owned by the User, then root's but group-writable."""
    d = tree()
    sh = interpreter(d)
    script, _ = script_with(httpd, sh)
    os.chown(sh, USER.pw_uid, USER.pw_gid)
    configtest_fails(httpd, unique("interp"), script, "interpreter %s" % sh, "#! line",
                     "%s is owned by uid %d" % (sh, USER.pw_uid),
                     "fix: chown root:root %s && chmod go-w %s" % (sh, sh))
    os.chown(sh, 0, USER.pw_gid)
    os.chmod(sh, 0o775)
    configtest_fails(httpd, unique("interp"), script, "%s is writable by its group" % sh)
    os.chmod(sh, 0o755)
    configtest_passes(httpd)


def test_interpreter_in_a_user_directory_fails_configtest(httpd, unique, tree):
    d = os.path.join(tree(), "bin")
    os.mkdir(d, 0o755)
    sh = interpreter(d)
    script, _ = script_with(httpd, sh)
    os.chown(d, USER.pw_uid, USER.pw_gid)
    configtest_fails(httpd, unique("idir"), script, "interpreter %s" % sh,
                     "%s is owned by uid %d" % (d, USER.pw_uid))
    os.chown(d, 0, 0)
    configtest_passes(httpd)


def test_interpreter_link_to_a_user_file_fails_configtest(httpd, unique, tree):
    """A root-owned link in a root directory whose target is the User's."""
    target = interpreter(tree(), "realsh")
    os.chown(target, USER.pw_uid, USER.pw_gid)
    link = os.path.join(tree(), "sh")
    os.symlink(target, link)
    script, _ = script_with(httpd, link)
    configtest_fails(httpd, unique("ilink"), script, "interpreter %s" % link,
                     "leads to %s" % target, "%s is owned by uid %d" % (target, USER.pw_uid))


def test_interpreter_script_chain_is_followed(httpd, unique, tree):
    """The script's interpreter is itself a root-owned script, whose own
    interpreter is the User's: refused, naming both."""
    sh = interpreter(tree())
    os.chown(sh, USER.pw_uid, USER.pw_gid)
    inner = os.path.join(tree(), "inner")
    with open(inner, "w") as f:
        f.write("#!%s\nexec %s \"$@\"\n" % (sh, SHELL))
    os.chmod(inner, 0o755)
    script, _ = script_with(httpd, inner)
    configtest_fails(httpd, unique("chain"), script, "interpreter %s" % inner,
                     "interpreter %s" % sh, "%s is owned by uid %d" % (sh, USER.pw_uid))
    os.chown(sh, 0, 0)
    configtest_passes(httpd)


def test_env_interpreter_target_is_checked(httpd, unique, tree):
    """#!/usr/bin/env NAME: what env finds in PATH is checked; a PATH
    directory the User owns is not searched; env options, relative
    interpreters and a missing NAME are refused."""
    d = tree()
    evil = interpreter(d, "acmesh")
    os.chown(evil, USER.pw_uid, USER.pw_gid)
    httpd.extra_env = {"PATH": d + ":" + SYSTEM_PATH}
    script, _ = script_with(httpd, "/usr/bin/env acmesh")
    name = unique("env")
    configtest_fails(httpd, name, script, "through env", "finds %s" % evil,
                     "%s is owned by uid %d" % (evil, USER.pw_uid))
    # the User owns the directory instead: it is left out of PATH, nothing else holds acmesh
    os.chown(evil, 0, 0)
    os.chown(d, USER.pw_uid, USER.pw_gid)
    configtest_fails(httpd, name, script, "no directory of the PATH", "acmesh")
    os.chown(d, 0, 0)
    configtest_passes(httpd)
    for shebang, why in (("/usr/bin/env -S sh -e", "does not follow"),
                         ("/usr/bin/env", "does not follow"),
                         ("sh", "not an absolute path"),
                         ("/usr/bin/env ./acmesh", "relative path")):
        script_with(httpd, shebang)
        configtest_fails(httpd, name, script, why)


def test_interpreter_changed_after_start_is_not_run(httpd, unique, tree):
    """The interpreter passes configtest, then becomes the User's and is
    rewritten by it: the check before the run refuses the script."""
    name = unique("iswap")
    sh = interpreter(tree())
    script, _ = script_with(httpd, sh)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeNotifyCmd": script})
    httpd.start()
    # the first certificate's automatic restart done first: a graceful
    # restart reading the configuration after the swap fails it (ACME00543)
    # and httpd exits, as for any configuration broken before a graceful
    httpd.wait_for_pebble_cert(name, 60)
    marker = os.path.join(tree(), "pwned")
    os.chown(sh, USER.pw_uid, USER.pw_gid)
    user_write(sh, ("#!/bin/sh\nid -u > %s\n" % marker).encode())
    event_file(httpd, "failed", name, "forged to make root run the interpreter")
    refused = wait_for(lambda: logged(httpd, "ACME00630", name), NOTIFY_TIMEOUT,
                       what="the script with the User's interpreter to be refused")
    assert "interpreter %s" % sh in refused[0], refused
    assert "owned by uid %d" % USER.pw_uid in refused[0], refused
    assert not os.path.exists(marker), "the User's interpreter ran as root"


def test_root_program_gets_only_root_directories_in_path(httpd, unique, tree):
    """httpd's PATH starts with a directory the User owns, holding its own
    'sh' and 'id': '#!/usr/bin/env sh' passes configtest and runs the system
    shell, and the program's PATH has no User directory, so the script's own
    commands are root's too."""
    name = unique("path")
    w = tree()
    os.chown(w, USER.pw_uid, USER.pw_gid)
    marker = os.path.join(w, "pwned")
    for prog in ("sh", "id"):
        user_write(os.path.join(w, prog), ("#!/bin/sh\necho %s > %s\n" % (prog, marker)).encode())
        as_user(["chmod", "755", os.path.join(w, prog)])
    httpd.extra_env = {"PATH": w + ":" + SYSTEM_PATH}
    script, out = script_with(httpd, "/usr/bin/env sh",
                              harness.NOTIFY_RECORDING + '\necho "path=$PATH" >> "$OUT"')
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeNotifyCmd": script})
    configtest_passes(httpd)
    httpd.start()
    event_file(httpd, "failed", name, "a genuine-looking failure")
    wait_for(lambda: [l for l in lines_of(out) if l.startswith("path=")], NOTIFY_TIMEOUT,
             what="the notify program to run")
    calls = lines_of(out)
    assert [l for l in calls if l.startswith("args=failed %s " % name) and "uid=0 " in l], calls
    path = [l for l in calls if l.startswith("path=")][0][len("path="):]
    assert w not in path.split(":") and "/usr/bin" in path.split(":"), calls
    assert not os.path.exists(marker), "a program of the User's ran as root"
