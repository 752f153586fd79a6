"""An automatic restart the parent refuses because the configuration fails
its test (ACME00717; tested again 5 minutes later) is said where acmectl and
the status page read it, with the test's first error line as the why:
jobs/.restart-refused.json (0600 in the User's 0700 jobs/, never the
world-readable activation.json) records when, why and when the test runs
again; no names: the refusal holds every staged certificate. acmectl show
and the status page (JSON restart_refused, next_action, next_action_text;
HTML) say so with the retry time; acmectl list says "staged, restart
refused"; the 503 page anonymous visitors get says only that the
certificate waits for the server's restart: no why, no path. A start
removes the record, and so does any verdict but a failure: here a passing
retest with nothing to make live (ACME00733), which the parent runs when
its own clock reaches retry_at: httpd runs under libfaketime
(harness.FakeClockHttpd) and the test moves its wall clock past retry_at
instead of waiting the 5 minutes."""
import json
import os
import pwd
import re
import math
import socket
import stat
import time

import harness
from harness import HTTPD_USER, ssl_vhost, store_status, wait_for
from test_privsep import logged, user_write

ISSUE_TIMEOUT = 120
RECORD = os.path.join("jobs", ".restart-refused.json")
BROKEN = "ThisIsNoDirectiveOfHttpd on"
# The parent's test runs with -D ACME_STAGED_CHECK: in an included file, the
# error below breaks that test only, not the start, so the first staged
# certificate meets it without a race against the issuance.
BROKEN_FOR_THE_TEST = "<IfDefine ACME_STAGED_CHECK>\n%s\n</IfDefine>\n" % BROKEN
# The test runs again 300 s after a failure, by the parent's wall clock
# (apr_time_now); once that clock is past retry_at the activation thread's
# next look (every second) runs it.
RETEST_TIMEOUT = 30


def world_readable(top):
    """Files under top that every local user can read (each directory on
    the way searchable by others, the file readable by others)."""
    for root, dirs, files in os.walk(top):
        if not os.stat(root).st_mode & stat.S_IXOTH:
            dirs[:] = []
            continue
        for f in files:
            path = os.path.join(root, f)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_mode & stat.S_IROTH:
                yield path


def assert_no_leak(httpd, words):
    """No file of the store other users can read holds words (the why)."""
    for path in world_readable(httpd.store):
        with open(path, "rb") as f:
            data = f.read()
        assert not any(w.encode() in data for w in words), path


