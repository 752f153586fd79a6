"""Certificate keys in root's custody, and activation that accepts only what
it can prove. The attacker has the rights of httpd's User (www-data), the
identity PHP and CGI code runs as: it acts through runuser."""
import datetime
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

import harness
from harness import HTTPD_USER, public_der, ssl_vhost, utcnow, wait_for

ISSUE_TIMEOUT = 90
# the monitor hook runs about every 10 s; the walk takes one slice here
WALK_TIMEOUT = 90
RENEW_TIMEOUT = 120

# Runs as the User: every PEM private key it can read below the store.
READABLE_KEYS = r"""
import json, os, sys
found = []
for root, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 20)
        except OSError:
            continue
        if b"PRIVATE KEY-----" in data:
            found.append([path, data.decode("ascii", "replace")])
print(json.dumps(found))
"""

# Runs as the User: writes files (name -> text) into staging/<name>/, "ready" last.
PLANT = r"""
import json, os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
files = json.load(sys.stdin)
for name in sorted(files, key=lambda n: n == "ready"):
    with open(os.path.join(d, name), "w") as f:
        f.write(files[name])
"""


def as_user(script, *args, stdin=None):
    """Runs a Python script with the User's rights (runuser -u www-data)."""
    if os.geteuid() != 0:
        pytest.fail("these tests act as %s through runuser and need root" % HTTPD_USER)
    proc = subprocess.run(["runuser", "-u", HTTPD_USER, "--", "/usr/bin/python3", "-c", script]
                          + list(args), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)
    assert proc.returncode == 0, "as %s: rc=%d %s" % (HTTPD_USER, proc.returncode, proc.stderr)
    return proc.stdout


def user_readable_keys(store):
    """[(path, private key)] of every key the User can read in the store."""
    keys = []
    for path, pem in json.loads(as_user(READABLE_KEYS, store)):
        try:
            keys.append((path, serialization.load_pem_private_key(pem.encode(), None)))
        except (ValueError, TypeError):
            continue
    return keys


def assert_key_not_readable(store, cert, when):
    served = public_der(cert.public_key())
    for path, key in user_readable_keys(store):
        assert public_der(key.public_key()) != served, \
            "%s: %s can read %s, the private key of the served certificate" % (when, HTTPD_USER,
                                                                              path)


def self_signed(names, key, days):
    now = utcnow()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(key, hashes.SHA256()))


def plant(httpd, name, key, cert):
    """The attack: key and certificate of the User's making staged as if issued."""
    files = {
        "privkey.pem": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "cert.pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "ready": '{"staged": "now"}\n',
    }
    as_user(PLANT, os.path.join(httpd.store, "staging", name), stdin=json.dumps(files))


def refused(httpd, name):
    return "ACME00301: %s: staged certificate refused" % name in httpd.error_log_text()


def issue(httpd, name):
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    return httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)


def assert_still_serving(httpd, name, cert, parent, replacement_ok=False):
    """httpd is the same parent and serves cert for name. With replacement_ok, a
    newer Pebble certificate that mod_acme ordered and activated itself counts too
    (it replaces a live version it cannot use as soon as its watchdog sees it)."""
    assert httpd.running() and httpd.pid() == parent, \
        "httpd is down or was replaced\n%s" % httpd.diagnostics()
    served = httpd.verified_cert(name)
    if replacement_ok and served.serial_number != cert.serial_number:
        activated = r"ACME00300: %s: activated certificate 0*%X " % (re.escape(name), served.serial_number)
        assert re.search(activated, httpd.error_log_text()), \
            "%s serves %s, neither the Pebble certificate %x nor one mod_acme activated\n%s" \
            % (name, harness.cert_summary(served), cert.serial_number, httpd.diagnostics())
        return
    assert served.serial_number == cert.serial_number, \
        "%s now serves %s, not the Pebble certificate %x" % (name, harness.cert_summary(served),
                                                              cert.serial_number)


def test_keys_live_in_roots_custody(httpd, unique):
    """The key of the served certificate was generated by root and is kept where
    the User cannot read it: keys/ is root's and 0700, the CSR is all the
    User sees, and no file the User can read holds the served key."""
    name = unique("custody")
    cert = issue(httpd, name)
    store = httpd.store
    st = os.stat(os.path.join(store, "keys"))
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o700, "keys/ is %o uid %d" % (
        st.st_mode & 0o777, st.st_uid)
    live_key = os.path.join(harness.live_version(store, name), "privkey.pem")
    st = os.stat(live_key)
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600
    assert not os.path.exists(os.path.join(store, "jobs", name + ".key"))
    # the next order's CSR is published for the child, root-owned, read-only to it
    csr_file = os.path.join(store, "csr", name + ".json")
    wait_for(lambda: os.path.exists(csr_file), 10, what="the next CSR for %s" % name)
    st = os.stat(csr_file)
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o644
    with open(csr_file) as f:
        csr = json.load(f)
    assert csr["names"] == [name] and csr["key_type"] == "ec-p256"
    assert_key_not_readable(store, cert, "after issuance")
    # The server runs on: its child may be writing a record (jobs/.ari/ after
    # the first certificate) through a temp file right now, which is no leftover.
    httpd.wait_idle()
    assert not harness.store_problems(store)


