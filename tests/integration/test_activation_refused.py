"""An automatic restart the parent refuses because the configuration fails
its test (ACME00717; tried again 5 minutes later) is said where acmectl and
the status page read it: activation.json records when, why (the test's first
line) and when the test runs again. acmectl show and the status JSON say so,
with the retry time as next_action, instead of "goes live at the automatic
restart, within seconds"; once the configuration is fixed and a graceful
restart makes the certificate live, the words are gone."""
import json
import os

import harness
from harness import ssl_vhost, wait_for
from test_privsep import logged

ISSUE_TIMEOUT = 120
BROKEN = "ThisIsNoDirectiveOfHttpd on"


def held_record(httpd):
    try:
        with open(os.path.join(httpd.store, "activation.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def test_a_refused_automatic_restart_is_shown_until_fixed(httpd, unique):
    name = unique("cfgfail")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    old = httpd.verified_cert(name).serial_number
    good = httpd.conf_text
    with open(httpd.conf_path, "a") as f:
        f.write(BROKEN + "\n")

    r = httpd.acmectl("--store", httpd.store, "renew", "--force", name)
    assert r.returncode == 0, r.stdout + r.stderr
    refused = wait_for(lambda: logged(httpd, "ACME00717", name), ISSUE_TIMEOUT, interval=0.2,
                       what="the automatic restart refused")
    assert "ThisIsNoDirectiveOfHttpd" in refused[0], refused
    record = held_record(httpd)
    assert record and name in record["names"], record
    assert "ThisIsNoDirectiveOfHttpd" in record["refused"]["why"], record
    assert "\n" not in record["refused"]["why"], record
    retry = record["restart_at"]
    refused_at = record["refused"]["at"]
    assert harness.parse_time(retry) > harness.parse_time(refused_at), record

    shown = httpd.acmectl("--store", httpd.store, "show", name)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "automatic restart was refused at %s (configtest failed: " % refused_at \
        in shown.stdout, shown.stdout
    assert "ThisIsNoDirectiveOfHttpd" in shown.stdout, shown.stdout
    assert "tried again at %s" % retry in shown.stdout, shown.stdout
    assert "within seconds" not in shown.stdout, shown.stdout

    d = wait_for(lambda: (lambda d: d if "refused" in (d.get("next_action_text") or "")
                          else None)(httpd.domain_status(name)), 10,
                 what="the status page to show the refusal")
    assert d["next_action"] == retry, d
    assert "tried again at %s" % retry in d["next_action_text"], d
    assert "ThisIsNoDirectiveOfHttpd" in d["next_action_text"], d
    assert "fix the configuration and run apachectl graceful" in d["next_action_text"], d
    status, _, body = httpd.http_request("/acme-status/" + name + "?format=html")
    assert status == 200 and b"automatic restart was refused at" in body, body[:3000]

    # fixed, and a graceful restart: live, and nothing says refused any more
    with open(httpd.conf_path, "w") as f:
        f.write(good)
    httpd.graceful()
    harness.wait_for_new_cert(httpd, name, old, 30)
    assert held_record(httpd) is None, held_record(httpd)
    shown = httpd.acmectl("--store", httpd.store, "show", name)
    assert "refused" not in shown.stdout, shown.stdout
    d = httpd.domain_status(name)
    assert "refused" not in json.dumps(d), d
    assert d["state"] == "valid" and d["next_action"] != retry, d
    status, _, body = httpd.http_request("/acme-status/" + name + "?format=html")
    assert status == 200 and b"refused" not in body, body[:3000]
