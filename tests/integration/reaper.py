"""Nothing a test run started outlives it.

Every server the harness starts (Pebble, pebble-challtestsrv, redis-server,
step-ca: a process group of their own; httpd: its daemon's group and every
process whose command line names its ServerRoot) is registered here while it
runs. What is still registered when the test process ends is killed:

- at a normal end, by an atexit handler (after pytest's own fixtures stopped
  what they started, so normally nothing is left);
- on SIGTERM, by a signal handler, which then lets SIGTERM end the process;
- on SIGINT, pytest's KeyboardInterrupt unwinds the fixtures, then atexit;
- on anything else (kill -9, a crash), by a watcher: `python3 reaper.py`, a
  process of its own session that the test process feeds its registrations
  through a pipe and that kills what is registered once the pipe closes.

Only the test harness turns this on (enable()): build/demo.py leaves its site
running on purpose and never does.

The watcher's protocol, one line each: "+g PGID" / "-g PGID" (a process
group), "+n TEXT" / "-n TEXT" (every process whose command line contains
TEXT, a unique temporary directory)."""
import atexit
import os
import signal
import subprocess
import sys
import threading
import time

GRACE = 3.0          # seconds between SIGTERM and SIGKILL

_registered = {"g": set(), "n": set()}   # process groups, command-line texts
_lock = threading.Lock()
_watcher = None
_enabled = False


def pids_with_arg(needle):
    """Processes whose command line mentions needle (our unique temp dirs)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry))
    return found


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _group_members(pgid):
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _targets(groups, needles):
    me = os.getpid()
    pids = set()
    for pgid in groups:
        pids.update(_group_members(pgid))
    for needle in needles:
        pids.update(pids_with_arg(needle))
    pids.discard(me)
    return pids


def reap(groups, needles, grace=GRACE):
    """SIGTERM to every process of groups and every process whose command
    line contains one of needles, SIGKILL to those still there after grace
    seconds; returns the pids found."""
    pids = _targets(groups, needles)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while sig == signal.SIGTERM and time.monotonic() < deadline \
                and any(pid_alive(p) for p in pids):
            time.sleep(0.05)
        # a server may have forked meanwhile: look again before SIGKILL
        pids |= _targets(groups, needles)
    return pids


def _send(line):
    if _watcher is None:
        return
    try:
        _watcher.stdin.write((line + "\n").encode())
        _watcher.stdin.flush()
    except (OSError, ValueError):
        pass


def _register(kind, value, add):
    """Adds value to (or drops it from) the registered groups ("g") or
    command-line texts ("n"), and tells the watcher."""
    with _lock:
        (_registered[kind].add if add else _registered[kind].discard)(value)
        _send("%s%s %s" % ("+" if add else "-", kind, value))


def track_group(pgid):
    """pgid is a process group of a server this process started."""
    _register("g", pgid, True)


def untrack_group(pgid):
    _register("g", pgid, False)


def track_needle(text):
    """Every process whose command line contains text belongs to this run."""
    _register("n", text, True)


def untrack_needle(text):
    _register("n", text, False)


def reap_all():
    """Kills everything still registered (see reap()); returns the pids."""
    with _lock:
        groups, needles = set(_registered["g"]), set(_registered["n"])
        _registered["g"].clear()
        _registered["n"].clear()
    return reap(groups, needles) if groups or needles else set()


def _on_sigterm(signum, frame):
    reap_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def enable():
    """Turns the reaping on for this process (idempotent): the atexit
    handler, the SIGTERM handler (main thread only, and only where SIGTERM
    still has its default action) and the watcher process."""
    global _enabled, _watcher
    if _enabled:
        return
    _enabled = True
    atexit.register(reap_all)
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    # its own session: a Ctrl-C or a kill of the test's process group does
    # not reach it; it ends when the pipe closes, whatever ended this process
    _watcher = subprocess.Popen([sys.executable, os.path.abspath(__file__)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True)


def _watch():
    registered = {"g": set(), "n": set()}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        op, _, value = line.decode(errors="replace").rstrip("\n").partition(" ")
        if len(op) != 2 or op[0] not in "+-" or op[1] not in registered or not value:
            continue
        value = int(value) if op[1] == "g" else value
        (registered[op[1]].add if op[0] == "+" else registered[op[1]].discard)(value)
    reap(registered["g"], registered["n"])


if __name__ == "__main__":
    _watch()
