"""Privilege separation: the issuing child runs as the server's User, which is
also the identity of every PHP or CGI application, so everything it can write
is attacker-controlled. Each test is one attack made as that User (setpriv to
www-data) against a real httpd with mod_acme, on targets the test creates in
its own temporary directories, and asserts the safe outcome
(docs/security.md)."""
import json
import os
import pwd
import shutil
import stat
import subprocess
import time

import harness
from harness import ssl_vhost, wait_for

ISSUE_TIMEOUT = 60
NOTIFY_TIMEOUT = 20
USER = pwd.getpwnam(harness.HTTPD_USER)


def as_user(args, input=None, timeout=60):
    """Runs args as the server's User, without root's groups."""
    cmd = ["setpriv", "--reuid=%d" % USER.pw_uid, "--regid=%d" % USER.pw_gid,
           "--clear-groups", "--"] + list(args)
    # Without the ASan runtime preloaded: these are shell tools, hundreds of
    # them in a loop, and each would map ASan's shadow memory at start; an
    # instrumented acmectl loads the runtime itself (ASAN_OPTIONS stay).
    env = harness.clean_env()
    env.pop("LD_PRELOAD", None)
    return subprocess.run(cmd, input=input, capture_output=True, timeout=harness.slow(timeout),
                          env=env)


def user_write(path, data):
    """Writes data (bytes) to path as the server's User."""
    p = as_user(["sh", "-c", 'cat > "$1"', "sh", path], input=data)
    assert p.returncode == 0, "cannot write %s as %s: %s" % (path, USER.pw_name, p.stderr)


notify_script = harness.notify_script
RECORDING = harness.NOTIFY_RECORDING


def lines_of(path):
    try:
        with open(path, errors="surrogateescape") as f:
            return [l.rstrip("\n") for l in f]
    except FileNotFoundError:
        return []


def logged(httpd, tag, *words):
    return [l for l in httpd.error_log_text().splitlines()
            if tag in l and all(w in l for w in words)]


def event_file(httpd, event, name, detail="", seq=0):
    """A well-formed events/ file as the child writes them, written as the User."""
    t = time.gmtime()
    stamp = time.strftime("%Y%m%dT%H%M%S", t) + ".%06dZ" % seq
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", t)
    path = os.path.join(httpd.store, "events", "%s-%s-%s.json" % (stamp, event, name))
    body = json.dumps({"event": event, "name": name, "detail": detail, "at": at})
    user_write(path, body.encode())
    return path


# --------------------------------------------------------------------------
# Programs run as root are root's


def test_notify_cmd_owned_by_user_fails_configtest(httpd, unique):
    script, _ = notify_script(httpd, RECORDING)
    os.chown(script, USER.pw_uid, USER.pw_gid)
    httpd.write_config(vhosts=ssl_vhost(unique("own")), acme={"AcmeNotifyCmd": script})
    rc, out = httpd.configtest()
    assert rc != 0, "configtest passed with a notify program owned by www-data:\n" + out
    assert "ACME00543" in out and script in out and "www-data" in out, out
    assert "chown root:root %s && chmod go-w %s" % (script, script) in out, out
    assert "line %d" % httpd.line_of("AcmeNotifyCmd") in out, out


def test_notify_cmd_in_user_writable_directory_fails_configtest(httpd, unique):
    bindir = os.path.join(httpd.serverroot, "bin")
    os.mkdir(bindir, 0o755)
    script, _ = notify_script(httpd, RECORDING, directory=bindir)
    os.chown(bindir, USER.pw_uid, USER.pw_gid)
    httpd.write_config(vhosts=ssl_vhost(unique("dir")), acme={"AcmeNotifyCmd": script})
    rc, out = httpd.configtest()
    assert rc != 0, "configtest passed with the program in a www-data directory:\n" + out
    assert "ACME00543" in out and bindir + " is owned by uid %d" % USER.pw_uid in out, out
    # the same directory writable by a group instead of owned by the User
    os.chown(bindir, 0, USER.pw_gid)
    os.chmod(bindir, 0o775)
    rc, out = httpd.configtest()
    assert rc != 0 and bindir + " is writable by its group" in out, out
    os.chmod(bindir, 0o755)
    rc, out = httpd.configtest()
    assert rc == 0, out


