"""dns-01 hooks of an order that ends with its process: a setup still running
when the issuance child exits (graceful restart, stop) is stopped with its
process group, and when the name is taken out of the configuration the next
generation runs the teardown, once, with the setup's arguments; acmectl then
says the setup ended and that nothing resumes the order."""
import json
import os
import re
import time

import harness
from harness import acmectl_on_store, ssl_vhost, wait_for

ISSUE_TIMEOUT = 90

# Setup hangs, with a grandchild in its process group; each call is logged,
# each setup's pid and its grandchild's too ("pids P C").
HANGING_HOOK = """#!/usr/bin/python3
import os, subprocess, sys, time
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1] == "setup":
    child = subprocess.Popen(["sleep", "600"])
    with open({log!r}, "a") as log:
        log.write("pids %d %d\\n" % (os.getpid(), child.pid))
    time.sleep(600)
"""


# Setup hangs; the first teardown hangs too, a later one succeeds at once.
SLOW_TEARDOWN_HOOK = """#!/usr/bin/python3
import os, sys, time
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
    log.write("pids %d\\n" % os.getpid())
if sys.argv[1] == "setup":
    time.sleep(600)
elif not os.path.exists({mark!r}):
    open({mark!r}, "w").close()
    time.sleep(600)
"""


def calls(log):
    with open(log) as f:
        return [l.split() for l in f.read().splitlines() if l.strip()]


def hook_pids(log):
    return [int(p) for c in calls(log) if c[0] == "pids" for p in c[1:]]


def recorded_pids(httpd, name):
    """The setup pids jobs/NAME.json lists (none before it exists)."""
    try:
        with open(os.path.join(httpd.store, "jobs", name + ".json")) as f:
            return [h.get("pid") for h in json.load(f).get("dns01", [])]
    except (OSError, ValueError):
        return []


def current_setup(httpd, name, log):
    """The pid of the setup this generation started (ACME00906), if it runs,
    the order record lists it (the driver writes the record at the end of
    the step that started the setup, after ACME00906 is logged) and the hook
    has logged its call (its "pids" line): a restart that stops a setup
    still starting (python3 takes a moment on a loaded host) leaves no
    "setup" line in the hook's log for the test to compare the teardown's
    arguments with."""
    text = httpd.error_log_text()
    pids = re.findall(r"ACME00906: \*\.%s: running .* pid (\d+)\)" % re.escape(name),
                      text[text.rfind("resuming normal operations"):])
    if not pids or not harness.pid_alive(int(pids[-1])):
        return None
    pid = int(pids[-1])
    return pid if pid in recorded_pids(httpd, name) and pid in hook_pids(log) else None


def start_with_a_hooked_name(httpd, challtestsrv, gone, other, script=HANGING_HOOK, **marks):
    """httpd started with gone (a wildcard: dns-01, AcmeDnsCmd script, whose
    setup hangs) and other configured. Returns the hook's log and a function
    that writes the configuration without gone (the graceful restart is the
    caller's)."""
    hook, log = harness.write_hook(httpd, "dns-hook", script, **marks)
    resolver = {"AcmeDnsResolver": "127.0.0.1:%d" % challtestsrv.dns_port}
    httpd.write_config(vhosts=ssl_vhost(gone, ["*." + gone], extra="AcmeDnsCmd %s" % hook)
                       + ssl_vhost(other), acme=resolver)
    httpd.start()
    return log, lambda: httpd.write_config(vhosts=ssl_vhost(other), acme=resolver)


