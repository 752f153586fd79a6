"""What the single-question benchmarks (idle.py, status_page.py) share: the
options --n and --timeout, the root check and a work directory removed
afterwards, a scale.py server stopped and removed after use, waiting for the
watchdog's status records, and CPU seconds from /proc."""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scale  # noqa: E402


def arguments(doc, counts, per_domain):
    """A parser described by doc's first line, with --n (domain counts,
    default counts) and --timeout (start timeout, plus per_domain seconds a
    domain)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--n", default=counts, help="domain counts [%s]" % counts)
    ap.add_argument("--timeout", type=float, default=120,
                    help="start timeout, + %s s per domain" % per_domain)
    return ap


def counts(args):
    """The domain counts of --n."""
    return [int(x) for x in args.n.split(",") if x.strip()]


def run(prefix, body):
    """Exits unless root; calls body(so, workdir) with mod_acme.so of
    ACME_BUILD_DIR and a new work directory (0755, prefix, removed after);
    returns (scale.machine() from before, what body returned)."""
    if os.geteuid() != 0:
        sys.exit("must run as root (httpd binds and switches to www-data)")
    so = os.path.join(os.environ.get("ACME_BUILD_DIR", scale.REPO_ROOT), ".libs", "mod_acme.so")
    where = scale.machine()
    workdir = tempfile.mkdtemp(prefix=prefix)
    os.chmod(workdir, 0o755)
    try:
        return where, body(so, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def server(workdir, mode, n, so, cert, keep=False, **kwargs):
    """A scale.Server (not started), stopped and its directory removed
    (kept, and said so, with keep) when the block ends."""
    srv = scale.Server(workdir, mode, n, so, cert, **kwargs)
    try:
        yield srv
    finally:
        if keep:
            print("# kept " + srv.root)
        srv.stop()
        if not keep:
            shutil.rmtree(srv.root, ignore_errors=True)


def count_records(store):
    """status/*.json in the store."""
    try:
        return sum(1 for e in os.listdir(os.path.join(store, "status")) if e.endswith(".json"))
    except OSError:
        return 0


def wait_records(store, n, timeout, pause=0.2):
    """Waits until the store has n status records; RuntimeError after timeout s."""
    deadline = time.monotonic() + timeout
    while count_records(store) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("%d of %d status records after %.0f s"
                               % (count_records(store), n, timeout))
        time.sleep(pause)


def cpu_seconds(parent, own=True):
    """user+sys seconds of parent's live children, from /proc; with own, also
    of parent itself and of the children it reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == parent:
            total += sum(int(x) for x in fields[11:15]) / tick if own else 0
        elif int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total