def test_notify_cmd_swapped_after_configtest_is_not_run(httpd, unique):
    """The program passes configtest, then becomes the User's and is rewritten
    by it: the check before the run refuses it, nothing runs as root."""
    name = unique("swap")
    script, out = notify_script(httpd, RECORDING)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeNotifyCmd": script})
    httpd.start()
    # the first certificate's automatic restart done first: a graceful
    # restart reading the configuration after the swap fails it (ACME00543)
    # and httpd exits, as for any configuration broken before a graceful
    httpd.wait_for_pebble_cert(name, 60)
    marker = os.path.join(harness.make_tree("it-privsep-"), "pwned")
    try:
        os.chown(script, USER.pw_uid, USER.pw_gid)
        user_write(script, ("#!/bin/sh\nid -u > %s\n" % marker).encode())
        event_file(httpd, "failed", name, "forged to make root run the program")
        refused = wait_for(lambda: logged(httpd, "ACME00630", name), NOTIFY_TIMEOUT,
                           what="the swapped program to be refused")
        assert "owned by uid %d" % USER.pw_uid in refused[0], refused
        assert not os.path.exists(marker), "the User's program ran as root"
        assert not logged(httpd, "ACME00621"), "a program was started"
    finally:
        shutil.rmtree(os.path.dirname(marker), ignore_errors=True)


# --------------------------------------------------------------------------
# Events a root program sees come from root


def test_forged_events_never_reach_root(httpd, unique):
    name = unique("events")
    script, out = notify_script(httpd, RECORDING)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeNotifyCmd": script})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    want_issued = "args=issued %s " % name
    wait_for(lambda: [l for l in lines_of(out) if l.startswith(want_issued)], NOTIFY_TIMEOUT,
             what="the genuine 'issued' call")

    event_file(httpd, "issued", name, "forged issued", seq=1)
    event_file(httpd, "party", name, "bogus event name", seq=2)
    event_file(httpd, "failed", "unconfigured.test", "not one of ours", seq=3)
    event_file(httpd, "failed", name, "evil \x1b]0;owned\x07 \x1b[31mred\nsecond line\u00e9",
               seq=4)
    event_file(httpd, "failed", name, "second failed within ten minutes", seq=5)
    events_dir = os.path.join(httpd.store, "events")
    wait_for(lambda: not os.listdir(events_dir), NOTIFY_TIMEOUT,
             what="the parent to consume events/")
    wait_for(lambda: logged(httpd, "ACME00632", name), NOTIFY_TIMEOUT,
             what="the second 'failed' to be dropped by the rate limit")
    calls = lines_of(out)
    assert len([l for l in calls if l.startswith(want_issued)]) == 1, calls
    assert not [l for l in calls if "party" in l or "unconfigured.test" in l], calls
    failed = [l for l in calls if l.startswith("args=failed %s " % name)]
    assert len(failed) == 1, calls
    assert "\x1b" not in failed[0] and "\x07" not in failed[0], repr(failed[0])
    assert "evil" in failed[0] and "second line" in failed[0], repr(failed[0])
    assert all(32 <= ord(c) < 127 for c in failed[0]), repr(failed[0])
    assert logged(httpd, "ACME00631", "unconfigured.test")


# --------------------------------------------------------------------------
# Root never follows what the User can redirect


def test_hard_link_in_staging_is_not_chowned(httpd, unique):
    name = unique("link")
    tmp = harness.make_tree("it-privsep-")
    try:
        target = os.path.join(tmp, "root-file")
        with open(target, "w") as f:
            f.write("root's\n")
        # fs.protected_hardlinks lets a user link only files it may read and write
        os.chmod(target, 0o666)
        httpd.write_config(vhosts=ssl_vhost(name))
        httpd.start()
        staging = os.path.join(httpd.store, "staging")
        junk = os.path.join(staging, "junk")
        p = as_user(["mkdir", junk])
        assert p.returncode == 0, p.stderr
        for link in (os.path.join(staging, "planted"), os.path.join(junk, "planted")):
            p = as_user(["ln", target, link])
            assert p.returncode == 0, "cannot plant the link: %s" % p.stderr
        httpd.graceful()
        httpd.graceful()
        st = os.stat(target)
        assert st.st_uid == 0 and st.st_gid == 0, "the planted link was chowned to %d:%d" % (
            st.st_uid, st.st_gid)
        assert stat.S_IMODE(st.st_mode) == 0o666
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def issued_httpd(httpd, name):
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)