def _mode(path):
    return os.lstat(path).st_mode & 0o7777


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=["0644", "0640", "0604"])
def test_served_key_readable_beyond_root_is_set_back_to_0600(httpd, unique, mode):
    """A live key copied or restored under umask 022 (any group or other bit:
    the archive file domains/<name> links to), keys/ opened to 0755, a key
    in keys/<name>/ and the fallback key readable, staging/ 0777: all set back
    to their documented modes at the next graceful restart (and at every one
    after it), each with a warning that names the path, the mode and what to
    do; the same certificate keeps serving."""
    name = unique("keymode")
    cert = issue(httpd, name)
    store = httpd.store
    live_key = os.path.join(harness.live_version(store, name), "privkey.pem")
    keys_dir = os.path.join(store, "keys")
    name_keys = os.path.join(keys_dir, name)
    custody_key = [os.path.join(name_keys, f) for f in os.listdir(name_keys)
                   if f.endswith(".key")][0]
    fallback_key = os.path.join(store, "fallback", "privkey.pem")
    staging = os.path.join(store, "staging")
    for round_ in range(2):
        log_start = len(httpd.error_log_text())
        os.chmod(live_key, mode)
        os.chmod(keys_dir, 0o755)
        os.chmod(name_keys, 0o750)
        os.chmod(custody_key, mode)
        if os.path.exists(fallback_key):
            os.chmod(fallback_key, mode)
        os.chmod(staging, 0o777)
        httpd.graceful()
        wait_for(lambda: "ACME00691" in httpd.error_log_text()[log_start:], 30,
                 what="the warnings about the modes (round %d)" % round_)
        log = httpd.error_log_text()[log_start:].splitlines()
        for path, want in ((live_key, 0o600), (keys_dir, 0o700), (name_keys, 0o700),
                           (custody_key, 0o600), (staging, 0o700)):
            assert _mode(path) == want, "%s is %04o after graceful restart %d" % (
                path, _mode(path), round_)
        if os.path.exists(fallback_key):
            assert _mode(fallback_key) == 0o600
        line = [l for l in log if "ACME00675" in l]
        assert line, "no ACME00675 in round %d" % round_
        assert live_key in line[0] and "%04o" % mode in line[0] \
            and "acmectl renew %s" % name in line[0], line[0]
        for path, had, tag in ((keys_dir, 0o755, "ACME00691"), (staging, 0o777, "ACME01507"),
                               (name_keys, 0o750, "ACME00691"), (custody_key, mode, "ACME00690")):
            hits = [l for l in log if tag in l and "%s " % path in l]
            assert hits, "no %s naming %s in round %d" % (tag, path, round_)
            assert "%04o" % had in hits[0] and "chmod" in hits[0], hits[0]
        assert httpd.verified_cert(name).serial_number == cert.serial_number
    # (a status record may be being written right now: its temp file is no problem)
    assert not harness.store_problems(store, temp_files=False)


def test_stray_files_in_keys_are_left_alone(httpd, unique):
    """Only the files mod_acme makes in keys/<name>/ (its keys, refused.json)
    are set back to 0600 at a start: a file of the administrator's there
    (notes.txt) keeps its mode, and ACME00690 never calls it a private key;
    acmectl check tells it as not mod_acme's."""
    name = unique("stray")
    issue(httpd, name)
    store = httpd.store
    name_keys = os.path.join(store, "keys", name)
    custody_key = [os.path.join(name_keys, f) for f in os.listdir(name_keys)
                   if f.endswith(".key")][0]
    notes = os.path.join(name_keys, "notes.txt")
    with open(notes, "w") as f:
        f.write("renewed by hand once\n")
    os.chmod(notes, 0o644)
    os.chmod(custody_key, 0o644)
    httpd.stop()
    log_start = len(httpd.error_log_text())
    httpd.start()
    wait_for(lambda: "ACME00697" in httpd.error_log_text()[log_start:], WALK_TIMEOUT,
             what="ACME00697: the background walk of the whole store done")
    log = httpd.error_log_text()[log_start:]
    assert _mode(custody_key) == 0o600
    assert re.search(r"ACME00690: the private key %s had mode 0644" % re.escape(custody_key),
                     log), log
    assert _mode(notes) == 0o644
    assert notes not in log, log
    chk = httpd.acmectl("--store", store, "check")
    assert notes in chk.stdout + chk.stderr, chk.stdout + chk.stderr


