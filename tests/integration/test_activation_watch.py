"""The activation thread's inotify watches: staging/ and each configured
name's entry are watched once per generation, and an entry made later gets
its watch when staging/'s watch reports it; a look at staging adds none.
Counted with strace on the parent over a first issuance of NAMES names:
adding every entry's watch at every look made those calls O(names) per look,
hundreds over such an issuance."""
import re
import shutil
import subprocess
import time

import pytest

from harness import ssl_vhost, wait_for

NAMES = 6
ISSUE_TIMEOUT = 90


def add_watch_calls(trace):
    """inotify_add_watch calls in strace's output (an interrupted call's
    resumption is not counted again)."""
    return len(re.findall(r"inotify_add_watch\(", trace))


@pytest.mark.skipif(shutil.which("strace") is None,
                    reason="strace is not installed: the watch calls cannot be counted")
def test_a_first_issuance_adds_each_watch_once_per_generation(httpd, unique, tmp_path):
    names = [unique("watch%d" % i) for i in range(NAMES)]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names))
    httpd.start()
    out = tmp_path / "strace.txt"
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=inotify_add_watch",
                               "-o", str(out), "-p", str(httpd.pid())],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)          # attached before the first entry is staged
        generations = httpd.generation_count()
        for name in names:
            httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
        httpd.wait_idle(timeout=60)
        generations = httpd.generation_count() - generations + 1
    finally:
        tracer.terminate()
        _, err = tracer.communicate(timeout=30)
    trace = out.read_text(errors="replace") if out.exists() else ""
    calls = add_watch_calls(trace)
    armed = len(re.findall(r"ACME00756: ", httpd.error_log_text()))
    # per generation: staging/ and every entry once, and every entry again
    # when it is made; the first generation armed before strace attached
    bound = generations * (2 * NAMES + 1)
    why = ("%d inotify_add_watch calls over %d generation(s), at most %d expected; "
           "ACME00756 seen %d times; strace said: %s\n%s"
           % (calls, generations, bound, armed, err.decode(errors="replace")[-400:],
              trace[-2000:]))
    assert 0 < calls <= bound, why
    assert armed >= generations, why
