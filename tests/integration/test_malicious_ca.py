"""A malicious CA (hostile_ca.py: proxies in front of Pebble with hostile
modes, each naming what it imitates). Each httpd first obtains a good
certificate; then the renewal meets the hostile CA, one mode per attempt.
After every hostile attempt:
- a clear logged error: ACME00402 names the step and what the CA did wrong;
- the live certificate keeps serving (the same serial, verified);
- nothing bad in the store: no new archive version, no staged entry;
- no crash: the parent is the same and children answer;
- no thread stuck: the next attempt is scheduled (the next phase is that
  attempt), and once the CA behaves the renewal succeeds by itself.
AcmeCA lists four proxies of one Pebble (one shared hostile mode), so the
first pass through the list retries after ~10 s rather than a minute; the
proxies switch modes at each new order, so every attempt meets one.
Two httpd servers, each with its own Pebble, run at once to save time."""
import datetime
import os
import re
import threading
import time

import harness
from harness import archive_versions, ssl_vhost, utcnow, wait_for, wait_for_new_cert
from hostile_ca import HostileCA

PROXIES = 4

# mode -> what the ACME00402 line must say (the step's error as the user reads it)
PROTOCOL = [
    ("huge_body", r"response body larger than 65536 bytes"),
    ("redirect_loop", r"unexpected redirect \(HTTP 302\)"),
    ("cross_origin_redirect", r"unexpected redirect \(HTTP 307\) to https://ca\.attacker\.test/"),
    ("foreign_urls", r"ACME order: URL https://ca\.attacker\.test/authZ/\S+ is not https on "
                     r"the CA's host"),
    ("dup_members", r"ACME authorization: not JSON \(duplicate object key"),
    ("wrong_types", r"ACME authorization: member \"status\" is not a string"),
    ("nul_bytes", r"ACME authorization: not JSON \(\\+u0000 is not allowed"),
    ("bad_utf8", r"not JSON \(unable to decode byte 0xc3"),
    ("giant_nonce", r"HEAD \S+/nonce-plz: no valid Replay-Nonce in the response"),
    ("problem_10mb", r"response body larger than 65536 bytes"),
    ("slow_loris", r"Operation too slow\. Less than 32 bytes/sec"),
]
CERTIFICATES = [
    ("cert_other_names", r"not fit to serve: certificate does not cover hostile-certs-"),
    ("cert_expired", r"not fit to serve: certificate expired on "),
    ("cert_not_yet_valid", r"not fit to serve: certificate is not valid before "),
    ("cert_other_key", r"not fit to serve: the certificate is for another key than the CSR's"),
    ("chain_untrusted", r"not fit to serve: the chain does not verify to a trusted root: "
                        r"self-signed certificate in certificate chain; its top certificate "
                        r"\"CN=Hostile Test CA\" is issued by \"CN=Hostile Test CA\", a root "
                        r"this server does not trust \(trusted roots: the system's store, "
                        r"AcmeTrustedRootsFile \S+, AcmeCACertificateFile \S+\); order "
                        r"\S+ is kept: the next attempt fetches its certificate again"),
    ("chain_loop", r"not fit to serve: the chain does not verify to a trusted root: .*, which "
                   r"is on the chain already: the chain loops"),
]
# the error kind of each (status page, JSON "kind"); the protocol modes have their own
CERT_KINDS = {"cert_other_names": "cert-names", "cert_expired": "cert-expired",
              "cert_not_yet_valid": "cert-not-yet-valid", "cert_other_key": "cert-key",
              "chain_untrusted": "chain-untrusted", "chain_loop": "chain-invalid"}
# the attempts that fetch a kept order's certificate again instead of ordering:
# the one after the chain that led to no trusted root
SAME_ORDER = ["chain_loop"]
# group 1: what the log line has between its "[pid ...] " and the tag (a system error)
ATTEMPT = re.compile(r"(?:\] )?([^\]\n]*?)ACME00402: (\S+): obtaining a certificate failed in step (\S+) "
                     r"\(attempt (\d+)\): (.*); next attempt at (\S+)")


