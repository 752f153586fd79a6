"""Hard faults around a running server: the store's filesystem full (filled
during issuance) or read-only, files of the store truncated, emptied or
replaced by garbage, and the CA's TLS certificate changed to one that does
not verify. Each: the live certificate keeps serving, the error names the
path (or URL) and the reason, and the server recovers by itself once the
fault is gone.

The store lives on a 2 MB tmpfs the test mounts over AcmeStoreDir (root
only; unmounted in teardown). Faults are injected by the CA proxy at the
renewal's new order (hostile_ca.py: a callable in the queue), so they hit a
running issuance; AcmeCA lists two proxies so that the retry after a fault
comes after ~10 s (the first failover pass), not a minute."""
import json
import os
import re
import subprocess
import threading
import time

import pytest

import harness
from harness import archive_versions, ssl_vhost, wait_for, wait_for_new_cert
from hostile_ca import HostileCA

ATTEMPT = re.compile(r"ACME00402: (\S+): obtaining a certificate failed in step (\S+) "
                     r"\(attempt (\d+)\): (.*); next attempt at (\S+)")


class Tmpfs:
    def __init__(self, path, size="2m"):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.filler = None
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            pytest.fail("cannot mount a tmpfs on %s (the fault tests need root): %s"
                        % (path, r.stdout))

    def fill(self, leave=0):
        """Fills the filesystem up to `leave` bytes (as root: no reserve on tmpfs)."""
        self.filler = os.path.join(self.path, ".filler")
        st = os.statvfs(self.path)
        free = st.f_bavail * st.f_frsize
        with open(self.filler, "wb") as f:
            try:
                f.write(b"\0" * max(free - leave, 0))
                f.flush()
                os.fsync(f.fileno())
            except OSError:
                pass

    def unfill(self):
        if self.filler and os.path.exists(self.filler):
            os.unlink(self.filler)

    def remount(self, mode):
        subprocess.run(["mount", "-o", "remount,%s" % mode, self.path], check=True)

    def umount(self):
        subprocess.run(["mount", "-o", "remount,rw", self.path], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", self.path], stderr=subprocess.DEVNULL)


@pytest.fixture
def tmpfs_store():
    made = []

    def make(path):
        t = Tmpfs(path)
        made.append(t)
        return t
    yield make
    for t in made:
        t.umount()


class Server(HostileCA):
    """One httpd with its own Pebble behind two hostile proxies."""

    def __init__(self, label, httpd_factory, workdir, challtestsrv, unique, due_certs):
        super().__init__(label, httpd_factory, workdir, challtestsrv, unique, due_certs, proxies=2)

    def start(self, faults):
        with self.state.lock:
            self.state.after_cert = [[f, None] for f in faults]
        self.httpd.write_config(vhosts=ssl_vhost(self.name), acme={
            "AcmeCA": " ".join(p.directory_url for p in self.proxies)})
        self.httpd.start()
        return self.httpd.wait_for_pebble_cert(self.name, 120)

    def failure_after(self, offset, timeout=60):
        def found():
            text = self.httpd.error_log_text()[offset:]
            for m in ATTEMPT.finditer(text):
                if m.group(1) == self.name:
                    return m
            return None
        try:
            return wait_for(found, timeout, interval=0.1, what="%s: a failed attempt" % self.name)
        except TimeoutError as exc:
            raise AssertionError("%s\n%s" % (exc, self.httpd.diagnostics(80))) from None

    def unharmed(self, serial, versions):
        served = self.httpd.verified_cert(self.name)
        assert served.serial_number == serial, "live certificate changed: %x -> %x" % (
            serial, served.serial_number)
        assert self.httpd.http_request("/index.html")[0] == 200
        staging = os.path.join(self.httpd.store, "staging", self.name)
        assert not os.path.isdir(staging) or not os.listdir(staging), os.listdir(staging)
        assert len(archive_versions(self.httpd.store, self.name)) == versions


def store_error_lines(text, store, reason):
    """Log lines naming a path in the store together with the errno text."""
    return [l for l in text.splitlines() if reason in l and store in l]


def test_store_full_read_only_and_untrusted_ca(httpd_factory, workdir, challtestsrv, unique,
                                               tmpfs_store):
    started = time.time()
    srv = Server("faults-disk", httpd_factory, workdir, challtestsrv, unique, due_certs=3)
    store = tmpfs_store(srv.httpd.store)
    untrusted = harness.TestCA(harness.make_tree("it-untrusted-"))
    seen = []
    try:
        offsets = {}

        def mark(label):
            offsets[label] = len(srv.httpd.error_log_text())

        def disk_full():
            mark("full")
            store.fill(leave=4096)     # the next writes of this issuance fail midway

        def read_only():
            mark("ro")
            store.remount("ro")

        def ca_untrusted():
            mark("tls")
            for p in srv.proxies:
                p.serve_certificate(untrusted.cert_pem, untrusted.key_pem)

        cert = srv.start([disk_full, read_only, ca_untrusted])
        for label, reason, undo in [
                ("full", "No space left on device", store.unfill),
                ("ro", "Read-only file system", lambda: store.remount("rw")),
                ("tls", "SSL certificate problem", lambda: [
                    p.serve_certificate(srv.pebble.ca.cert_pem, srv.pebble.ca.key_pem)
                    for p in srv.proxies])]:
            versions = len(archive_versions(srv.httpd.store, srv.name))
            wait_for(lambda: label in offsets, 60, what="fault %s injected" % label)
            if label == "tls":
                # the attempt, or the renewal information asked before it, fails
                hosts = [p.origin.split("//")[1] for p in srv.proxies]

                def tls_said():
                    text = srv.httpd.error_log_text()[offsets[label]:]
                    return [l for l in text.splitlines() if reason in l
                            and any(h in l for h in hosts) and ("ACME00402" in l
                                                                or "ACME00426" in l)]
                said = wait_for(tls_said, 60, what="the CA's TLS failure logged")
                line = said[0]
            else:
                line = srv.failure_after(offsets[label]).group(0)
                text = srv.httpd.error_log_text()[offsets[label]:]
                said = store_error_lines(text, srv.httpd.store, reason)
            seen.append((label, line[:400], said[:3]))
            assert said, "%s: no log line names the store path (or CA URL) and %r" % (
                label, reason)
            if label == "tls":
                # an attempt under way may finish on its resumed TLS session
                # (the old certificate's): whatever is live still verifies
                cert = srv.httpd.verified_cert(srv.name)
            else:
                srv.unharmed(cert.serial_number, versions)
            undo()
            if label == "tls":     # renewal information failed: nothing was due; ask
                r = srv.httpd.acmectl("--store", srv.httpd.store, "renew", srv.name)
                assert r.returncode == 0, r.stdout + r.stderr
            cert = wait_for_new_cert(srv.httpd, srv.name, cert.serial_number, 120)
            srv.httpd.wait_idle()  # a write in progress has a temp file: no leftover
            assert harness.store_problems(srv.httpd.store) == []
    finally:
        for label, line, said in seen:
            print("\n%s: %s\n   %s" % (label, line, "\n   ".join(s[:400] for s in said)))
        print("took %.0f s" % (time.time() - started))
        srv.stop()


def corrupt(path, how):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        if how == "truncated":
            f.write(data[:len(data) // 2])
        elif how == "garbage":
            f.write(b"\x00\xff garbage \x89PNG\r\n" * 8)
        # "emptied": nothing


def test_corrupted_store_files(httpd_factory, workdir, challtestsrv, unique):
    """State files garbled under a running server, then the live chain and key:
    httpd keeps running and serving, the log names the status file (the
    account record is looked up again by its key), a renewal works, and
    after the live chain and key are destroyed a new certificate comes by
    itself."""
    started = time.time()
    srv = Server("faults-files", httpd_factory, workdir, challtestsrv, unique, due_certs=0)
    try:
        cert = srv.start([])
        store, name = srv.httpd.store, srv.name
        srv.httpd.wait_idle()
        # 1. status, account and configuration records garbled; a restart reads them
        victims = [(os.path.join(store, "status", name + ".json"), "garbage")]
        for root, _dirs, files in os.walk(os.path.join(store, "accounts")):
            victims += [(os.path.join(root, f), "truncated") for f in files if f.endswith(".json")]
        for path, how in victims:
            corrupt(path, how)
        offset = len(srv.httpd.error_log_text())
        srv.httpd.graceful()
        srv.httpd.wait_idle()
        assert srv.httpd.verified_cert(name).serial_number == cert.serial_number
        text = srv.httpd.error_log_text()[offset:]
        # the account record (its URL) is looked up again by key without a word
        unnamed = [p for p, _ in victims if p not in text and "/accounts/" not in p]
        print("state files:", [(p[len(store):], how) for p, how in victims])
        print("\n".join(l[:300] for l in text.splitlines() if "ACME" in l and "error" in l)[:3000])
        assert not unnamed, "no log line names %s" % unnamed
        r = srv.httpd.acmectl("--store", store, "renew", name)
        assert r.returncode == 0, r.stdout + r.stderr
        cert = wait_for_new_cert(srv.httpd, name, cert.serial_number, 120)

        # 2. the live chain truncated and its key emptied
        srv.httpd.wait_idle()
        live = harness.live_version(store, name)
        corrupt(os.path.join(live, "cert.pem"), "truncated")
        corrupt(os.path.join(live, "privkey.pem"), "emptied")
        offset = len(srv.httpd.error_log_text())
        srv.httpd.graceful()
        assert srv.httpd.running()
        assert srv.httpd.http_request("/index.html")[0] == 200
        text = srv.httpd.error_log_text()[offset:]
        print("\n".join(l[:300] for l in text.splitlines() if "ACME" in l and "error" in l)[:3000])
        named = [l for l in text.splitlines() if "ACME00637" in l or "ACME00610" in l]
        assert named and (live in named[0] or os.path.join(store, "domains", name) in named[0]), \
            "no log line names the live files of %s: %s" % (name, named)
        wait_for_new_cert(srv.httpd, name, cert.serial_number, 120)
        srv.httpd.wait_idle()
        # the version the test destroyed stays in the archive, as it was left
        problems = [p for p in harness.store_problems(store) if live not in p]
        assert problems == [], problems
    finally:
        print("took %.0f s" % (time.time() - started))
        srv.stop()


def test_a_status_record_the_full_store_keeps_old_is_not_shown_as_current(httpd, unique,
                                                                          tmpfs_store):
    """The store fills up, then a renewal is asked for and fails: the server
    cannot write status/<name>.json, so the record on disk still says "valid"
    (or "renewing") from before, without the failure. acmectl list/show/check say the record is out of date since the
    failure (never its old state as current), and so does the status page;
    with room again, the next record is written and they say how it
    stands."""
    store = tmpfs_store(httpd.store)
    name = unique("full-record")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, 60)
    wait_for(lambda: httpd.domain_status(name).get("renew_at"), 60, interval=0.5,
             what="the check after activation")
    httpd.wait_idle(timeout=60)

    def listed():
        out = httpd.acmectl("--store", httpd.store, "--json", "list")
        assert out.returncode == 0, out.stdout + out.stderr
        return [d for d in json.loads(out.stdout) if d["name"] == name][0]
    assert listed()["state"] == "valid" and listed()["record_unsaved_since"] is None
    offset = len(httpd.error_log_text())
    store.fill(leave=0)
    r = httpd.acmectl("--store", httpd.store, "renew", name)    # an empty file: still fits
    assert r.returncode == 0, r.stdout + r.stderr

    def unsaved():
        text = httpd.error_log_text()[offset:]
        return "ACME00408: %s: cannot write the status file" % name in text
    wait_for(unsaved, 60, interval=0.5, what="the status file of %s to fail" % name)
    marker = os.path.join(httpd.store, "status", name + ".unsaved")
    wait_for(lambda: "ACME00402: %s: obtaining a certificate failed" % name
             in httpd.error_log_text()[offset:], 60, interval=0.5, what="the attempt to fail")
    with open(os.path.join(httpd.store, "status", name + ".json")) as f:
        on_disk = json.load(f)                       # from before: it knows no failure
    if on_disk.get("error"):
        # The failed attempt removed files of its own (the order's state, the
        # staging temps) and the record after it fitted in the pages they
        # freed: then it is current, and nothing may call it out of date.
        wait_for(lambda: not os.path.exists(marker) and listed()["record_unsaved_since"] is None,
                 10, interval=0.5, what="the written record's out-of-date mark to go")
        assert listed()["state"] not in ("valid", "stale"), listed()
        print("the record after the failure fitted in pages the attempt freed: the "
              "out-of-date views were not reached in this run")
        store.unfill()
        wait_for_new_cert(httpd, name, first.serial_number, 120)
        return
    assert on_disk["state"] in ("valid", "renewing"), on_disk
    # Looked at only here: the whole failed attempt can take less than the
    # look at the log above, and a record after it written in freed pages
    # removes the mark (the branch above).
    assert os.path.isfile(marker) and os.path.getsize(marker) == 0, os.listdir(
        os.path.join(httpd.store, "status"))
    d = listed()
    assert d["state"] == "stale" and d["record_unsaved_since"], d
    out = httpd.acmectl("--store", httpd.store, "list").stdout
    line = [l for l in out.splitlines() if l.startswith(name + " ")]
    assert line and line[0].split()[1] == "stale" and "record out of date" in line[0], out
    out = httpd.acmectl("--store", httpd.store, "show", name).stdout
    assert re.search(r"^state: +stale$", out, re.M), out
    assert re.search(r"^record: +status/%s\.json is out of date: the server could not write "
                     r"it since 20" % re.escape(name), out, re.M), out
    chk = httpd.acmectl("--store", httpd.store, "check")
    assert chk.returncode == 1, chk.stdout + chk.stderr
    assert "problem: %s: the server could not write status/%s.json since" % (name, name) \
        in chk.stdout, chk.stdout
    # the status page says so too (its JSON, and the card for people)
    d = httpd.domain_status(name)
    assert d["record_behind_since"] and d["record_behind_since"] == listed()[
        "record_unsaved_since"], d
    st, _, body = httpd.http_request("/acme-status", headers={"Accept": "text/html"})
    assert st == 200 and "Out of date since" in body.decode(), body[-3000:]
    assert httpd.verified_cert(name).serial_number == first.serial_number

    # room again: the renewal goes through and the records are current
    store.unfill()
    wait_for_new_cert(httpd, name, first.serial_number, 120)
    wait_for(lambda: not os.path.exists(marker) and listed()["state"] == "valid", 60,
             interval=0.5, what="the record of %s written again" % name)
    assert listed()["record_unsaved_since"] is None
    assert httpd.domain_status(name)["record_behind_since"] is None


def test_first_start_on_a_full_store_serves_a_fallback_held_in_memory(httpd, unique,
                                                                      tmpfs_store):
    """The very first start with the store's filesystem full: the fallback
    certificate cannot be written, yet httpd starts (mod_ssl would refuse an
    SSL vhost without a certificate), serves a fallback held in memory with
    the 503, and logs the full store with the fix; once there is room the
    certificate is obtained and served."""
    store = tmpfs_store(httpd.store)
    store.fill(leave=0)
    name = unique("full-first")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    assert httpd.running(), httpd.diagnostics()
    assert not os.path.exists(os.path.join(httpd.store, "fallback", "cert.pem")) or \
        os.path.getsize(os.path.join(httpd.store, "fallback", "cert.pem")) == 0
    cert = httpd.served_cert(name)
    assert cert.issuer == cert.subject, cert.issuer.rfc4514_string()
    assert httpd.https_request(name, "/index.html")[0] == 503
    assert httpd.http_request("/index.html")[0] == 200
    text = httpd.error_log_text()
    line = [l for l in text.splitlines() if "ACME00606" in l]
    assert line and "held in memory" in line[0] and "free space" in line[0], text[-3000:]
    assert "No space left on device" in line[0], line[0]

    # room again and a reload (root makes the certificate key at startup)
    store.unfill()
    httpd.graceful()
    served = httpd.wait_for_pebble_cert(name, 120)
    assert "Pebble" in served.issuer.rfc4514_string()
