"""A staged certificate the parent refuses for a reason other than the
security level (here a chain that does not verify: its intermediate
dropped) makes the issuing child wait before it orders that name again:
a minute from the refusal, doubling with each such refusal in a row of
entries for the same key (at most a day). The wait is counted from root's
record (refused/<name>.json: "key", "key_count", "key_at"), not from the
child's memory: the restart that makes another name, accepted in the same
look, live comes at once, and the new generation's child used to order the
refused name at once (against Let's Encrypt each such order is a duplicate
certificate), the doubling starting over at every restart
(docs/security.md, "refused for another reason")."""
import json
import os
import time

import harness
from harness import ssl_vhost, wait_for
from test_privsep import logged

ISSUE_TIMEOUT = 120
BASE = 60           # the retry delay's base, acme_policy_refusal_until
END = "-----END CERTIFICATE-----\n"


def staged(httpd, name):
    return os.path.exists(os.path.join(httpd.store, "staging", name, "ready"))


def leaf_only(httpd, name):
    """staging/<name>/cert.pem cut to its leaf: for root's current key, but
    no chain to a trusted root, so activation refuses it (not for a level)."""
    path = os.path.join(httpd.store, "staging", name, "cert.pem")
    with open(path) as f:
        text = f.read()
    assert text.count(END) >= 2, text
    with open(path, "w") as f:
        f.write(text[:text.index(END) + len(END)])


def record(httpd, name):
    with open(os.path.join(httpd.store, "refused", name + ".json")) as f:
        return json.load(f)


def current_key(httpd, name):
    with open(os.path.join(httpd.store, "csr", name + ".json")) as f:
        return json.load(f)["key"]


def no_order_for(httpd, orders, since, seconds):
    """No order reaches the CA until `seconds` after `since`."""
    while time.time() - since < seconds:
        assert httpd.pebble.new_order_count() == orders, (
            "ordered %.0f s after the refusal: %s\n%s" % (
                time.time() - since, httpd.pebble.request_lines()[-3:], httpd.diagnostics()))
        time.sleep(0.5)


def next_order(httpd, orders, timeout):
    """The time the next order reaches the CA."""
    try:
        wait_for(lambda: httpd.pebble.new_order_count() > orders, timeout, interval=0.2,
                 what="the next order")
    except TimeoutError as exc:
        raise AssertionError("%s\n%s" % (exc, httpd.diagnostics())) from None
    return time.time()


def refuse_at_restart(httpd, bad, good=None):
    """bad's entry cut to its leaf, then an administrator's restart: its
    activation looks at every staged name, refuses bad and makes good live.
    The time of the refusal."""
    before = len(logged(httpd, "ACME00604", bad))
    leaf_only(httpd, bad)
    httpd.graceful()
    wait_for(lambda: len(logged(httpd, "ACME00604", bad)) > before, 30,
             what="activation to refuse %s" % bad)
    refused_at = time.time()
    if good:
        httpd.wait_for_pebble_cert(good, 30)
    return refused_at


def test_refused_name_waits_across_restarts_and_doubles(httpd, unique):
    bad, good = unique("refwait"), unique("refok")
    httpd.write_config(vhosts=ssl_vhost(bad) + ssl_vhost(good),
                       acme={"AcmeActivation": "manual"})
    httpd.start()
    wait_for(lambda: staged(httpd, bad) and staged(httpd, good), ISSUE_TIMEOUT,
             what="both names staged")
    orders = httpd.pebble.new_order_count()

    # one look, one refused, one accepted; the new generation's child finds
    # bad rejected with no refusal in its memory
    refused_at = refuse_at_restart(httpd, bad, good)
    assert os.path.exists(os.path.join(httpd.store, "staging", bad, "rejected"))
    no_order_for(httpd, orders, refused_at, 20)
    rec = record(httpd, bad)
    assert rec.get("key") == current_key(httpd, bad) and rec.get("key_count") == 1, rec
    assert "seclevel" not in rec, rec
    # shown where the next attempt is shown
    page = wait_for(lambda: (lambda d: d if d.get("state") == "renewal-failing"
                             or d.get("state") == "failing" else None)(
                                 httpd.domain_status(bad)), 45, what="the wait shown")
    due = harness.parse_time(page["next_action"]).timestamp()
    assert abs(due - (rec["key_at"] + BASE)) <= 2, (page, rec)
    no_order_for(httpd, orders, refused_at, BASE - 5)
    ordered = next_order(httpd, orders, 45)
    assert ordered - refused_at >= BASE - 3, ordered - refused_at
    print("ordered again %.0f s after the first refusal" % (ordered - refused_at))

    # the same key refused again: twice as long, across the restart
    wait_for(lambda: staged(httpd, bad), ISSUE_TIMEOUT, what="bad staged again")
    orders = httpd.pebble.new_order_count()
    refused_at = refuse_at_restart(httpd, bad)
    no_order_for(httpd, orders, refused_at, 2 * BASE - 5)
    rec = record(httpd, bad)
    assert rec.get("key") == current_key(httpd, bad) and rec.get("key_count") == 2, rec
    ordered = next_order(httpd, orders, 45)
    assert ordered - refused_at >= 2 * BASE - 3, ordered - refused_at
    print("ordered again %.0f s after the second refusal" % (ordered - refused_at))
    assert httpd.running(), httpd.diagnostics()


def test_refusal_wait_ends_for_renew_and_holds_nothing_far_ahead(httpd, unique):
    """acmectl renew orders at once during the wait; a latest refusal more
    than 5 minutes ahead of the clock (a clock set back since) holds
    nothing beyond what the child had scheduled from the true one: no
    wait of a day."""
    name = unique("refahead")
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeActivation": "manual"})
    httpd.start()
    wait_for(lambda: staged(httpd, name), ISSUE_TIMEOUT, what="the name staged")
    orders = httpd.pebble.new_order_count()
    refused_at = refuse_at_restart(httpd, name)
    no_order_for(httpd, orders, refused_at, 15)

    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    asked = time.time()
    assert next_order(httpd, orders, 40) - asked < 35
    wait_for(lambda: staged(httpd, name), ISSUE_TIMEOUT, what="the name staged again")

    orders = httpd.pebble.new_order_count()
    told = len(logged(httpd, "ACME01220", name))
    refused_at = refuse_at_restart(httpd, name)
    assert record(httpd, name).get("key_count") == 2, record(httpd, name)
    # The child has scheduled its next order from the true record (2
    # minutes after the refusal): the restart below must not move it to
    # a day later, whatever the record then says.
    wait_for(lambda: len(logged(httpd, "ACME01220", name)) > told, 40,
             what="the child to schedule the next order")
    shown = os.path.join(httpd.store, "refused", name + ".json")
    rec = record(httpd, name)
    rec["key_at"] = int(time.time()) + 86400
    with open(shown, "w") as f:
        json.dump(rec, f)
    httpd.graceful()
    assert next_order(httpd, orders, 180) - refused_at < 175
    assert httpd.running(), httpd.diagnostics()
