"""Crash safety: kill -9 of the issuing child, or of the whole server, at
chosen points of an issuance (order created, challenge answered, order
finalized) and at random instants. Afterwards the certificate is obtained
(from the same order where one exists) and served, and the store is
consistent: no temp files, every archived key matches its certificate, keys
0600, acmectl check passes.

The points are made to last: a proxy in front of Pebble holds the request
that follows the point, while the test watches jobs/<name>.json's "step"
(the order saved where a resume needs it) every few milliseconds and then
kills."""
import json
import os
import random
import re
import time

import pytest

import harness
from harness import kill9, pids_with_arg, ssl_vhost, store_problems, wait_for

ISSUE_TIMEOUT = 60

# point -> (the step jobs/<name>.json shows there, the request the proxy holds, skip).
# The record is written when the order is made and again at step certificate
# (what a resume needs), so between the two it says "authorize".
POINTS = {
    "order-created": ("authorize", "POST", r"^/authZ/", 0),          # fetching authorizations
    "challenge-answered": ("authorize", "POST", r"^/finalize-order/", 0),  # finalize, validated?
    "finalized": ("certificate", "POST", r"^/certZ/", 0),            # downloading the chain
}


def job_step(store, name):
    try:
        with open(os.path.join(store, "jobs", name + ".json")) as f:
            return json.load(f).get("step")
    except (OSError, ValueError):
        return None


def watchdog_child(httpd):
    """The child running the issuance watchdog (its ACME00708 line)."""
    pids = re.findall(r"ACME00708: .* in process (\d+)", httpd.error_log_text())
    assert pids, "no issuance watchdog in the log:\n" + httpd.diagnostics()
    pid = int(pids[-1])
    with open("/proc/%d/stat" % pid) as f:
        ppid = int(f.read().split(") ", 1)[1].split()[1])
    assert ppid == httpd.pid(), "process %d is not a child of httpd %s" % (pid, httpd.pid())
    return pid


def kill_server(httpd):
    """kill -9 of the parent and every child, all at once."""
    pids = set(p for p in pids_with_arg(httpd.serverroot) if p != os.getpid())
    if httpd.pid():
        pids.add(httpd.pid())
    kill9(sorted(pids))
    wait_for(lambda: not harness.port_open(httpd.https_port), 10, what="httpd ports to close")
    # The dead parent may stay a zombie for a while (whoever inherited it
    # reaps late), and 'apache2 -k start' takes a zombie's pid file for a
    # running server: wait for it to go, as after a real crash.
    try:
        wait_for(lambda: not os.path.exists("/proc/%d" % httpd.pid()), 10, interval=0.05,
                 what="the killed parent to be reaped")
    except TimeoutError:
        os.unlink(httpd.pid_file)


def assert_store_consistent(httpd):
    """Checked with httpd stopped: a running server may be writing a file
    right now, and its temp file is no leftover."""
    httpd.stop()
    problems = store_problems(httpd.store)
    assert not problems, "store %s:\n%s" % (httpd.store, "\n".join(problems))
    chk = httpd.acmectl("--store", httpd.store, "check")
    assert chk.returncode == 0, "acmectl check failed (%d):\n%s%s" % (
        chk.returncode, chk.stdout, chk.stderr)


@pytest.mark.parametrize("victim", ["watchdog-child", "server"])
@pytest.mark.parametrize("point", list(POINTS))
def test_kill_during_issuance(httpd, pebble, plain_proxy, unique, point, victim):
    step, method, path, skip = POINTS[point]
    gate = plain_proxy.gate(method, path, timeout=60, skip=skip)
    name = unique("crash-%s-%s" % (point[:5], victim[:5]))
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": plain_proxy.directory_url})
    httpd.start()

    def at_point():
        return gate.held.is_set() and job_step(httpd.store, name) == step
    try:
        wait_for(at_point, 30, interval=0.005, what="step '%s' with the proxy holding %s %s"
                 % (step, method, path))
    except TimeoutError as exc:
        raise AssertionError("%s; step now %r\n%s" % (exc, job_step(httpd.store, name),
                                                      httpd.diagnostics())) from None

    if victim == "watchdog-child":
        parent = httpd.pid()
        kill9([watchdog_child(httpd)])
        plain_proxy.open_gates()
        # the parent lives on and starts a new child, which resumes the job
        assert httpd.running() and httpd.pid() == parent
    else:
        kill_server(httpd)
        plain_proxy.open_gates()
        problems = store_problems(httpd.store, temp_files=False)
        assert not problems, "right after kill -9:\n" + "\n".join(problems)
        httpd.start()

    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert name in harness.cert_names(cert)
    orders = plain_proxy.new_orders()
    assert len(orders) == 1, "the order was not resumed: %d new orders\n%s" % (
        len(orders), httpd.diagnostics())
    live = harness.live_version(httpd.store, name)
    assert live and harness.version_leaf(live).serial_number == cert.serial_number
    assert_store_consistent(httpd)


def test_kill_at_random_instants_never_corrupts_the_store(httpd, pebble, unique):
    """Whole-server kill -9 at random instants of the first seconds (store
    creation, account, order, staging, activation), five times; then an
    undisturbed start. No partial file after any kill (a writer's temp file
    may be left); after the undisturbed run, no temp file either."""
    name = unique("crash-random")
    httpd.write_config(vhosts=ssl_vhost(name, ["www." + name]))
    rng = random.Random()
    delays = []
    for _ in range(5):
        httpd.start()
        delay = rng.uniform(0.0, 0.4)
        delays.append(round(delay, 3))
        time.sleep(delay)
        kill_server(httpd)
        problems = store_problems(httpd.store, temp_files=False)
        assert not problems, "after kill -9 at +%.3f s:\n%s" % (delay, "\n".join(problems))
    httpd.start()
    cert = httpd.wait_for_pebble_cert("www." + name, ISSUE_TIMEOUT)
    assert harness.cert_names(cert) == {name, "www." + name}
    assert_store_consistent(httpd)
    print("kills at +%s s" % delays)
