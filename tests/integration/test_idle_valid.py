"""Idle with valid certificates and the CA unreachable: nothing is due, so no
name's status record is rewritten and each name is looked at no more than
once in the window (it was every minute, each look rewriting the record).

200 SSL vhosts with AcmeDomain and a live certificate planted for each (the
idle bench's plant), AcmeCA on a closed port, acme:debug. After every status
record exists, a WINDOW-second window: status records rewritten (mtime) and
ACME00413 ("certificate valid") lines are counted.
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
WINDOW = 130


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
        time.sleep(WINDOW)
        after = status_mtimes(store)
        tags = idle.tag_counts(log, offset)
        rewritten = [n for n, t in before.items() if after.get(n) != t]
        looks = tags.get("ACME00413", 0)
        print("window %d s: %d of %d status records rewritten, %d looks (ACME00413), "
              "%d runs (ACME00711)" % (WINDOW, len(rewritten), N, looks,
                                       tags.get("ACME00711", 0)))
        # one name per backoff step asks the CA (and records its next poll)
        assert len(rewritten) <= 3, "%d of %d status records rewritten while nothing " \
            "changed, e.g. %s" % (len(rewritten), N, rewritten[:3])
        assert looks <= N * 3 // 2, "%d looks at %d valid certificates in %d s" % (
            looks, N, WINDOW)
        assert not tags.get("ACME00403"), "an order was started"
    finally:
        srv.stop()
        shutil.rmtree(workdir, ignore_errors=True)
