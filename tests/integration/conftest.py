"""Fixtures: one Pebble + challtestsrv per session (Pebble keeps state, so every
test uses its own names), and a fresh httpd per test in its own ServerRoot."""
import os
import shutil
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import reaper  # noqa: E402
from ari_proxy import AcmeProxy  # noqa: E402


def pytest_configure(config):
    """No server a test started outlives the test process, however it ends
    (reaper.py): a run killed mid-test leaves no Pebble, challtestsrv,
    redis-server or httpd behind."""
    reaper.enable()


# Seconds the 30 slowest files took (the sum of their tests' --durations in a
# whole run with 2 workers: 4,251 s of tests in all, 315 of them). The files
# run slowest first: a long test started last would leave the other workers
# idle at the end of the run.
SLOW_FILES = {
    "test_ca_personalities.py": 477, "test_cluster_restart_writes.py": 248,
    "test_ca_behaviour.py": 236, "test_dns_persist.py": 229, "test_renewal.py": 223,
    "test_dns01.py": 173, "test_pacing.py": 172, "test_cluster_redis_stop.py": 132,
    "test_cluster_redis_down.py": 122, "test_cluster_rotate_rolling.py": 117,
    "test_cluster_wrong_key.py": 115, "test_cluster_takeover.py": 112,
    "test_cluster_takeover_finalized.py": 112, "test_cluster_claim_kept.py": 112,
    "test_idle_valid.py": 107, "test_cluster_rotate.py": 107, "test_cluster_outage.py": 101,
    "test_cluster_redis_empty.py": 97, "test_ari.py": 94, "test_cluster_failover.py": 93,
    "test_cluster_tls.py": 83, "test_cluster.py": 81, "test_ari_parked.py": 74,
    "test_acmectl_ca.py": 70, "test_stepca.py": 69, "test_cluster_wrong_key_held.py": 68,
    "test_chain_untrusted.py": 67, "test_cluster_view.py": 58,
    "test_cluster_redis_empty_early.py": 50, "test_cluster_ttl.py": 50,
}


def pytest_collection_modifyitems(session, config, items):
    """The files of SLOW_FILES first, slowest first; each file's tests stay
    together and in their order. build/test.sh runs pytest-xdist with
    --dist loadfile, which hands each worker whole files in this order (a
    file's module fixtures, such as its own Pebble, are set up once, on one
    worker), the next one when the worker is nearly done with what it has."""
    order = {item: i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-SLOW_FILES.get(item.path.name, 0), order[item]))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture(autouse=True)
def sanitizer_logs(request, monkeypatch):
    """With a sanitized build (build/sanitize.sh, build/test.sh --sanitize):
    every process the test starts writes its ASan/UBSan reports to a
    directory of the test's own, and any report there fails the test (an
    error at its teardown that names it). This fixture is set up first and
    torn down last, after the test's httpd stopped; it waits for every process
    still running with the test's sanitizer options, and for every report to
    be finished, before it judges."""
    if not harness.sanitizer_runtime():
        yield
        return
    logdir = harness.make_tree("it-sanitizer-")
    os.chmod(logdir, 0o1777)    # httpd's children and acmectl run as the server's User
    for name, value in harness.sanitizer_options(logdir).items():
        monkeypatch.setenv(name, value)
    yield
    stragglers = harness.sanitized_pids(logdir)
    deadline = time.monotonic() + harness.SANITIZER_REPORT_WAIT
    while stragglers and time.monotonic() < deadline:
        time.sleep(0.2)
        stragglers = harness.sanitized_pids(logdir)
    reports = harness.sanitizer_reports(logdir)
    # what went to stderr instead (an error log, a command's output): a
    # process without the test's options, or one that could not write its file
    logged = harness.sanitizer_log_findings(logdir)
    if not reports and not logged:
        if not stragglers:
            shutil.rmtree(logdir, ignore_errors=True)
        return
    # the first line is what pytest's short summary shows: test, process, finding
    pytest.fail("%d sanitizer report(s) from processes of %s: %s\n(kept in %s)\n%s" % (
        len(reports) + len(logged), request.node.nodeid, "; ".join(
            ["process %d: %s" % (pid, harness.sanitizer_summary(text)) for _, pid, text in reports]
            + ["in %s: %s" % (name, lines[0]) for name, lines in logged]),
        logdir, "\n".join(["---- %s\n%s" % (path, harness.sanitizer_report_digest(text))
                           for path, _, text in reports]
                          + ["---- %s\n%s" % (name, "\n".join(lines[:40]))
                             for name, lines in logged])), pytrace=False)


@pytest.fixture(scope="session")
def build():
    """The module and acmectl under test; fails (never skips) when missing."""
    try:
        harness.require_build()
    except harness.HarnessError as exc:
        pytest.fail(str(exc))
    return harness.build_dir()


@pytest.fixture(scope="session")
def workdir():
    path = harness.make_tree("it-session-")
    yield path
    if os.environ.get("ACME_KEEP_TMP"):
        print("kept %s" % path)
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def challtestsrv(workdir):
    with harness.started(harness.ChallTestSrv(workdir), "pebble-challtestsrv") as srv:
        yield srv


@pytest.fixture(scope="session")
def pebble(workdir, challtestsrv):
    """Pebble, validating challenges at the httpd ports every test's httpd uses."""
    with harness.started(harness.Pebble(workdir, challtestsrv.dns_port, harness.free_port(),
                                        harness.free_port()), "Pebble") as pb:
        yield pb


@pytest.fixture
def httpd_factory(request, build, pebble):
    """Makes Httpd instances; stops them and removes their trees afterwards.
    On failure their error logs (and Pebble's log tail) go into the report."""
    made = []

    def make(cls=harness.Httpd, **kwargs):
        kwargs.setdefault("pebble", pebble)
        h = cls(**kwargs)
        made.append(h)
        return h
    yield make
    failed = _failed(request)
    keep = failed and bool(os.environ.get("ACME_KEEP_TMP"))
    for h in made:
        if failed:
            sys.stdout.write("\n" + h.diagnostics(120) + "\n")
            sys.stdout.write("---- config %s\n%s\n" % (h.conf_path, h.conf_text))
        h.cleanup(keep=keep)
    if failed:
        sys.stdout.write("---- %s (tail)\n%s\n" % (pebble.log_path, harness.tail(pebble.log_path, 40)))


@pytest.fixture
def httpd(httpd_factory):
    """An httpd on the ports Pebble validates at, configured to use Pebble."""
    return httpd_factory()


@pytest.fixture
def proxy(pebble):
    """The ACME proxy in front of Pebble (ari_proxy.py) with its defaults;
    a test module that needs other settings defines its own."""
    p = AcmeProxy(pebble).start()
    yield p
    p.stop()


@pytest.fixture
def plain_proxy(pebble):
    """The ACME proxy in front of Pebble as Pebble is (no ARI added), for
    tests that only hold or count requests at it (its gates)."""
    p = AcmeProxy(pebble)
    p.ari_enabled = False
    p.start()
    yield p
    p.stop()


@pytest.fixture
def unique():
    """unique('one') -> 'one-<random>.test': Pebble remembers names."""
    def make(label):
        return "%s-%s.test" % (label, uuid.uuid4().hex[:8])
    return make