class Scenario(HostileCA):
    """One httpd with its own Pebble and proxies, driven through phases in a thread."""

    def __init__(self, label, httpd_factory, workdir, challtestsrv, unique, due_certs):
        super().__init__(label, httpd_factory, workdir, challtestsrv, unique, due_certs,
                         proxies=PROXIES)
        self.seen = []          # (mode, step, detail, next attempt) per hostile attempt
        self.errors = []
        self.log_offset = 0

    # -- what the server shows ---------------------------------------------
    def failures(self):
        text = self.httpd.error_log_text()[self.log_offset:]
        return [m for m in ATTEMPT.finditer(text) if m.group(2) == self.name]

    def wait_failure(self, attempt, timeout):
        def found():
            for m in self.failures():
                if int(m.group(4)) == attempt:
                    return m
            return None
        try:
            return wait_for(found, timeout, interval=0.1,
                            what="%s: failed attempt %d" % (self.name, attempt))
        except TimeoutError as exc:
            raise AssertionError("%s\n%s" % (exc, self.httpd.diagnostics(60))) from None

    def store_clean(self, versions):
        staging = os.path.join(self.httpd.store, "staging", self.name)
        staged = os.listdir(staging) if os.path.isdir(staging) else []
        assert not staged, "%s: staged entry written: %s" % (self.name, staged)
        assert len(archive_versions(self.httpd.store, self.name)) == versions, \
            "new archive version: %s" % archive_versions(self.httpd.store, self.name)

    def still_serving(self, serial):
        served = self.httpd.verified_cert(self.name)
        assert served.serial_number == serial, "live certificate changed: %x -> %x" % (
            serial, served.serial_number)
        status, _, _ = self.httpd.http_request("/index.html")
        assert status == 200, status

    # -- the phases ------------------------------------------------------------
    def hostile(self, phases, first, recovery=None):
        """Checks phases ((mode, expected), ...): consecutive failed attempts
        1..n, each meeting one mode (the proxies switch), then the attempt
        at a good CA; returns the renewed certificate."""
        parent = self.httpd.pid()
        versions = len(archive_versions(self.httpd.store, self.name))
        with self.state.lock:
            same_before = len(self.state.same_order)
        for i, (mode, expect) in enumerate(phases, 1):
            m = self.wait_failure(i, 90 if mode == "slow_loris" else 60)
            step, detail, next_at = m.group(3), m.group(5), harness.parse_time(m.group(6))
            self.seen.append((mode, step, detail, m.group(6)))
            assert self.state.acted.get(mode), "%s: mode %s never acted" % (self.name, mode)
            assert re.search(expect, detail), "%s: %s: %r does not match %r" % (
                self.name, mode, detail, expect)
            if mode in CERT_KINDS:
                # no system error such as "(22)Invalid argument: " before the tag
                assert m.group(1) == "", (mode, m.group(0))
                error = wait_for(lambda: (self.httpd.domain_status(self.name).get("error")
                                          or {}).get("detail", "")[:300] == detail[:300]
                                 and self.httpd.domain_status(self.name)["error"], 10,
                                 what="%s: status of attempt %d" % (self.name, i))
                assert error["kind"] == CERT_KINDS[mode] and error["type"] is None, (mode, error)
            assert next_at > utcnow() - datetime.timedelta(seconds=5), (mode, m.group(0))
            assert next_at < utcnow() + datetime.timedelta(minutes=3), \
                "%s: next attempt only at %s" % (mode, m.group(6))
            self.still_serving(first.serial_number)
            self.store_clean(versions)
            assert self.httpd.pid() == parent, "httpd restarted or died"
        renewed = wait_for_new_cert(self.httpd, self.name, first.serial_number, 120)
        assert len(archive_versions(self.httpd.store, self.name)) == versions + 1
        with self.state.lock:
            modes = self.state.attempts[-len(phases) - 1:]
        assert modes == [m for m, _ in phases] + [recovery], modes
        with self.state.lock:
            same_order = self.state.same_order[same_before:]
        assert same_order == [m for m, _ in phases if m in SAME_ORDER], same_order
        if recovery == "directory_moves":
            # the order ended on the endpoints it began with; the moved
            # directory was not followed
            assert self.state.acted.get(recovery), self.state.acted
            assert not self.state.directory_moved
        return renewed

    def run(self, phases, then=None, recovery=None):
        try:
            with self.state.lock:
                self.state.after_cert = [[m for m, _ in phases] + [recovery]]
                if then:
                    self.state.after_cert.append([m for m, _ in then] + [None])
            self.httpd.write_config(vhosts=ssl_vhost(self.name), acme={
                "AcmeCA": " ".join(p.directory_url for p in self.proxies)})
            self.httpd.start()
            first = self.httpd.wait_for_pebble_cert(self.name, 120)
            renewed = self.hostile(phases, first, recovery)
            if then:
                self.log_offset = len(self.httpd.error_log_text())
                self.hostile(then, renewed)
            self.httpd.wait_idle()  # a write in progress has a temp file: no leftover
            assert harness.store_problems(self.httpd.store) == []
            assert "exit signal" not in self.httpd.error_log_text()
        except BaseException as exc:  # noqa: BLE001 -- reported by the test
            self.errors.append(exc)


def test_malicious_ca_never_hurts_the_live_certificate(httpd_factory, workdir, challtestsrv,
                                                        unique):
    started = time.time()
    protocol = Scenario("hostile-protocol", httpd_factory, workdir, challtestsrv, unique, 1)
    certs = Scenario("hostile-certs", httpd_factory, workdir, challtestsrv, unique, 2)
    threads = [threading.Thread(target=protocol.run, args=(PROTOCOL,),
                                kwargs={"recovery": "directory_moves"}),
               threading.Thread(target=certs.run, args=(CERTIFICATES,), kwargs={
                   "then": [("retry_after_years", r"rateLimited")]})]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
    finally:
        for s in (protocol, certs):
            s.stop()
    for s in (protocol, certs):
        print("\n%s (%s):" % (s.label, s.name))
        for mode, step, detail, next_at in s.seen:
            print("  %-22s step %-11s next %s: %s" % (mode, step, next_at, detail[:300]))
    print("took %.0f s" % (time.time() - started))
    for s in (protocol, certs):
        if s.errors:
            raise s.errors[0]
