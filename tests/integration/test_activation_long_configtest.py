"""Activation when the configuration test prints a lot: AcmeAutoDomains with
port-80 vhosts full of names it skips prints one notice per name (ACME01407),
so `apache2 -t` writes well over 8 KB and still passes. The parent's test
before the restart (-D ACME_STAGED_CHECK -t) must still see what its staged
check found, restart once, and never run the test in a loop: the staged
check's verdicts once went through the test's output, kept up to 4 KB, and a
passing test whose verdicts were cut off was run again at every look
(1.5 times a second, forever, the certificates never live)."""
import os
import threading
import time
import uuid

from harness import cert_names, slow, staged_check_pids

from test_auto_https import debian_listen, plain_vhost

ISSUE_TIMEOUT = 90
SKIPPED_PER_VHOST = 40           # each a notice of ~300 bytes in the test's output
OUTPUT_AT_LEAST = 8 * 1024
LIVE_WITHIN = 15                 # seconds from staged to served (it took 5 with little output)
STAGED_CHECKS_AT_MOST = 3        # one per restart; a retry at most


def public(label):
    return "%s-%s.example.com" % (label, uuid.uuid4().hex[:8])


class StagedCheckCounter:
    """Counts the processes whose command line has ACME_STAGED_CHECK and names
    this server's root (other servers of the suite run their own), looking
    at /proc every 10 ms (each such test runs for well over 100 ms here)."""

    def __init__(self, serverroot):
        self.serverroot = serverroot
        self.pids = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.pids.update(staged_check_pids(self.serverroot, self.pids))
            self._stop.wait(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def staged_dir(httpd, name):
    return os.path.join(httpd.store, "staging", name)


def test_certificates_go_live_when_the_configuration_test_prints_a_lot(httpd):
    site_a, site_b, site_c = public("long-a"), public("long-b"), public("long-c")
    skipped = ["localhost", "nodot", "10.0.0.1"] + [
        "h%02d.internal" % i for i in range(SKIPPED_PER_VHOST)]
    vhosts = (plain_vhost(site_a, ["www." + site_a] + skipped)
              + plain_vhost(site_b, ["x%02d.local" % i for i in range(SKIPPED_PER_VHOST)])
              + plain_vhost(site_c))
    httpd.write_config(vhosts=vhosts, extra_global="AcmeAutoDomains on")
    debian_listen(httpd)
    rc, out = httpd.configtest()
    assert rc == 0, out
    assert len(out.encode()) > OUTPUT_AT_LEAST and out.count("ACME01407") >= 80, \
        "the test printed only %d bytes:\n%s" % (len(out.encode()), out[-2000:])

    with StagedCheckCounter(httpd.serverroot) as checks:
        httpd.start()
        names = (site_a, site_b, site_c)
        staged_at = {}
        deadline = time.monotonic() + slow(ISSUE_TIMEOUT)
        certs = {}
        while len(certs) < len(names) and time.monotonic() < deadline:
            for name in names:
                if name not in staged_at and os.path.isdir(staged_dir(httpd, name)):
                    staged_at[name] = time.monotonic()
                if name in certs:
                    continue
                try:
                    certs[name] = httpd.verified_cert(name)
                except Exception:  # noqa: BLE001 - not yet
                    continue
                staged_at.setdefault(name, time.monotonic())
                live = time.monotonic() - staged_at[name]
                assert live <= slow(LIVE_WITHIN), \
                    "%s went live %.1f s after it was staged\n%s" % (name, live,
                                                                     httpd.diagnostics())
            time.sleep(0.2)
        log = httpd.error_log_text()
        assert len(certs) == len(names), \
            ("not live: %s; staged: %s; %d staged checks run\n%s"
             % (sorted(set(names) - set(certs)), sorted(staged_at), len(checks.pids),
                httpd.diagnostics()))
        # served early from staging/ before the automatic restart links them
        for name in names:
            httpd.wait_live(name)
        time.sleep(2)            # a loop would go on running the test
    assert cert_names(certs[site_a]) == {site_a, "www." + site_a}
    log = httpd.error_log_text()
    assert "ACME00704" in log, httpd.diagnostics()
    assert "ACME00717" not in log, httpd.diagnostics()
    restarts = log.count("ACME00704")
    assert 1 <= len(checks.pids) <= STAGED_CHECKS_AT_MOST * restarts, \
        ("%d staged checks for %d restart(s)\n%s"
         % (len(checks.pids), restarts, httpd.diagnostics()))