def test_acmectl_never_follows_a_planted_account_link(httpd, unique):
    """accounts/<id> swapped for a link to a root-only directory: acmectl
    account rollover (run as root) creates nothing there, acmectl check does
    not list it."""
    name = unique("acctlink")
    issued_httpd(httpd, name)
    accounts = os.path.join(httpd.store, "accounts")
    (ca_id,) = os.listdir(accounts)
    real = os.path.join(accounts, ca_id)
    target = harness.make_tree("it-privsep-")
    try:
        os.chmod(target, 0o700)
        for f in os.listdir(real):
            shutil.copy(os.path.join(real, f), os.path.join(target, f))
        bait = os.path.join(target, "x.tmp.1.0badf00d")
        open(bait, "w").close()
        before = sorted(os.listdir(target))
        p = as_user(["mv", real, real + ".away"])
        assert p.returncode == 0, p.stderr
        p = as_user(["ln", "-s", target, real])
        assert p.returncode == 0, p.stderr
        roll = httpd.acmectl("--store", httpd.store, "account", "rollover", timeout=60)
        assert roll.returncode != 0, "rollover went through the link:\n" + roll.stdout
        assert sorted(os.listdir(target)) == before, "files created outside the store"
        chk = httpd.acmectl("--store", httpd.store, "check")
        assert "0badf00d" not in chk.stdout + chk.stderr, chk.stdout
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_acmectl_output_carries_no_terminal_escapes(httpd, unique):
    name = unique("escape")
    issued_httpd(httpd, name)
    status_file = os.path.join(httpd.store, "status", name + ".json")
    wait_for(lambda: os.path.exists(status_file), 20, what="the status file")
    with open(status_file) as f:
        doc = json.load(f)
    evil = "\x1b]0;owned\x07\x1b[2J\x9b31m"

    def poison(v):
        if isinstance(v, dict):
            return {k: poison(x) for k, x in v.items()}
        if isinstance(v, list):
            return [poison(x) for x in v]
        return v + evil if isinstance(v, str) else v
    doc = poison(doc)
    doc["error"] = {"type": "x" + evil, "detail": "d" + evil}
    data = json.dumps(doc).encode()
    httpd.stop()    # the child would rewrite the status file meanwhile
    user_write(status_file, data)
    for args in (["list"], ["show", name], ["check"]):
        p = subprocess.run([harness.acmectl_path(), "--store", httpd.store] + args,
                           capture_output=True, timeout=60, env=harness.clean_env())
        out = p.stdout + p.stderr
        assert b"\x1b" not in out and b"\x07" not in out and b"\xc2\x9b" not in out, (args, out)
        if args[0] == "show":
            assert b"\\x1b" in out, "the poisoned status was not shown: %r" % out
    j = subprocess.run([harness.acmectl_path(), "--store", httpd.store, "--json", "show", name],
                       capture_output=True, timeout=60, env=harness.clean_env())
    assert b"\x1b" not in j.stdout
    json.loads(j.stdout)


