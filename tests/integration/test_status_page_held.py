"""A staged certificate whose automatic graceful restart the parent holds
back (three restarts in a row, then one a minute): the error log
(ACME00734), activation.json, acmectl show and renew, and the status page
(JSON next_action and the card's "Goes live", to the second) give the same
time; a renew meanwhile orders nothing more; the restart then comes and the
record of the hold goes."""
import json
import os
import re
import time

import harness
from harness import ssl_vhost, wait_for
from test_privsep import logged
from test_status_page import card_of, get

ISSUE_TIMEOUT = 60
HELD = re.compile(r"ACME00734: new certificate\(s\) staged \(([^)]*)\) .* the graceful restart "
                  r"comes at (\S+) ")


def test_a_held_restart_has_one_time_everywhere(httpd, unique):
    name = unique("held")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    marker = os.path.join(httpd.store, "jobs", name + ".renew")
    held_file = os.path.join(httpd.store, "activation.json")
    assert not os.path.exists(held_file)

    # renewals back to back: after the first issuance's restart (not counted),
    # three restarts go at once, the fourth is held.
    # The next renew is asked for as soon as a certificate is staged (ACME00405:
    # staging removes the marker, so one written earlier would be lost) and
    # before the restart's new child makes its first run, which looks at
    # jobs/; missed, the marker waits for the next 30-second run (README), so
    # the budget allows for two misses. The staged entry itself ("ready") lasts
    # only until activation takes it, often less than 200 ms: not a signal.
    start = time.time()
    held = None
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    asked_after = len(logged(httpd, "ACME00405", name))
    while time.time() - start < 140 and not held:
        held = [m for m in map(HELD.search, logged(httpd, "ACME00734", name)) if m]
        staged = len(logged(httpd, "ACME00405", name))
        if not held and staged > asked_after and not os.path.exists(marker):
            r = httpd.acmectl("--store", httpd.store, "renew", name, "--force")
            assert r.returncode == 0, r.stdout + r.stderr
            asked_after = staged
        time.sleep(0.05)
    assert held, "no restart was held back\n" + httpd.diagnostics()
    # the loop's last ask can come between the staging and the parent's
    # decision to hold: taken back, so what follows sees no request
    if os.path.exists(marker):
        os.remove(marker)
    at = held[-1].group(2)
    print("held until", at, "logged at", time.strftime("%H:%M:%S", time.gmtime()))

    # the parent's record of it
    with open(held_file) as f:
        doc = json.load(f)
    assert doc["restart_at"] == at and name in doc["names"], (doc, at)
    # acmectl show
    r = httpd.acmectl("--store", httpd.store, "show", name)
    assert re.search(r"^state: +staged$", r.stdout, re.M), r.stdout
    # it goes live by itself (AcmeActivation auto): no "restart httpd yourself"
    assert re.search(r"^next action: +goes live at the automatic restart \(about %s\); "
                     r"apachectl graceful makes it live now$" % at, r.stdout, re.M), r.stdout
    assert re.search(r"^staged: +yes, .*; goes live at the automatic restart \(about %s\); "
                     r"apachectl graceful makes it live now$" % at, r.stdout, re.M), r.stdout
    listed = [l for l in httpd.acmectl("--store", httpd.store, "list").stdout.splitlines()
              if l.startswith(name + " ")]
    assert listed and "goes live at the automatic restart (about %s)" % at in listed[0], listed
    assert "next graceful" not in listed[0], listed
    shown = json.loads(httpd.acmectl("--store", httpd.store, "--json", "show", name).stdout)
    assert shown["restart_at"] == at and shown["next_action"] == at, shown
    assert shown["next_action_what"] == "restart", shown
    # the status page: JSON and the card
    page = wait_for(lambda: (lambda d: d if d.get("state") == "staged" else None)(
        httpd.domain_status(name)), 10, interval=0.3, what="the page to say staged")
    assert page["next_action"] == at, (page, at)
    assert page["next_action_text"].startswith(
        "goes live at the automatic restart (about %s); apachectl graceful" % at), page
    _, overview = get(httpd, "/acme-status")
    card = card_of(overview, name)
    assert "New certificate staged" in card, card
    # the card gives the page's words, as acmectl does
    assert "<dt>Goes live</dt><dd>at the automatic restart (about %s); apachectl graceful " \
           "makes it live now</dd>" % at in card, (at, card)
    _, detail = get(httpd, "/acme-status/" + name)
    assert "at the automatic restart (about %s)" % at in detail, detail
    # renew now orders nothing: it says a new certificate is staged, and when
    # it goes live
    def marked():
        return os.stat(marker).st_mtime_ns if os.path.exists(marker) else None
    before = marked()
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "is staged, goes live at the automatic restart (about %s); apachectl graceful " \
           "makes it live now" % at in r.stdout, r.stdout
    assert marked() == before, "renew asked for another certificate"
    doc = json.loads(httpd.acmectl("--store", httpd.store, "--json", "renew", name).stdout)
    assert marked() == before, "renew asked for another certificate"
    assert doc == {"name": name, "renewal_requested": False, "staged": True, "live_at": at,
                   "requested_at": None, "ordered": False}, doc

    # the restart comes, and its record goes
    serial = httpd.verified_cert(name).serial_number
    wait_for(lambda: not os.path.exists(held_file), 90, interval=0.5,
             what="the held restart (%s) to remove activation.json" % at)
    assert harness.parse_time(at).timestamp() - 2 <= time.time(), "restarted before %s" % at
    wait_for(lambda: httpd.verified_cert(name).serial_number != serial, 30, interval=0.5,
             what="the staged certificate to go live")