def test_removed_name_gets_its_setup_stopped_and_its_teardown_run(httpd, challtestsrv, unique):
    gone, other = unique("gonedns"), unique("staydns")
    log, remove_gone = start_with_a_hooked_name(httpd, challtestsrv, gone, other)
    # other's certificate goes live by a graceful restart: the setup the
    # first generation started is stopped with its child, not orphaned
    httpd.wait_for_pebble_cert(other, ISSUE_TIMEOUT)
    pid = wait_for(lambda: current_setup(httpd, gone, log), 30, what="this generation's setup")
    earlier = [p for c in calls(log) if c[0] == "pids" and int(c[1]) != pid
               for p in map(int, c[1:])]
    assert earlier, calls(log)
    wait_for(lambda: not [p for p in earlier if harness.pid_alive(p)], 15,
             what="the earlier generation's setup and its child to be stopped: %s" % earlier)
    setups = [c for c in calls(log) if c[0] == "setup"]
    assert setups and not [c for c in calls(log) if c[0] == "teardown"], calls(log)
    assert recorded_pids(httpd, gone) == [pid], recorded_pids(httpd, gone)

    # gone is taken out of the configuration while its setup runs
    remove_gone()
    httpd.graceful()
    wait_for(lambda: not [p for p in hook_pids(log) if harness.pid_alive(p)], 15,
             what="every setup and its child to be stopped: %s" % hook_pids(log))
    teardowns = wait_for(lambda: [c for c in calls(log) if c[0] == "teardown"], 30,
                         what="the teardown of the abandoned order in %s" % log)
    last = setups[-1]
    assert teardowns == [["teardown", last[1], last[2]]], calls(log)
    assert last[1] == "_acme-challenge." + gone and len(last[2]) == 43, last
    text = httpd.error_log_text()
    assert re.search(r"ACME00920: %s: its order was abandoned .* AcmeDnsCmd setup for \*\.%s"
                     % (re.escape(gone), re.escape(gone)), text), httpd.diagnostics()
    wait_for(lambda: "teardown _acme-challenge.%s succeeded" % gone in httpd.error_log_text(),
             10, what="the teardown's end in the error log")

    r = acmectl_on_store(httpd, "show", gone)
    assert "running since" not in r.stdout, r.stdout
    assert "setup ended (no process)" in r.stdout, r.stdout
    r = acmectl_on_store(httpd, "list", "--all")
    assert "running since" not in r.stdout, r.stdout
    r = acmectl_on_store(httpd, "check")
    assert "order in progress: %s" % gone not in r.stdout, r.stdout
    assert "abandoned order: %s" % gone in r.stdout, r.stdout

    # once: a later restart runs no second teardown
    httpd.graceful()
    time.sleep(5)
    assert [c for c in calls(log) if c[0] == "teardown"] == teardowns, calls(log)


def test_stop_leaves_no_setup_running(httpd, challtestsrv, unique):
    """httpd -k stop while a setup runs: the setup and its child end with
    the server (its teardown follows from jobs/NAME.json at the next start)."""
    name = unique("stopdns")
    hook, log = harness.write_hook(httpd, "hang-hook", HANGING_HOOK)
    httpd.write_config(vhosts=ssl_vhost(name, ["*." + name], extra="AcmeDnsCmd %s" % hook),
                       acme={"AcmeDnsResolver": "127.0.0.1:%d" % challtestsrv.dns_port})
    httpd.start()
    wait_for(lambda: current_setup(httpd, name, log), 30, what="the setup")
    httpd.stop()
    wait_for(lambda: not [p for p in hook_pids(log) if harness.pid_alive(p)], 15,
             what="every setup and its child to be stopped: %s" % hook_pids(log))