def test_acmectl_lists_only_domains_root_knows_and_user_text_stays_on_its_line(httpd, unique):
    """The User fills status/ and staging/ with made-up domains and a status
    error whose line break would forge a line of acmectl's output."""
    name = unique("listed")
    issued_httpd(httpd, name)
    status_file = os.path.join(httpd.store, "status", name + ".json")
    wait_for(lambda: os.path.exists(status_file), 20, what="the status file")
    httpd.stop()    # the child would rewrite the status file meanwhile
    with open(status_file) as f:
        doc = json.load(f)
    doc["error"] = {"type": "x", "detail": "bad\r\nFORGED LINE"}
    user_write(status_file, json.dumps(doc).encode())
    for junk in ("made-up.example", "another.example"):
        user_write(os.path.join(httpd.store, "status", junk + ".json"),
                   json.dumps({"name": junk, "state": "valid"}).encode())
        p = as_user(["mkdir", "-p", os.path.join(httpd.store, "staging", junk + "-staged")])
        assert p.returncode == 0, p.stderr
    lst = httpd.acmectl("--store", httpd.store, "list")
    assert lst.returncode == 0, lst.stdout + lst.stderr
    assert name in lst.stdout, lst.stdout
    assert "made-up.example" not in lst.stdout and "another.example" not in lst.stdout, lst.stdout
    show = httpd.acmectl("--store", httpd.store, "show", name)
    for out in (lst.stdout, show.stdout):
        assert not any(line.startswith("FORGED LINE") for line in out.splitlines()), out
    assert "FORGED LINE" in show.stdout, "the error detail was not shown:\n" + show.stdout


# --------------------------------------------------------------------------
# Restarts and floods (docs/security.md)


def test_junk_ready_markers_cause_no_restart_flood(httpd, unique):
    """Junk "ready" markers, again and again, for a configured name (garbage
    where the chain should be) and for 500 unconfigured names: at most one
    graceful restart in 20 s, and the good certificate is still served."""
    name = unique("flood")
    issued_httpd(httpd, name)
    good = httpd.verified_cert(name).serial_number
    # an administrator's restart: the next automatic one may go at once, so
    # only the check of the staged entry holds a restart back
    httpd.graceful()
    before = httpd.generation_count()
    staging = os.path.join(httpd.store, "staging")
    entry = os.path.join(staging, name)
    script = r'''
set -e
cd "$1"
i=0
while [ $i -lt 500 ]; do
    mkdir -p junk$i.test; echo x > junk$i.test/cert.pem; echo '{}' > junk$i.test/ready
    i=$((i+1))
done
mkdir -p "$2"
end=$(( $(date +%s) + 20 ))
n=0
while [ $(date +%s) -lt $end ]; do
    printf -- '-----BEGIN CERTIFICATE-----\ngarbage %d\n' $n > "$2/cert.pem"
    printf '{"staged": "%d"}\n' $n > "$2/ready.new"
    mv -f "$2/ready.new" "$2/ready"
    n=$((n+1))
    sleep 0.3
done
'''
    p = as_user(["sh", "-c", script, "sh", staging, name], timeout=90)
    assert p.returncode == 0, p.stderr
    time.sleep(2)
    restarts = httpd.generation_count() - before
    assert restarts <= 1, "%d graceful restarts for junk in staging:\n%s" % (
        restarts, httpd.diagnostics())
    assert httpd.verified_cert(name).serial_number == good
    refused = logged(httpd, "ACME00733", name)
    assert refused, "the junk entry was not refused:\n" + httpd.diagnostics()
    # it quotes the check's messages, not whole log lines inside its own
    for line in refused:
        said = line.split("the check said: ", 1)[1]
        assert "[pid " not in said and not said.startswith("["), line
        assert said.startswith("ACME0"), line
    assert not logged(httpd, "junk1.test"), "root looked at unconfigured staging entries"
    assert os.path.isdir(entry)


def test_archive_keeps_the_last_versions(httpd, unique):
    """However many versions pile up in archive/<name>, activation leaves the
    last five, the new live one and the one before it among them."""
    name = unique("prune")
    issued_httpd(httpd, name)
    archive = os.path.join(httpd.store, "archive", name)
    live = harness.live_version(httpd.store, name)
    old_serial = httpd.verified_cert(name).serial_number
    for i in range(1, 9):
        shutil.copytree(live, os.path.join(archive, "2000010%dT000000Z-0000000%d" % (i, i)),
                        symlinks=True)
    assert len(os.listdir(archive)) == 9
    time.sleep(1.2)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeRenewWindow": "100%"})
    httpd.graceful()
    wait_for(lambda: httpd.verified_cert(name).serial_number != old_serial, ISSUE_TIMEOUT,
             interval=0.5, what="the renewed certificate")
    versions = sorted(os.listdir(archive))
    assert len(versions) <= 5, versions
    new_live = harness.live_version(httpd.store, name)
    assert os.path.basename(new_live) == versions[-1], (new_live, versions)
    assert os.path.basename(live) in versions, "the previous version was removed"
    assert "20000101T000000Z-00000001" not in versions


