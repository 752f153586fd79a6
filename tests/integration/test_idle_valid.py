"""Idle with valid certificates and the CA unreachable: nothing is due, so no
name's status record is rewritten and each name is looked at no more than
once in the window (it was every minute, each look rewriting the record).
While the CA does not answer renewal information requests, one name asks at
each step of its backoff and the others are not looked at (before, each name
looked again once per backoff step, each look in a watchdog run of its own);
saving that name's ARI record does not make the watchdog look for acmectl's
markers at every name (it did: the record was in jobs/, where the markers
are looked for when it changed).

200 SSL vhosts with AcmeDomain and a live certificate planted for each (the
idle bench's plant), AcmeCA on a closed port, acme:debug. After every status
record exists, a window of at least WINDOW seconds that lasts until AFTER_ARI
seconds after the first ARI request with no answer in it:
status records rewritten (mtime), ACME00413 ("certificate valid") lines,
watchdog runs (ACME00711), ARI requests that got no answer (ACME00426) and
runs over every name because jobs/ changed (ACME01233) are counted.
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import harness  # noqa: E402
import bench_common  # noqa: E402
import idle  # noqa: E402
import scale  # noqa: E402

N = 200
# s: the shortest window, longer than a minute (each name was looked at every
# minute); it lasts until AFTER_ARI s after the first ARI request in it
WINDOW = 70
AFTER_ARI = 40


def status_mtimes(store):
    d = os.path.join(store, "status")
    out = {}
    for e in os.listdir(d):
        if e.endswith(".json"):
            try:
                out[e] = os.stat(os.path.join(d, e)).st_mtime_ns
            except OSError:
                pass
    return out


def after_ari_save(log, offset):
    """(runs over every name because jobs/ changed (ACME01233), watchdog runs
    (ACME00711)) after the first ARI request with no answer (ACME00426, whose
    record is saved then) from offset on."""
    scans = runs = 0
    seen = False
    with open(log, "rb") as f:
        f.seek(offset)
        for line in f:
            seen = seen or b"ACME00426" in line
            if seen:
                scans += b"ACME01233" in line and b"jobs/ changed" in line
                runs += b"ACME00711" in line
    return scans, runs


def test_idle_valid_certificates_no_per_name_work():
    harness.require_build()
    workdir = tempfile.mkdtemp(prefix="acme-idle-test-")
    os.chmod(workdir, 0o755)
    srv = scale.Server(workdir, "acme", N, harness.module_path(), scale.static_cert(workdir),
                       acme_extra="LogLevel warn acme:debug")
    try:
        store = os.path.join(srv.root, "acme")
        idle.plant(store, srv.names)
        srv.start(120 * harness.deadline_factor())
        harness.wait_for(lambda: bench_common.count_records(store) >= N, 180 * harness.deadline_factor(),
                         interval=1, what="%d status records" % N)
        time.sleep(5)
        log = os.path.join(srv.root, "error.log")
        before = status_mtimes(store)
        offset = os.path.getsize(log)
        t0 = time.monotonic()
        first_ari = []

        def window_done():
            # an ARI request in the window, and the look for markers after it
            # (ACME_MARKER_POLL, 30 s): the backoff's steps are 1, 2, 4 minutes
            now = time.monotonic()
            if not first_ari and idle.tag_counts(log, offset).get("ACME00426"):
                first_ari.append(now)
            return now - t0 >= WINDOW and first_ari and now - first_ari[0] >= AFTER_ARI
        harness.wait_for(window_done, WINDOW + 300 + AFTER_ARI, interval=2,
                         what="an ARI request in the window and %d s after it" % AFTER_ARI)
        window = time.monotonic() - t0
        print("first ARI request seen %d s into the window" % (first_ari[0] - t0))
        after = status_mtimes(store)
        tags = idle.tag_counts(log, offset)
        rewritten = [n for n, t in before.items() if after.get(n) != t]
        looks = tags.get("ACME00413", 0)
        runs = tags.get("ACME00711", 0)
        scans, runs_after = after_ari_save(log, offset)
        print("window %d s: %d of %d status records rewritten, %d looks (ACME00413), "
              "%d runs (ACME00711), %d ARI requests (ACME00426), then %d runs over every "
              "name since jobs/ changed (ACME01233) in %d runs" % (
                  window, len(rewritten), N, looks, runs, tags.get("ACME00426", 0), scans,
                  runs_after))
        # one name per backoff step asks the CA (and records its next poll)
        assert len(rewritten) <= 3, "%d of %d status records rewritten while nothing " \
            "changed, e.g. %s" % (len(rewritten), N, rewritten[:3])
        # that one name, not every name once per backoff step
        assert looks <= 5, "%d looks at %d valid certificates in %d s" % (looks, N, window)
        # a run per look for acmectl's markers (30 s) and per ARI request, not
        # one per name due (each name's own time): about 5 in 130 s
        assert runs <= window / 30 + 2 * tags.get("ACME00426", 0) + 3, \
            "%d watchdog runs in %d s" % (runs, window)
        # the ARI record's save left jobs/ alone: the runs after it (the one
        # that saved it, then a look for markers 30 s later) did not find
        # jobs/ changed
        assert tags.get("ACME00426", 0) >= 1 and runs_after >= 2, runs_after
        assert scans == 0, "%d looks at every name's markers in %d runs after an ARI " \
            "record was saved" % (scans, runs_after)
        assert not tags.get("ACME00403"), "an order was started"
    finally:
        srv.stop()
        shutil.rmtree(workdir, ignore_errors=True)