def test_a_teardown_cut_short_by_a_restart_runs_again(httpd, challtestsrv, unique):
    """The teardown of a removed name's order hangs when the next graceful
    restart comes: the exiting child stops it (ACME00922) and the new one
    runs it again (ACME00924) at a later run, with the same arguments."""
    gone, other = unique("cutdns"), unique("keepdns")
    marks = os.path.join(httpd.serverroot, "marks")
    os.mkdir(marks)
    os.chmod(marks, 0o777)
    log, remove_gone = start_with_a_hooked_name(httpd, challtestsrv, gone, other,
                                                SLOW_TEARDOWN_HOOK,
                                                mark=os.path.join(marks, "teardown-once"))
    wait_for(lambda: current_setup(httpd, gone, log), 30, what="the setup")
    remove_gone()
    httpd.graceful()
    wait_for(lambda: [c for c in calls(log) if c[0] == "teardown"], 30, what="the teardown")
    httpd.graceful()
    teardowns = wait_for(lambda: (lambda t: t if len(t) == 2 else None)(
        [c for c in calls(log) if c[0] == "teardown"]), 60, what="the teardown run again "
        "(at the new child's next run: at the latest its look for acmectl's markers)")
    setup = [c for c in calls(log) if c[0] == "setup"][-1]
    assert teardowns == [["teardown", setup[1], setup[2]]] * 2, calls(log)
    wait_for(lambda: "teardown _acme-challenge.%s succeeded" % gone in httpd.error_log_text(),
             10, what="the second teardown's end")
    text = httpd.error_log_text()
    assert re.search(r"ACME00922: \*\.%s: AcmeDnsCmd .* teardown _acme-challenge\.%s stopped"
                     % (re.escape(gone), re.escape(gone)), text), httpd.diagnostics()
    assert "ACME00924: *.%s: running again" % gone in text, httpd.diagnostics()
    wait_for(lambda: not [p for p in hook_pids(log) if harness.pid_alive(p)], 15,
             what="every hook to end: %s" % hook_pids(log))


def test_abandoned_order_of_another_server_or_locked_waits(httpd, challtestsrv, unique):
    """The teardown of a removed name's order waits while another server on
    the store configures the name (configured.json), and while the name's
    lock is held (a later run runs it, once the lock is free)."""
    import fcntl
    gone, other = unique("lockdns"), unique("keep2dns")
    log, remove_gone = start_with_a_hooked_name(httpd, challtestsrv, gone, other)
    wait_for(lambda: current_setup(httpd, gone, log), 30, what="the setup")

    # another server on this store configures gone: its order is that server's
    conf = os.path.join(httpd.store, "configured.json")
    other_server = os.path.join(httpd.serverroot, "other-httpd.conf")
    with open(other_server, "w") as f:
        f.write("# another server\n")
    with open(conf) as f:
        configured = json.load(f)
    configured["servers"][other_server] = {"names": [gone], "since": "2026-01-01T00:00:00Z"}
    with open(conf, "w") as f:
        json.dump(configured, f)
    remove_gone()
    httpd.graceful()
    wait_for(lambda: not [p for p in hook_pids(log) if harness.pid_alive(p)], 15,
             what="the setup to be stopped at the exit: %s" % hook_pids(log))
    time.sleep(6)
    assert not [c for c in calls(log) if c[0] == "teardown"], calls(log)
    with open(os.path.join(httpd.store, "jobs", gone + ".json")) as f:
        assert json.load(f).get("dns01"), "the record keeps its setups"

    # that server is gone; the name's lock is held: still nothing
    os.unlink(other_server)
    lock = open(os.path.join(httpd.store, "jobs", gone + ".lock"), "r")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        httpd.graceful()
        wait_for(lambda: "ACME00925: %s: its abandoned order's lock is held" % gone
                 in httpd.error_log_text(), 30, what="the locked name to be skipped")
        time.sleep(2)
        assert not [c for c in calls(log) if c[0] == "teardown"], calls(log)
    finally:
        lock.close()
    # a later run of the same generation runs it, once
    teardowns = wait_for(lambda: [c for c in calls(log) if c[0] == "teardown"], 90,
                         what="the teardown once the lock is free")
    setup = [c for c in calls(log) if c[0] == "setup"][-1]
    assert teardowns == [["teardown", setup[1], setup[2]]], calls(log)


