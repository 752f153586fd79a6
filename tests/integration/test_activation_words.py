"""When a staged certificate goes live, said alike by the status page (JSON
next_action and next_action_text, the card, the summary) and acmectl
list/show (next action, --json next_action), in the words of the server's
AcmeActivation (the 503 page a visitor gets says only that the certificate
is ready and waits for the server's restart): the root parent records it in
activation-mode.json (root, 0644, rewritten only when it changes), which
acmectl reads; without the file (an older store) acmectl names both ways.
Under AcmeActivation auto, the cases a staged name can be in: held by the
refusal backoff (next_action its end), waiting for a held restart that
activation.json does not list (no time: "at or after T")."""
import datetime
import json
import os
import re
import stat
import time

from harness import parse_time, ssl_vhost, store_status, utcnow, wait_for
from test_status_page import card_of, get

ISSUE_TIMEOUT = 60
MODE_FILE = "activation-mode.json"


def rfc3339(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def acmectl_words(httpd, name):
    """(list's NEXT ACTION line, show's next action, --json next_action)."""
    listed = [l for l in httpd.acmectl("--store", httpd.store, "list").stdout.splitlines()
              if l.startswith(name + " ")]
    shown = httpd.acmectl("--store", httpd.store, "show", name).stdout
    m = re.search(r"^next action: +(.*)$", shown, re.M)
    doc = json.loads(httpd.acmectl("--store", httpd.store, "--json", "show", name).stdout)
    return (listed[0] if listed else "", m.group(1) if m else shown, doc["next_action"])


def page_503(httpd, name, retry_after="30"):
    """The 503 page's text; its Retry-After is retry_after (None: none sent)."""
    status, headers, body = httpd.https_request(name, "/")
    assert status == 503, (status, body)
    got = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    assert got == retry_after, (got, headers)
    return body.decode()


def staged(httpd, name):
    wait_for(lambda: store_status(httpd.store, name).get("state") == "staged", ISSUE_TIMEOUT,
             interval=0.3, what="%s staged" % name)
    return wait_for(lambda: (lambda d: d if d.get("state") == "staged" else None)(
        httpd.domain_status(name)), 10, interval=0.3, what="the page to say staged")


def test_manual_mode_says_the_administrators_restart_everywhere(httpd, unique):
    name = unique("manual")
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeActivation": "manual"})
    httpd.start()
    mode_file = os.path.join(httpd.store, MODE_FILE)
    with open(mode_file) as f:
        assert json.load(f) == {"activation": "manual"}
    st = os.stat(mode_file)
    assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == os.stat(httpd.store).st_uid, st

    d = staged(httpd, name)
    words = ("goes live when the administrator restarts httpd (AcmeActivation manual: "
             "apachectl graceful makes it live)")
    assert d["next_action"] is None and d["next_action_text"] == words, d
    doc = httpd.status()
    assert doc["summary"]["staged"] == 1 and doc["summary"]["missing"] == 0, doc["summary"]
    _, overview = get(httpd, "/acme-status")
    summary = re.search(r'id="summary">([^<]*)<', overview).group(1)
    assert "1 staged (needs apachectl graceful)" in summary, summary
    assert "waiting for the first" not in summary, summary
    assert "when the administrator restarts httpd" in card_of(overview, name)
    # only the administrator's restart changes anything: no time to come back
    body = page_503(httpd, name, retry_after=None)
    # the 503 page is every visitor's: only that it waits for the restart
    assert "has been obtained" in body and "is ready; it waits for the server's restart" in body, body
    assert words not in body and "apachectl" not in body and "://" not in body, body
    assert "automatically" not in body, body
    listed, shown, next_action = acmectl_words(httpd, name)
    assert "goes live when the administrator restarts httpd (apachectl graceful)" in listed, listed
    assert "automatic" not in listed, listed
    assert shown == words and next_action is None, (shown, next_action)

    # an older store, without the file: acmectl names both ways
    os.unlink(mode_file)
    listed, shown, _ = acmectl_words(httpd, name)
    assert "(automatic within seconds; AcmeActivation manual: apachectl graceful)" in listed, \
        listed
    assert "with AcmeActivation manual, when the administrator runs apachectl graceful" in shown
    # a refusal backoff (recorded in either mode): still both ways
    until = int(time.time()) + 600
    refused = os.path.join(httpd.store, "keys", name, "refused.json")
    os.makedirs(os.path.dirname(refused), exist_ok=True)
    with open(refused, "w") as f:
        json.dump({"count": 3, "until": until}, f)
    os.chmod(refused, 0o600)
    listed, shown, _ = acmectl_words(httpd, name)
    assert ("goes live once it passes the check (automatic restart after the refusal backoff "
            "ends, %s; AcmeActivation manual: apachectl graceful)" % rfc3339(until)) in listed, \
        listed
    assert shown.startswith("goes live once it passes the check: with AcmeActivation auto") \
        and "with AcmeActivation manual, when the administrator runs apachectl graceful" \
        in shown, shown
    os.unlink(refused)
    # a mode file anyone may write says nothing
    with open(mode_file, "w") as f:
        json.dump({"activation": "manual"}, f)
    os.chmod(mode_file, 0o646)
    listed, _, _ = acmectl_words(httpd, name)
    assert "(automatic within seconds; AcmeActivation manual: apachectl graceful)" in listed, \
        listed
    os.unlink(mode_file)

    # each start records the mode; unchanged, the file is not rewritten
    pages = set(os.listdir(os.path.join(httpd.store, "status", ".page")))
    httpd.graceful()
    with open(mode_file) as f:
        assert json.load(f) == {"activation": "manual"}
    before = os.stat(mode_file).st_mtime_ns
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeActivation": "manual"})
    httpd.graceful()
    assert os.stat(mode_file).st_mtime_ns == before, "rewritten without a change"
    os.chmod(mode_file, 0o600)        # not as the store writes it: set right
    httpd.graceful()
    assert stat.S_IMODE(os.stat(mode_file).st_mode) == 0o644
    # auto: recorded, and the page's files are other ones (its cards say other words)
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.graceful()
    with open(mode_file) as f:
        assert json.load(f) == {"activation": "auto"}
    get(httpd, "/acme-status")
    overview_files = lambda names: {f for f in names if re.fullmatch(r"overview-[0-9a-f]{16}", f)}
    now = overview_files(os.listdir(os.path.join(httpd.store, "status", ".page")))
    assert now - overview_files(pages), (pages, now)


def test_auto_mode_held_by_the_backoff_or_unlisted(httpd, unique):
    first, name = unique("autofirst"), unique("autoheld")
    # the second name's order waits its turn: time to hold it back first, and
    # for the restart that makes the first name live (a restart activates
    # what is staged, backoff or not; the next one removes activation.json)
    httpd.write_config(vhosts=ssl_vhost(first) + ssl_vhost(name),
                       acme={"AcmeMaxParallel": "1 1/12s"})
    httpd.start()
    with open(os.path.join(httpd.store, MODE_FILE)) as f:
        assert json.load(f) == {"activation": "auto"}
    csr = os.path.join(httpd.store, "csr", name + ".json")
    wait_for(lambda: os.path.exists(csr), 10, what="root's key for " + name)
    with open(csr) as f:
        key_id = json.load(f)["key"]
    until = int(time.time()) + 600
    # as refusals in a row leave it, the key's one pass used up: root's
    # record and its public copy (the status page reads that one)
    backoff = {"count": 3, "until": until, "exempted": key_id}
    refused = os.path.join(httpd.store, "keys", name, "refused.json")
    shown_copy = os.path.join(httpd.store, "refused", name + ".json")
    for path, mode in ((refused, 0o600), (shown_copy, 0o644)):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(backoff, f)
        os.chmod(path, mode)
    httpd.wait_for_pebble_cert(first, 20)
    assert store_status(httpd.store, name).get("state") != "staged", "ordered too soon"

    # held by the backoff: its end, everywhere
    at = rfc3339(until)
    words = ("goes live at the automatic restart after the refusal backoff ends (%s), if it "
             "passes the check" % at)
    d = staged(httpd, name)
    assert d["next_action"] == at and d["next_action_text"] == words + \
        "; apachectl graceful tries it now", d
    # the visitors: served all the same by the running children, each alike
    # (the backoff held no key at the start; the child proves the chain)
    httpd.wait_for_pebble_cert(name, 10, live=False)
    listed, shown, next_action = acmectl_words(httpd, name)
    assert words in listed and "apachectl" not in listed, listed
    assert shown == words + "; apachectl graceful tries it now" and next_action == at, \
        (shown, next_action)

    # a held restart whose activation.json does not list it: no time, "at or after"
    os.unlink(shown_copy)
    restart_at = rfc3339(time.time() + 300)
    with open(os.path.join(httpd.store, "activation.json"), "w") as f:
        json.dump({"restart_at": restart_at, "names": [first], "written_at": rfc3339(time.time())},
                  f)
    words = "goes live at the automatic restart (at or after %s)" % restart_at
    d = wait_for(lambda: (lambda d: d if "at or after" in (d.get("next_action_text") or "")
                          else None)(httpd.domain_status(name)), 10, interval=0.3,
                 what="the page to say at or after")
    assert d["next_action"] is None and d["next_action_text"] == words + \
        "; apachectl graceful makes it live now", d
    status, _, body = httpd.https_request(name, "/")
    assert status == 200, (status, body)
    assert parse_time(restart_at) > utcnow()

    # acmectl, the backoff gone (the server stopped, so nothing goes live)
    httpd.stop()
    os.unlink(refused)
    with open(os.path.join(httpd.store, "activation.json"), "w") as f:
        json.dump({"restart_at": restart_at, "names": [first], "written_at": rfc3339(time.time())},
                  f)
    listed, shown, next_action = acmectl_words(httpd, name)
    assert words in listed, listed
    assert shown == words + "; apachectl graceful makes it live now" and next_action is None, \
        (shown, next_action)
    os.unlink(os.path.join(httpd.store, "activation.json"))
    listed, shown, next_action = acmectl_words(httpd, name)
    assert "goes live at the automatic restart, within seconds" in listed, listed
    assert shown == ("goes live at the automatic restart, within seconds; apachectl graceful "
                     "makes it live now") and next_action is None, (shown, next_action)