def test_acmectl_check_reports_junk_in_staging(httpd, unique):
    """What the User plants in staging/ beside the real entries (entries of no
    configured domain, stray files, a link as "ready") is reported by acmectl
    check, bounded however much there is, and never followed or read."""
    name = unique("junkcheck")
    issued_httpd(httpd, name)
    httpd.stop()    # nothing of the server's own in flight
    clean = httpd.acmectl("--store", httpd.store, "check")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    staging = os.path.join(httpd.store, "staging")
    script = r'''
set -e
cd "$1"
echo x > plain-file
mkdir -p "$2"
echo '#!/bin/sh' > "$2/evil.sh"
ln -sf /etc/shadow "$2/ready"
echo '{"serial": "01", "since": "2026-01-01T00:00:00Z"}' > "$2/served"
'''
    p = as_user(["sh", "-c", script, "sh", staging, name])
    assert p.returncode == 0, p.stderr
    chk = httpd.acmectl("--store", httpd.store, "check")
    out = chk.stdout
    assert chk.returncode == 1, out + chk.stderr
    problems = [l for l in out.splitlines() if l.startswith("problem: ")]
    # the children's served mark is a file the server writes there
    assert not any("/served" in l for l in problems), out
    assert any("staging/%s/evil.sh: not a file the server stages" % name in l
               for l in problems), out
    assert any("staging/%s/ready: not a plain file" % name in l for l in problems), out
    assert any("staging/plain-file: no configured domain" in l for l in problems), out
    assert "root:" not in out
    # bounded: ten lines about staging, then one with the count of the rest
    p = as_user(["sh", "-c", 'cd "$1"; i=0; while [ $i -lt 30 ]; do mkdir -p junk$i.test; '
                 'echo x > junk$i.test/cert.pem; i=$((i+1)); done', "sh", staging])
    assert p.returncode == 0, p.stderr
    chk = httpd.acmectl("--store", httpd.store, "check")
    problems = [l for l in chk.stdout.splitlines() if l.startswith("problem: ")]
    assert chk.returncode == 1, chk.stdout
    # the entries themselves: ten told, the rest counted (their directories'
    # modes, 0755 from the User's umask against the documented 0700, are
    # told apart, one line each)
    entries = [l for l in problems if "staging" in l and "directory has mode" not in l]
    assert len(entries) == 11, chk.stdout
    assert any("staging: 23 more entries like the above" in l for l in problems), chk.stdout


def test_junk_in_events_is_swept(httpd, unique):
    """Files the User drops into events/ that are no event files (other
    names, broken JSON) are removed by the parent, which says so once per
    look, and no notify program runs for them."""
    name = unique("evjunk")
    script, out = notify_script(httpd, RECORDING)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeNotifyCmd": script})
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    events = os.path.join(httpd.store, "events")
    for junk, data in (("notes.txt", b"hello"), ("core", b"\0" * 100),
                       ("x-failed-%s.json" % name, b"{not json")):
        user_write(os.path.join(events, junk), data)
    # a temp file of a write in progress (its writer is alive) stays
    keeper = subprocess.Popen(["sleep", "60"])
    try:
        temp = "20990101T000000.000000Z-failed-%s.json.tmp.%d.0badf00d" % (name, keeper.pid)
        user_write(os.path.join(events, temp), b"{}")
        wait_for(lambda: not {"notes.txt", "core", "x-failed-%s.json" % name}
                 & set(os.listdir(events)), 40, what="the junk in events/ to go")
        assert temp in os.listdir(events)
    finally:
        keeper.kill()
        keeper.wait()
    assert logged(httpd, "ACME00642", events), httpd.diagnostics()
    assert not any("event=" in l and name in l and "failed" in l for l in lines_of(out)), \
        lines_of(out)
    assert httpd.running()
