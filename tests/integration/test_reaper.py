"""A test run killed mid-test leaves no server behind (reaper.py): pytest
running reaper_probe.py, which holds Pebble, challtestsrv, an httpd and a
redis-server, is ended by SIGTERM, SIGINT (Ctrl-C) or SIGKILL; every one of
those processes, and every process naming the httpd's ServerRoot, is gone
soon after."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

import harness
from harness import pid_alive, pids_with_arg, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


def hung_state(proc):
    """What a run that does not end is doing: its signal masks (is SIGINT
    blocked, ignored, caught?), where it sleeps in the kernel, and its
    children."""
    lines = []
    try:
        with open("/proc/%d/status" % proc.pid) as f:
            lines += [l.strip() for l in f if l.startswith(("State", "SigBlk", "SigIgn", "SigCgt"))]
        with open("/proc/%d/wchan" % proc.pid) as f:
            lines.append("wchan: " + f.read().strip())
    except OSError as exc:
        lines.append(str(exc))
    ps = subprocess.run(["ps", "-o", "pid,ppid,pgid,stat,wchan:20,args", "--ppid", str(proc.pid)],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return "\n".join(lines + [ps.stdout.rstrip()])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_killed_run_leaves_no_server_behind(build, sig):
    d = harness.make_tree("it-reaper-")
    out = os.path.join(d, "pids.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["ACME_REAPER_PROBE_OUT"] = out
    env["ACME_BUILD_DIR"] = build
    log = open(os.path.join(d, "pytest.log"), "w")
    # A session of its own: the signal reaches pytest alone, as a kill does.
    # SIGINT at its default action, as in a terminal's foreground job: a run
    # started in the background by a non-interactive shell (a CI script, `cmd
    # &`) has SIGINT ignored (POSIX), and an ignored signal stays ignored
    # across fork and exec into the probe, whose Python then installs no
    # KeyboardInterrupt handler at all: Ctrl-C would do nothing there.
    proc = subprocess.Popen(["env", "--default-signal=INT", sys.executable, "-u", "-m", "pytest",
                             "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                             os.path.join(HERE, "reaper_probe.py")],
                            cwd=HERE, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: os.path.exists(out) or proc.poll() is not None, 90,
                 what="the probe run to start its servers")
        assert os.path.exists(out), "probe run ended (%s):\n%s" % (proc.returncode,
                                                                   harness.tail(log.name))
        with open(out) as f:
            info = json.load(f)
        pids = info["pids"]
        assert all(pid_alive(p) for p in pids.values()), pids
        assert pids_with_arg(info["serverroot"]), "no process names %s" % info["serverroot"]

        os.kill(proc.pid, sig)
        # SIGINT: pytest first stops every fixture's server itself (httpd's
        # stop alone may take half a minute on a loaded machine).
        try:
            proc.wait(timeout=harness.slow(180))
        except subprocess.TimeoutExpired:
            state = hung_state(proc)
            # pytest's faulthandler writes every thread's stack to the log on SIGABRT
            os.kill(proc.pid, signal.SIGABRT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            raise AssertionError("pytest still running 180 s after %s:\n%s\n%s" % (
                sig.name, state, harness.tail(log.name, 80))) from None

        def all_gone():
            left = {k: p for k, p in pids.items() if pid_alive(p)}
            named = pids_with_arg(info["serverroot"])
            return None if left or named else True
        try:
            wait_for(all_gone, 20, interval=0.2, what="every server of the killed run to end")
        except TimeoutError as exc:
            raise AssertionError("%s: still running %s, naming the ServerRoot %s\n%s" % (
                exc, {k: p for k, p in pids.items() if pid_alive(p)},
                pids_with_arg(info["serverroot"]), harness.tail(log.name))) from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)