def test_store_directories_open_to_others_are_told_and_set_back(httpd, unique):
    """Every directory of the store root writes, not only keys/: archive/,
    domains/, archive/<name>/, its live version, config/ and refused/ (and the
    child's status/) made writable by everyone are told by configtest (which
    passes: "apachectl graceful" runs it before the repair), flagged by
    acmectl check, and set back to 0755 at the graceful restart with a
    warning naming path, modes and 'acmectl check'. A store directory writable by everyone fails acmectl check too.
    acmectl check says which of them httpd sets back, and when (a directory
    of root's another user owns: test_store_directory_of_another_owner_refused); staging/ at
    0755 (documented 0700) is told and set back as httpd does; staging/<x>/,
    which httpd never sets back, gets the chmod to run instead."""
    name = unique("dirmode")
    issue(httpd, name)
    store = httpd.store
    live = harness.live_version(store, name)
    dirs = [os.path.join(store, d) for d in ("archive", "domains", "config", "refused",
                                              "status")]
    dirs += [os.path.dirname(live), live]
    # staging/ open beyond its 0700 (set back, as the rest), and a directory
    # in it that httpd never sets back: acmectl check gives its chmod
    staging = os.path.join(store, "staging")
    staged = os.path.join(staging, unique("open"))
    os.makedirs(staged)
    for d in dirs + [staged]:
        os.chmod(d, 0o777)
    os.chmod(staging, 0o755)
    try:
        rc, out = httpd.configtest()
        assert rc == 0, out
        for d in dirs:
            assert re.search(r"ACME01510: the store directory %s has mode 0777, writable "
                             % re.escape(d), out), (d, out)
        assert "ACME01510: the store directory %s has mode 0755, open beyond its " \
            "documented 0700" % staging in out, out
        assert staged not in out, out
        chk = httpd.acmectl("--store", store, "check")
        lines = (chk.stdout + chk.stderr).splitlines()

        def said(d):
            hit = [l for l in lines if l.startswith("problem: %s: directory has" % d)]
            assert len(hit) == 1, (d, lines)
            return hit[0]
        for d in dirs[:5] + [staging]:
            assert "httpd sets it back at its next start or graceful restart" in said(d)
        for d in dirs[5:]:
            assert "httpd sets it back at its next start after a stop, or at any restart " \
                "for the keys and live certificate of a configured name" in said(d)
        assert "%s: directory has mode 0755, must be 0700;" % staging in said(staging)
        assert "httpd does not set it back (fix: chmod 0700 '%s')" % staged in said(staged)
        assert "sets it back" not in said(staged)
        assert "ACME01509" not in out, out
        chk = httpd.acmectl("--store", store, "check")
        out = chk.stdout + chk.stderr
        assert chk.returncode != 0, out
        for d in dirs:
            assert "%s: directory has mode 0777, writable by other users" % d in out, out
        log_start = len(httpd.error_log_text())
        httpd.graceful()
        wait_for(lambda: "ACME01507" in httpd.error_log_text()[log_start:], 30,
                 what="the warnings about the store's directories")
        log = httpd.error_log_text()[log_start:].splitlines()
        for d in dirs:
            assert _mode(d) == 0o755, "%s is %04o after the graceful restart" % (d, _mode(d))
            hits = [l for l in log if "ACME01507: the store directory %s had mode 0777" % d in l]
            assert hits and "set it to 0755" in hits[0] and "acmectl check" in hits[0], (d, log)
        assert _mode(staging) == 0o700
        assert [l for l in log if "ACME00691: the store directory %s had mode 0755" % staging
                in l], log
        assert _mode(staged) == 0o777, log
        assert not [l for l in log if "the store directory %s " % staged in l], log
    finally:
        os.rmdir(staged)
        os.chmod(staging, 0o700)
    # the store's own directory: httpd refuses it (ACME00548); acmectl check too
    os.chmod(store, 0o777)
    try:
        chk = httpd.acmectl("--store", store, "check")
    finally:
        os.chmod(store, 0o755)
    out = chk.stdout + chk.stderr
    assert chk.returncode != 0, out
    assert "%s: the store's directory has mode 0777, writable by other users" % store in out, out


def test_whole_store_walked_once_per_parent_live_keys_at_graceful(httpd, unique):
    """The whole of keys/ and archive/ is walked once per parent process: at a
    graceful restart only keys/<name>/ and the live version of each configured
    domain are (ACME00696 says which walk), so a restart does not cost every
    archived version; an archived version that is not live, and keys/ of a
    name configured nowhere, are set back at the next cold start."""
    name = unique("sweep")
    issue(httpd, name)
    store = httpd.store
    live = harness.live_version(store, name)
    older = os.path.join(os.path.dirname(live), "0-older")
    os.makedirs(older, mode=0o700)
    for f in os.listdir(live):
        with open(os.path.join(live, f), "rb") as src, open(os.path.join(older, f), "wb") as dst:
            dst.write(src.read())
    older_key = os.path.join(older, "privkey.pem")
    live_key = os.path.join(live, "privkey.pem")
    gone_keys = os.path.join(store, "keys", unique("gone"))
    os.makedirs(gone_keys)

    def sweep_lines(since):
        return [l for l in httpd.error_log_text()[since:].splitlines() if "ACME00696" in l]

    def set_modes():
        os.chmod(older_key, 0o644)
        os.chmod(live_key, 0o644)
        os.chmod(gone_keys, 0o755)
    set_modes()
    log_start = len(httpd.error_log_text())
    httpd.graceful()
    wait_for(lambda: sweep_lines(log_start), 30, what="ACME00696 after the graceful restart")
    line = sweep_lines(log_start)[0]
    assert "the live versions and keys/ of the configured domains" in line, line
    assert _mode(live_key) == 0o600
    # not walked at a graceful restart: not live, not configured
    assert _mode(older_key) == 0o644 and _mode(gone_keys) == 0o755
    httpd.stop()
    log_start = len(httpd.error_log_text())
    httpd.start()
    wait_for(lambda: sweep_lines(log_start), 30, what="ACME00696 after the start")
    assert "all of keys/ and archive/ follow in the background" in sweep_lines(log_start)[0]
    # the monitor hook walks the whole store after the server serves
    wait_for(lambda: "ACME00697" in httpd.error_log_text()[log_start:], WALK_TIMEOUT,
             what="ACME00697: the background walk of the whole store done")
    log = httpd.error_log_text()[log_start:]
    assert _mode(older_key) == 0o600 and _mode(gone_keys) == 0o700
    assert re.search(r"ACME00675: .*%s" % re.escape(older_key), log), log
    assert re.search(r"ACME00691: .*%s " % re.escape(gone_keys), log), log
    # the next graceful restart walks the live ones again, and only those
    set_modes()
    log_start = len(httpd.error_log_text())
    httpd.graceful()
    wait_for(lambda: sweep_lines(log_start), 30, what="ACME00696 after the second graceful")
    assert "the live versions" in sweep_lines(log_start)[0]
    assert _mode(live_key) == 0o600 and _mode(older_key) == 0o644


