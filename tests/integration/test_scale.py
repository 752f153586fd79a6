"""configtest grows with the number of AcmeDomain vhosts as plain SSL vhosts
do: at 5,000 domains it takes at most 3x the time of the same vhosts with a
static certificate and no mod_acme (a ratio, so machine load cancels out).
Before the config checks used indexes it was quadratic (13.1 s against 0.9 s
at 10,000 on one machine; on a slower 2-CPU machine 2.1x already at 5,000),
so the CPU time is also held to 1.6x, which that code fails and the indexed
checks (about 1.0x) pass with room for noise. With a sanitized build (ASan
makes mod_acme's own code, not httpd's, two to three times slower) no ratio is
asserted, and it says so: there the test is a memory check of a 5,000-domain
configuration; the plain build's run holds the speed."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import scale  # noqa: E402  (the benchmark's config generator and timer)
import harness  # noqa: E402

N = 5000
RUNS = 3


def test_configtest_at_5000_domains_within_3x_plain(build):
    so = os.path.join(build, ".libs", "mod_acme.so")
    workdir = tempfile.mkdtemp(prefix="it-scale-")
    os.chmod(workdir, 0o755)
    try:
        cert = scale.static_cert(workdir)
        servers = {mode: scale.Server(workdir, mode, N, so, cert) for mode in ("acme", "plain")}
        wall = {"acme": [], "plain": []}
        cpu = {"acme": [], "plain": []}
        for run in range(RUNS):   # interleaved, so a burst of load hits both
            for mode in ("acme", "plain") if run % 2 == 0 else ("plain", "acme"):
                w, c = servers[mode].configtest()
                wall[mode].append(w)
                cpu[mode].append(c)
        # the least disturbed run of each: load only ever adds time
        cpu_ratio = min(cpu["acme"]) / max(min(cpu["plain"]), 0.01)
        wall_ratio = min(wall["acme"]) / min(wall["plain"])
        print("configtest at %d domains: CPU %s vs %s s, wall %s vs %s s" % (
            N, cpu["acme"], cpu["plain"], wall["acme"], wall["plain"]))
        if harness.sanitizer_runtime():
            print("speed ratios not asserted: a sanitized build slows mod_acme's code, not "
                  "httpd's; the plain build's run asserts them")
            return
        assert cpu_ratio <= 3.0, "CPU %.2fx plain: %r vs %r" % (cpu_ratio, cpu["acme"], cpu["plain"])
        assert cpu_ratio <= 1.6, "CPU %.2fx plain: %r vs %r" % (cpu_ratio, cpu["acme"], cpu["plain"])
        assert wall_ratio <= 3.0, "wall %.2fx plain: %r vs %r" % (wall_ratio, wall["acme"],
                                                          wall["plain"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