def record(httpd):
    try:
        with open(os.path.join(httpd.store, RECORD)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def acmectl_show(httpd, name):
    shown = httpd.acmectl("--store", httpd.store, "show", name)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    m = re.search(r"^next action: +(.*)$", shown.stdout, re.M)
    return m.group(1) if m else shown.stdout


def acmectl_list_row(httpd, name):
    rows = [l for l in httpd.acmectl("--store", httpd.store, "list").stdout.splitlines()
            if l.startswith(name + " ")]
    return rows[0] if rows else ""


def refused_status(httpd, name):
    return wait_for(lambda: (lambda d: d if d.get("restart_refused") else None)(
        httpd.domain_status(name)), 10, interval=0.3, what="the status page to say refused")


def assert_said(httpd, name, rec, why_words):
    """show, list, the status JSON and HTML carry the refusal of rec."""
    shown = acmectl_show(httpd, name)
    assert "which was refused at %s: the configuration fails its test (" % rec["at"] in shown, \
        shown
    assert all(w in shown for w in why_words), shown
    assert "the test runs again at %s" % rec["retry_at"] in shown, shown
    assert "See the error log for what to fix" in shown and "within seconds" not in shown, shown
    row = acmectl_list_row(httpd, name)
    assert "staged, restart refused" in row and rec["retry_at"] in row, row
    d = refused_status(httpd, name)
    assert d["restart_refused"] == {"at": rec["at"], "why": rec["why"]}, d
    shown = httpd.acmectl("--store", httpd.store, "--json", "show", name)
    assert json.loads(shown.stdout)["restart_refused"] == d["restart_refused"], shown.stdout
    assert d["next_action"] == rec["retry_at"], d
    assert "the test runs again at %s" % rec["retry_at"] in d["next_action_text"], d
    assert all(w in d["next_action_text"] for w in why_words), d
    assert httpd.status()["schema"] == 21
    status, _, body = httpd.http_request("/acme-status/" + name + "?format=html")
    assert status == 200 and b"which was refused at" in body, body[:3000]
    # the overview's cards and JSON, rendered and cached in status/.page
    status, _, body = httpd.http_request("/acme-status?format=html")
    assert status == 200 and b"which was refused at" in body, body[:3000]
    assert name in json.dumps(httpd.status())
    assert stat.S_IMODE(os.stat(os.path.join(httpd.store, "status", ".page")).st_mode) == 0o700
    assert_no_leak(httpd, [rec["why"][:60], "which was refused at"])


def assert_cleared(httpd, name):
    assert record(httpd) is None, record(httpd)
    assert "which was refused at" not in acmectl_show(httpd, name)
    assert "restart refused" not in acmectl_list_row(httpd, name)
    # the overview is served as last rendered while a render thread brings it
    # up to date (as_of: at most seconds old), so right after the restart
    # that cleared the refusal it may still quote it
    def cleared():
        d = httpd.domain_status(name)
        return d if d["restart_refused"] is None \
            and "refused at" not in (d["next_action_text"] or "") else None
    wait_for(cleared, 15, interval=0.3, what="the status page to drop the refusal")


def test_a_syntax_error_refuses_a_first_certificate_served_early_all_the_same(
        httpd, unique):
    name = unique("cfgsyntax")
    included = os.path.join(os.path.dirname(httpd.conf_path), "refused-extra.conf")
    with open(included, "w") as f:
        f.write(BROKEN_FOR_THE_TEST)
    httpd.write_config(vhosts=ssl_vhost(name), extra_global="Include %s" % included)
    httpd.start()

    refused = wait_for(lambda: logged(httpd, "ACME00717", name), ISSUE_TIMEOUT, interval=0.2,
                       what="the automatic restart refused")
    assert BROKEN.split()[0] in refused[0], refused
    rec = record(httpd)
    assert rec and sorted(rec) == ["at", "retry_at", "why"], rec
    # the why: httpd's syntax error with what it is, one line
    assert rec["why"].startswith("AH00526: Syntax error on line 2 of %s: " % included), rec
    assert "ThisIsNoDirectiveOfHttpd" in rec["why"] and len(rec["why"]) <= 200, rec
    assert harness.parse_time(rec["retry_at"]) > harness.parse_time(rec["at"]), rec
    path = os.path.join(httpd.store, RECORD)
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == pwd.getpwnam(HTTPD_USER).pw_uid
    assert stat.S_IMODE(os.stat(os.path.join(httpd.store, "jobs")).st_mode) == 0o700
    try:
        with open(os.path.join(httpd.store, "activation.json")) as f:
            assert "Syntax" not in f.read()
    except FileNotFoundError:
        pass

    assert_said(httpd, name, rec, ["ThisIsNoDirectiveOfHttpd", included])
    # the visitors: the running children serve the certificate already
    # (AcmeActivation auto serves it as soon as it is staged), and not a word
    # of the refusal
    httpd.wait_for_pebble_cert(name, 10, live=False)
    status, _, body = httpd.https_request(name, "/")
    text = body.decode()
    assert status == 200, text
    for secret in ("ThisIsNoDirectiveOfHttpd", "Syntax", "refused", "configuration",
                   "apachectl", "error log", included, httpd.store, httpd.serverroot,
                   rec["retry_at"]):
        assert secret not in text, (secret, text)

    # fixed, and a graceful restart: live, and nothing says refused any more
    with open(included, "w") as f:
        f.write("# fixed\n")
    httpd.graceful()
    httpd.wait_for_pebble_cert(name, 30)
    assert_cleared(httpd, name)
    status, _, body = httpd.http_request("/acme-status/" + name + "?format=html")
    assert status == 200 and b"refused" not in body, body[:3000]


def test_an_owner_refusal_says_its_error_and_a_passing_retest_clears_it(httpd_factory,
                                                                         unique):
    harness.need_faketime()
    httpd = httpd_factory(cls=harness.FakeClockHttpd)
    name = unique("cfgowner")
    httpd.write_config(vhosts=ssl_vhost(name))
    # no global ServerName: on a host whose name has no domain httpd's test
    # prints its note AH00558 before mod_acme's error
    httpd.conf_text = httpd.conf_text.replace("\nServerName localhost\n", "\n", 1)
    with open(httpd.conf_path, "w") as f:
        f.write(httpd.conf_text)
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    user = pwd.getpwnam(HTTPD_USER)
    config = os.path.join(httpd.store, "config")
    os.chown(config, user.pw_uid, -1)
    os.chmod(config, 0o777)
    try:
        r = httpd.acmectl("--store", httpd.store, "renew", "--force", name)
        assert r.returncode == 0, r.stdout + r.stderr
        refused = wait_for(lambda: logged(httpd, "ACME00717", name), ISSUE_TIMEOUT,
                           interval=0.2, what="the automatic restart refused")
        assert "ACME01509" in refused[0], refused
        rec = record(httpd)
        # the owner's error itself, not a warning printed before it (AH00558)
        assert rec["why"].startswith("ACME01509: the store directory %s is owned by uid %d"
                                     % (config, user.pw_uid)), rec
        assert "AH00558" not in rec["why"] and len(rec["why"]) <= 200, rec
        code, said = httpd.configtest()
        assert code != 0 and "ACME01509" in said, said
        if "." not in socket.getfqdn():
            assert "AH00558" in said and said.index("AH00558") < said.index("ACME01509"), said
        assert_said(httpd, name, rec, ["ACME01509", config])
    finally:
        os.chown(config, 0, -1)
        os.chmod(config, 0o755)

    # the retest passes, but finds nothing to make live (the staged
    # certificate spoilt): no failure any more, so the record goes
    staged = os.path.join(httpd.store, "staging", name, "cert.pem")
    user_write(staged, b"not a certificate\n")
    # not before retry_at: the change in staging wakes the thread, and the
    # refusal's wait holds it
    time.sleep(1.5)
    assert not logged(httpd, "ACME00733", name) and record(httpd) == rec, record(httpd)
    # httpd's clock 2 s past retry_at (the clock file is re-read every second)
    ahead = harness.parse_time(rec["retry_at"]).timestamp() - time.time() + 2
    assert 200 < ahead < 310, rec
    httpd.set_clock("+%d" % math.ceil(ahead))
    wait_for(lambda: logged(httpd, "ACME00733", name), RETEST_TIMEOUT, interval=0.2,
             what="the retest after the refusal")
    assert "libfaketime" not in httpd.error_log_text(), httpd.diagnostics(40)
    assert_cleared(httpd, name)
    assert store_status(httpd.store, name)