def test_first_start_serves_before_the_whole_store_walk(httpd, unique):
    """A parent's first start serves after checking only what it serves
    (keys/<name>/ and the live version of each configured domain): every
    archived version is walked after that, by the monitor hook in slices, so
    the time to serve does not grow with the archive. The findings are the
    same: an old archived key left readable, among many versions of a name
    configured nowhere, is logged (ACME00675) and set back to 0600 once the
    server has resumed normal operations (AH00489), not before."""
    name = unique("walk")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    wait_for(lambda: "AH00489" in httpd.error_log_text(), 30, what="the first start")
    httpd.stop()
    store = httpd.store
    gone = unique("archived")
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    versions = 600
    for v in range(versions):
        d = os.path.join(store, "archive", gone, "%04d" % v)
        os.makedirs(d, mode=0o755)
        fd = os.open(os.path.join(d, "privkey.pem"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, key)
        os.close(fd)
    old_key = os.path.join(store, "archive", gone, "%04d" % (versions // 2), "privkey.pem")
    os.chmod(old_key, 0o644)
    log_start = len(httpd.error_log_text())
    httpd.start()
    wait_for(lambda: "ACME00697" in httpd.error_log_text()[log_start:], WALK_TIMEOUT,
             what="ACME00697: the background walk of the whole store done")
    log = httpd.error_log_text()[log_start:]
    resumed = log.index("AH00489")
    before = log[:resumed]
    # each configuration pass of the start (httpd reads it twice) checks the
    # served files only; the first schedules the walk of the whole store
    checked = [l for l in before.splitlines() if "ACME00696" in l]
    assert checked and all("the live versions and keys/ of the configured domains" in l
                           for l in checked), before
    assert "follow in the background" in checked[0], before
    # nothing of the archive of a name configured nowhere before serving
    assert gone not in before, before
    fixed = re.search(r"ACME00675: the private key of %s \(%s\) had mode 0644" % (
        re.escape(gone), re.escape(old_key)), log)
    assert fixed and fixed.start() > resumed, log
    done = re.search(r"ACME00697: .* (\d+) in archive/, (\d+) file\(s\) or directories set back",
                     log)
    assert done and done.start() > resumed and int(done.group(1)) >= 2 \
        and int(done.group(2)) >= 1, log
    assert _mode(old_key) == 0o600
    assert _mode(os.path.join(store, "archive", gone, "0000", "privkey.pem")) == 0o600


def test_no_key_readable_during_renewal(httpd, unique):
    """While a renewal runs (order, staging, activation), no file the User can
    read holds the key of the certificate that goes live."""
    name = unique("renewkey")
    first = issue(httpd, name)
    time.sleep(1.2)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeRenewWindow": "100%"})
    httpd.graceful()
    seen = []
    deadline = time.monotonic() + RENEW_TIMEOUT
    second = None
    while time.monotonic() < deadline:
        seen.extend(user_readable_keys(httpd.store))
        try:
            c = httpd.verified_cert(name)
            if c.serial_number != first.serial_number:
                second = c
                break
        except OSError:
            pass
        time.sleep(0.2)
    assert second, "no renewal within %ds\n%s" % (RENEW_TIMEOUT, httpd.diagnostics())
    served = public_der(second.public_key())
    leaked = [p for p, k in seen if public_der(k.public_key()) == served]
    assert not leaked, "%s could read the new key at %s" % (HTTPD_USER, leaked)
    assert public_der(first.public_key()) != served, "the renewal reused the key"
    assert_key_not_readable(httpd.store, second, "after the renewal")


def test_planted_self_signed_is_not_served(httpd, unique):
    """Attack 1: the User stages its own key with a self-signed 100-year
    certificate. Refused (not a key root generated), moved aside, logged; the
    site keeps its Pebble certificate and httpd stays up."""
    name = unique("planted")
    cert = issue(httpd, name)
    parent = httpd.pid()
    key = ec.generate_private_key(ec.SECP256R1())
    plant(httpd, name, key, self_signed([name], key, 36500))
    wait_for(lambda: refused(httpd, name), 30, what="the planted certificate to be refused")
    log = httpd.error_log_text()
    assert "not one this server generated for %s" % name in log, httpd.diagnostics()
    staging = os.path.join(httpd.store, "staging", name)
    assert not os.path.exists(os.path.join(staging, "ready"))
    assert os.path.exists(os.path.join(staging, "rejected"))
    wait_for(lambda: httpd.running() and harness.port_open(httpd.https_port), 20,
             what="httpd serving after the restart")
    assert_still_serving(httpd, name, cert, parent)
    # planted again at once: the name's backoff holds it, no restart for it
    restarts = httpd.generation_count()
    plant(httpd, name, key, self_signed([name], key, 36500))
    time.sleep(4)
    assert httpd.generation_count() == restarts, "the replanted entry restarted httpd"
    assert_still_serving(httpd, name, cert, parent)


def test_planted_rsa1024_keeps_httpd_up(httpd, unique):
    """Attack 2: an RSA-1024 key, which mod_ssl refuses to load at a restart.
    It is refused before it could go live; httpd stays up and serving."""
    name = unique("weak")
    cert = issue(httpd, name)
    parent = httpd.pid()
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    plant(httpd, name, key, self_signed([name], key, 90))
    wait_for(lambda: refused(httpd, name), 30, what="the RSA-1024 certificate to be refused")
    wait_for(lambda: httpd.running() and harness.port_open(httpd.https_port), 20,
             what="httpd serving after the restart")
    assert_still_serving(httpd, name, cert, parent)


def test_unloadable_live_version_falls_back(httpd, unique):
    """Should a version mod_ssl cannot load ever be live (here: root itself
    links an RSA-1024 pair in), a restart serves the previous version and
    reports it; httpd never stops over the store."""
    name = unique("fallback")
    cert = issue(httpd, name)
    parent = httpd.pid()
    store = httpd.store
    # No replacement can be obtained now: a watchdog that saw the swapped link
    # before the restart below would otherwise stage one (within a second) that
    # the restart activates, and the restart never looks at the bad version.
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % harness.closed_port()})
    httpd.graceful()
    bad = os.path.join(store, "archive", name, "29990101T000000Z-bad")
    os.makedirs(bad)
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with open(os.path.join(bad, "cert.pem"), "wb") as f:
        f.write(self_signed([name], key, 90).public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(bad, "privkey.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(os.path.join(bad, "privkey.pem"), 0o600)
    link = os.path.join(store, "domains", name)
    tmp = link + ".swap"
    os.symlink("../archive/%s/29990101T000000Z-bad" % name, tmp)
    os.rename(tmp, link)
    httpd.graceful()
    # the RSA-1024 pair is never served: the previous version is
    assert_still_serving(httpd, name, cert, parent)
    assert "ACME00637: the live certificate of %s cannot be served" % name \
        in httpd.error_log_text(), httpd.diagnostics()


PROOF_COUNTS = re.compile(r"ACME01506: (\d+) live certificate\(s\) reused from the last proof, "
                          r"(\d+) proven, (\d+) proven by their activation")


def proof_counts(httpd, offset):
    """(reused, proven, activated) of the restarts logged after offset (each
    summed), None when none said (a restart with no live pair it could use)."""
    found = PROOF_COUNTS.findall(httpd.error_log_text()[offset:])
    return tuple(sum(int(f[i]) for f in found) for i in range(3)) if found else None


def restart_logged(httpd):
    """A graceful restart; the error log from before it."""
    offset = len(httpd.error_log_text())
    httpd.graceful()
    return offset


def test_live_proof_reused_until_a_file_changes(httpd, unique):
    """A graceful restart with nothing changed reuses the proof of the live
    pair from the restart before (nothing parsed again), the first after its
    activation too. A cert.pem garbled in
    place with its inode, size and mtime kept (only its ctime differs) is
    proven again and not served; put back, it is proven and served again.
    Another name's certificate with a key of its own, moved in under the same
    path, is not served either."""
    name = unique("proof")
    cert = issue(httpd, name)
    parent = httpd.pid()
    # no replacement can be obtained: what is served is what the store holds
    # the restart that made it live proved it there (activation), not again
    assert proof_counts(httpd, 0)[2] >= 1, httpd.error_log_text()
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % harness.closed_port()})
    for _ in range(2):
        offset = restart_logged(httpd)
        assert proof_counts(httpd, offset) == (1, 0, 0), httpd.error_log_text()[offset:]
    assert_still_serving(httpd, name, cert, parent)

    path = os.path.join(harness.live_version(httpd.store, name), "cert.pem")
    with open(path, "rb") as f:
        good = f.read()
    before = os.stat(path)

    def rewrite_in_place(data):
        with open(path, "r+b") as f:
            f.write(data)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        now = os.stat(path)
        assert (now.st_ino, now.st_size, now.st_mtime_ns) == \
            (before.st_ino, before.st_size, before.st_mtime_ns)
        assert now.st_ctime_ns != before.st_ctime_ns

    time.sleep(0.01)   # a ctime of its own
    rewrite_in_place(b"x" * len(good))
    offset = restart_logged(httpd)
    text = httpd.error_log_text()[offset:]
    assert "ACME00610: the live certificate of %s cannot be served" % name in text, text
    assert proof_counts(httpd, offset) in (None, (0, 0, 0)), text
    assert httpd.running() and httpd.pid() == parent
    assert httpd.served_cert(name).serial_number != cert.serial_number

    rewrite_in_place(good)
    offset = restart_logged(httpd)
    assert proof_counts(httpd, offset) == (0, 1, 0), httpd.error_log_text()[offset:]
    assert_still_serving(httpd, name, cert, parent)
    offset = restart_logged(httpd)
    assert proof_counts(httpd, offset) == (1, 0, 0), httpd.error_log_text()[offset:]

    # a certificate that parses and loads, but not with this key
    key = ec.generate_private_key(ec.SECP256R1())
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(self_signed([name], key, 90).public_bytes(serialization.Encoding.PEM))
    os.rename(tmp, path)
    offset = restart_logged(httpd)
    text = httpd.error_log_text()[offset:]
    assert re.search(r"ACME00610: the live certificate of %s cannot be served .*public key "
                     r"does not match" % re.escape(name), text), text
    assert proof_counts(httpd, offset) in (None, (0, 0, 0)), text
    assert httpd.served_cert(name).serial_number != cert.serial_number


# --------------------------------------------------------------------------
# the account key: the child's, so the User's too

READ_FILE = "import sys; sys.stdout.write(open(sys.argv[1]).read())"


def stolen_account(httpd, directory_url=None):
    """What the User can take: the account key and URL of the store's one
    account, as a client of the CA at directory_url (default: httpd's Pebble)."""
    from selfcheck import MiniAcme, b64u
    accounts = os.path.join(httpd.store, "accounts")
    (ca_dir,) = [d for d in os.listdir(accounts) if os.path.isdir(os.path.join(accounts, d))]
    base = os.path.join(accounts, ca_dir)
    key = serialization.load_pem_private_key(
        as_user(READ_FILE, os.path.join(base, "account.key")).encode(), None)
    kid = json.loads(as_user(READ_FILE, os.path.join(base, "account.json")))["url"]
    client = MiniAcme(directory_url or httpd.pebble.directory_url, httpd.pebble.ca.ca_pem)
    nums = key.public_key().public_numbers()
    client.key = key
    client.jwk = {"crv": "P-256", "kty": "EC", "x": b64u(nums.x.to_bytes(32, "big")),
                  "y": b64u(nums.y.to_bytes(32, "big"))}
    client.kid = kid
    return client, base


def test_deactivated_account_is_replaced_without_an_administrator(httpd, unique):
    """The User deactivates the ACME account with the account key it can read.
    The next order meets 'unauthorized'; mod_acme sets the burnt key aside,
    makes a new key and account, and the renewal goes through."""
    name = unique("deact")
    first = issue(httpd, name)
    client, base = stolen_account(httpd)
    with open(os.path.join(base, "account.key"), "rb") as f:
        old_key = f.read()
    resp = client.post(client.kid, {"status": "deactivated"})
    assert resp.json().get("status") == "deactivated", resp.text
    time.sleep(1.2)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeRenewWindow": "100%"})
    httpd.graceful()
    second = harness.wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
    assert harness.cert_names(second) == {name}
    with open(os.path.join(base, "account.key"), "rb") as f:
        assert f.read() != old_key, "the deactivated account's key is still in use"
    with open(os.path.join(base, "account.json")) as f:
        assert json.load(f)["url"] != client.kid
    assert "ACME004" in httpd.error_log_text()


def test_certificate_revoked_with_the_account_key_is_replaced(httpd, pebble, unique):
    """The User revokes the live certificate with the account key it can read.
    A CA that speaks ARI says "renew now" for a revoked certificate, as Let's
    Encrypt does (here: a proxy in front of Pebble 2.4, which asks Pebble's own
    record of the certificate); mod_acme replaces it without anyone's help."""
    import base64

    import requests
    from ari_proxy import AcmeProxy

    proxy = AcmeProxy(pebble).start()
    try:
        def window(cid):
            serial = base64.urlsafe_b64decode(cid.split(".")[1] + "==")
            r = requests.get("https://127.0.0.1:%d/cert-status-by-serial/%x" % (
                pebble.mgmt_port, int.from_bytes(serial, "big")), verify=pebble.ca.ca_pem,
                timeout=5)
            now = utcnow()
            if r.status_code == 200 and r.json().get("Status") == "Revoked":
                return now - datetime.timedelta(hours=2), now - datetime.timedelta(hours=1)
            return now + datetime.timedelta(days=300), now + datetime.timedelta(days=301)
        proxy.set_window_function(window, retry_after=1)
        name = unique("revoked")
        httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
        httpd.start()
        first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
        client, _ = stolen_account(httpd, proxy.directory_url)
        from selfcheck import b64u
        client.post(client.dir["revokeCert"],
                    {"certificate": b64u(first.public_bytes(serialization.Encoding.DER))})
        second = harness.wait_for_new_cert(httpd, name, first.serial_number, 150)
        assert harness.cert_names(second) == {name}
    finally:
        proxy.stop()


def test_keys_of_a_removed_domain_go_after_the_grace_period(httpd, unique):
    """keys/<name>/ of a domain no longer configured holds keys that never
    went live: it stays for 90 days after a server last started with the
    name, then goes with its CSR; a configured name's keys stay however old
    their directory is (docs/security.md, "Keys of removed domains")."""
    name = unique("keyskept")
    issue(httpd, name)
    keys = os.path.join(httpd.store, "keys")
    csr = os.path.join(httpd.store, "csr")
    wait_for(lambda: os.listdir(os.path.join(keys, name)), 20, what="the next key of " + name)
    old = time.time() - 91 * 86400
    for ghost in ("gone-" + name, "recent-" + name):
        os.makedirs(os.path.join(keys, ghost), mode=0o700)
        with open(os.path.join(keys, ghost, "0" * 64 + ".key"), "w") as f:
            f.write("pending\n")
        with open(os.path.join(csr, ghost + ".json"), "w") as f:
            f.write("{}\n")
    os.utime(os.path.join(keys, "gone-" + name), (old, old))
    os.utime(os.path.join(keys, name), (old, old))
    configured_keys = sorted(os.listdir(os.path.join(keys, name)))
    httpd.graceful()
    wait_for(lambda: not os.path.exists(os.path.join(keys, "gone-" + name)), 20,
             what="the removed domain's keys to go")
    assert not os.path.exists(os.path.join(csr, "gone-%s.json" % name))
    assert os.path.exists(os.path.join(keys, "recent-" + name, "0" * 64 + ".key"))
    assert os.path.exists(os.path.join(csr, "recent-%s.json" % name))
    assert sorted(os.listdir(os.path.join(keys, name))) == configured_keys
    assert os.stat(os.path.join(keys, name)).st_mtime > time.time() - 3600, \
        "the configured name's keys were not marked in use"
    log = httpd.error_log_text()
    assert "ACME00640" in log and "gone-" + name in log, httpd.diagnostics()
    assert httpd.running()


def _apachectl_graceful(httpd):
    """apachectl graceful (Debian's apache2ctl) on httpd's configuration: it
    runs configtest first and signals the server only if that passes."""
    env = harness.clean_env(httpd.extra_env)
    env.update({"APACHE_ENVVARS": "/nonexistent",
                "APACHE_ARGUMENTS": "-d %s -f %s" % (httpd.serverroot, httpd.conf_path)})
    p = subprocess.run(["/usr/sbin/apache2ctl", "graceful"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def test_refused_start_is_told_in_the_error_log(httpd, unique):
    """A start refused because keys/ has another owner says why on the
    terminal and in the ErrorLog file too, where apachectl sends the
    administrator ("The Apache error log may have more information"), in the
    log's own format; so does the configtest that refuses "apachectl
    graceful"."""
    httpd.write_config(vhosts=ssl_vhost(unique("refusedlog")))
    httpd.start()
    httpd.stop()
    keys = os.path.join(httpd.store, "keys")
    user = pwd.getpwnam(HTTPD_USER)
    os.chown(keys, user.pw_uid, -1)
    said = "ACME01509: the store directory %s is owned by uid %d (%s), not root" % (
        keys, user.pw_uid, HTTPD_USER)
    try:
        log_start = len(httpd.error_log_text())
        with pytest.raises(harness.HarnessError) as refused:
            httpd.start(timeout=10)
        assert said in str(refused.value), refused.value
        assert not httpd.running()
        lines = [l for l in httpd.error_log_text()[log_start:].splitlines() if said in l]
        assert len(lines) == 1 and re.match(r"^\[[^]]+\] \[acme:error\] \[pid \d+", lines[0]) \
            and "chown root:root '%s'" % keys in lines[0], httpd.error_log_text()[log_start:]
        log_start = len(httpd.error_log_text())
        rc, out = httpd.configtest()
        assert rc != 0 and said in out, out
        assert said in httpd.error_log_text()[log_start:], httpd.error_log_text()[log_start:]
    finally:
        os.chown(keys, 0, -1)


def test_refused_start_opens_the_error_log_once(httpd, unique):
    """A configtest that finds several directories of root's owned by another
    user tells each one (ACME01509) in the ErrorLog file too, and opens that
    file once for the walk, not once per directory."""
    if shutil.which("strace") is None:
        print("strace is not installed (build/deps.sh installs it): the opens are not counted")
        pytest.skip("strace is not installed (build/deps.sh installs it)")
    if harness.run(["strace", "-o", "/dev/null", "true"]).returncode != 0:
        pytest.skip("strace cannot trace here")
    httpd.write_config(vhosts=ssl_vhost(unique("refusedonce")))
    httpd.start()
    httpd.stop()
    user = pwd.getpwnam(HTTPD_USER)
    dirs = [os.path.join(httpd.store, d) for d in ("keys", "archive", "csr")]
    trace = os.path.join(httpd.serverroot, "configtest.strace")
    for d in dirs:
        os.chown(d, user.pw_uid, -1)
    try:
        log_start = len(httpd.error_log_text())
        p = harness.run(["strace", "-f", "-e", "trace=openat,open", "-o", trace,
                         harness.APACHE_BIN, "-d", httpd.serverroot, "-f", httpd.conf_path,
                         "-t"], env=harness.clean_env(httpd.extra_env))
        assert p.returncode != 0, p.stderr + p.stdout
        told = [l for l in httpd.error_log_text()[log_start:].splitlines() if "ACME01509" in l]
        for d in dirs:
            assert len([l for l in told if "directory %s is" % d in l]) >= 1, told
        with open(trace) as f:
            opens = [l for l in f if '"%s"' % httpd.error_log in l and "O_APPEND" in l]
        # one walk per reading of the configuration, each telling every directory
        walks = len(told) // len(dirs)
        assert walks >= 1 and len(told) == walks * len(dirs), told
        assert len(opens) == walks, opens
    finally:
        for d in dirs:
            os.chown(d, 0, -1)


def test_store_directory_of_another_owner_refused(httpd, unique):
    """A directory of root's owned by another user is what sshd's StrictModes
    refuses: keys/ owned by the User (who could then read every private key)
    fails configtest with its owner, why it matters and the chown to run;
    "apachectl graceful" and "apache2 -k graceful" are refused and the
    running server keeps serving; SIGUSR1 reaches the parent, which refuses
    the restart (ACME01508) and stops; a start is refused. config/, which holds no keys, is told
    for what it holds. mod_acme never changes the owner."""
    name = unique("owner")
    cert = issue(httpd, name)
    store = httpd.store
    parent = httpd.pid()
    user = pwd.getpwnam(HTTPD_USER)
    keys = os.path.join(store, "keys")
    config = os.path.join(store, "config")
    os.chown(keys, user.pw_uid, -1)
    try:
        out = harness.configtest_fails(httpd, [
            "ACME01509: the store directory %s is owned by uid %d (%s), not root"
            % (keys, user.pw_uid, HTTPD_USER),
            "its owner can read every private key in it",
            "chown root:root '%s'" % keys,
            "configtest fails and httpd does not start; 'apachectl graceful' and 'apache2 -k "
            "graceful' are refused and a running server keeps serving"])
        assert "ACME01509: the store directory %s " % config not in out, out
        # the command named is the program httpd was run as
        link = os.path.join(httpd.serverroot, "httpd")
        os.symlink(harness.APACHE_BIN, link)
        p = harness.run([link, "-d", httpd.serverroot, "-f", httpd.conf_path, "-t"],
                        env=harness.clean_env(httpd.extra_env))
        assert p.returncode != 0 and "'apachectl graceful' and 'httpd -k graceful' are " \
            "refused" in p.stderr + p.stdout, p.stderr + p.stdout
        generations = httpd.generation_count()
        rc, out = _apachectl_graceful(httpd)
        assert rc != 0 and "ACME01509" in out and keys in out, out
        time.sleep(2)
        assert httpd.generation_count() == generations, "the graceful restart ran"
        # apache2 -k graceful reads the configuration before it signals
        with pytest.raises(harness.HarnessError) as refused:
            httpd.graceful(timeout=5)
        assert "ACME01509: the store directory %s " % keys in str(refused.value)
        assert httpd.generation_count() == generations, "the graceful restart ran"
        assert_still_serving(httpd, name, cert, parent)
        assert os.stat(keys).st_uid == user.pw_uid    # told, not changed
        # only a graceful restart signalled straight to the parent reaches
        # post_config, which refuses it: the server stops, as for any error
        log_start = len(httpd.error_log_text())
        os.kill(parent, signal.SIGUSR1)
        wait_for(lambda: not httpd.running(), 30, what="the refused restart to stop httpd")
        # its pid file stays (a zombie here, where no init reaps it, keeps
        # "apache2 -k start" from starting): gone as after a reboot
        os.unlink(httpd.pid_file)
        log = [l for l in httpd.error_log_text()[log_start:].splitlines() if "ACME01508" in l]
        assert log and keys in log[0] and "owned by uid %d (%s)" % (user.pw_uid, HTTPD_USER) \
            in log[0] and "httpd does not start until root owns it" in log[0] \
            and "its owner can read every private key in it" in log[0] \
            and "chown root:root '%s'" % keys in log[0], log
        # a start is refused with the words of configtest
        with pytest.raises(harness.HarnessError) as refused:
            httpd.start(timeout=10)
        assert "ACME01509: the store directory %s is owned by uid %d (%s)" % (
            keys, user.pw_uid, HTTPD_USER) in str(refused.value), refused.value
        assert not httpd.running()
    finally:
        os.chown(keys, 0, -1)
    httpd.start()
    os.chown(config, user.pw_uid, -1)
    try:
        out = harness.configtest_fails(httpd, [
            "ACME01509: the store directory %s is owned by uid %d" % (config, user.pw_uid),
            "it holds no certificates or keys but the configuration root recorded for each "
            "domain", "chown root:root '%s'" % config])
        assert "replace the certificates and keys" not in out, out
        # stopping is not refused (Linux: the command line is read)
        p = httpd._ctl("-k", "stop")
        assert p.returncode == 0, p.stdout + p.stderr
        wait_for(lambda: not httpd.running(), 30, what="httpd to stop")
    finally:
        os.chown(config, 0, -1)
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    assert httpd.verified_cert(name).serial_number == cert.serial_number