def test_setups_recorded_before_a_restart_are_torn_down_once(httpd, challtestsrv, plain_proxy,
                                                             unique):
    """A graceful restart comes while the CA is told to validate (the TXT
    records published): the order resumes in the next generation and
    completes, and each setup's record gets its teardown exactly once,
    also one whose authorization became valid meanwhile (the resumed order
    does not run its setup again)."""
    name = unique("resumedns")
    hook, log = harness.write_hook(httpd, "dns-hook", harness.DNS_HOOK,
                                   mgmt=challtestsrv.mgmt_port)
    acme = harness.dns_settings(hook, challtestsrv)
    acme["AcmeCA"] = plain_proxy.directory_url
    gate = plain_proxy.gate("POST", r"^/chalZ/", timeout=60)
    httpd.write_config(vhosts=ssl_vhost(name, ["*." + name], extra="AcmeChallenges dns-01"),
                       acme=acme)
    httpd.start()
    wait_for(gate.held.is_set, ISSUE_TIMEOUT, interval=0.05,
             what="the first challenge answer held at the proxy")
    with open(os.path.join(httpd.store, "jobs", name + ".json")) as f:
        recorded = json.load(f)["dns01"]
    assert len(recorded) == 2, recorded
    before = httpd.generation_count()
    httpd.graceful()
    wait_for(lambda: httpd.generation_count() > before, 30, interval=0.1,
             what="the graceful restart")
    plain_proxy.open_gates()
    httpd.wait_for_pebble_cert("foo." + name, 180)
    setups = [tuple(c[1:3]) for c in calls(log) if c[0] == "setup"]
    want = sorted(set(setups))
    assert len(want) == 2, calls(log)
    teardowns = wait_for(lambda: (lambda t: t if len(t) >= 2 else None)(
        sorted(tuple(c[1:3]) for c in calls(log) if c[0] == "teardown")), 30,
        what="the teardowns in %s" % log)
    time.sleep(3)
    teardowns = sorted(tuple(c[1:3]) for c in calls(log) if c[0] == "teardown")
    assert teardowns == want, (calls(log), httpd.diagnostics())
    text = httpd.error_log_text()
    assert re.search(r"ACME00403: %s: resuming the order of" % re.escape(name), text), \
        httpd.diagnostics()


def test_kept_order_of_a_resumed_dns01_order_tears_down_once(httpd, challtestsrv, plain_proxy,
                                                              unique):
    """An order resumed after a graceful restart fails at its certificate
    (a chain to a root not trusted) and is kept: the setups its record
    listed are torn down once, and the kept record lists them no more, so
    the next attempt, which resumes it again, runs no second teardown."""
    from test_chain_untrusted import failures, unrelated_root
    name = unique("keptdns")
    roots = os.path.join(httpd.serverroot, "roots.pem")
    unrelated_root(roots)
    hook, log = harness.write_hook(httpd, "dns-hook", harness.DNS_HOOK,
                                   mgmt=challtestsrv.mgmt_port)
    acme = harness.dns_settings(hook, challtestsrv)
    acme.update({"AcmeCA": plain_proxy.directory_url, "AcmeTrustedRootsFile": roots})
    gate = plain_proxy.gate("POST", r"^/chalZ/", timeout=60)
    httpd.write_config(vhosts=ssl_vhost(name, ["*." + name], extra="AcmeChallenges dns-01"),
                       acme=acme)
    httpd.start()
    wait_for(gate.held.is_set, ISSUE_TIMEOUT, interval=0.05,
             what="the first challenge answer held at the proxy")
    before = httpd.generation_count()
    httpd.graceful()
    wait_for(lambda: httpd.generation_count() > before, 30, interval=0.1,
             what="the graceful restart")
    plain_proxy.open_gates()
    # two failed attempts at the certificate, the second a resume of the kept order
    wait_for(lambda: len(failures(httpd, name)) >= 2, 180, interval=0.5,
             what="%s: two failed attempts" % name)
    assert [m.group(3) for m in failures(httpd, name)[:2]] == ["certificate"] * 2, \
        httpd.diagnostics()
    time.sleep(3)
    want = sorted(set(tuple(c[1:3]) for c in calls(log) if c[0] == "setup"))
    teardowns = sorted(tuple(c[1:3]) for c in calls(log) if c[0] == "teardown")
    assert len(want) == 2 and teardowns == want, (calls(log), httpd.diagnostics())
    with open(os.path.join(httpd.store, "jobs", name + ".json")) as f:
        assert "dns01" not in json.load(f)
    assert len(plain_proxy.new_orders()) == 1, plain_proxy.new_orders()
