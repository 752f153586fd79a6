"""The system clock jumps while httpd runs with a live certificate
(libfaketime: httpd's wall clock follows a spec file, the monotonic clock
stays real, as after a real jump; the test's own clock and Pebble's stay
right, as a client's and a CA's would).

- A year ahead: every certificate (90-day ones) looks expired, and so does
  each one the CA issues. Renewal starts at once by itself, each attempt
  fails saying this machine's clock is ahead of the CA's, with backoff (no
  order storm); the live certificate keeps serving, across a graceful restart too
  (clients judge it by their own clocks), nothing in the store is touched;
  with the clock right again the error is gone without a new order.
- A day behind: the live certificate looks "not yet valid" and keeps
  serving across a restart; a renewal gets a certificate that starts
  "tomorrow" by this clock while the CA's clock says it has started: it is
  kept, with a warning that says to set the clock, no new order is made and
  the CA is not asked again in a loop; once the clock is right that very
  certificate goes live."""
import datetime
import os
import re
import time

import pytest

import harness
from harness import archive_versions, ssl_vhost, wait_for, wait_for_new_cert

VALIDITY = 90 * 86400
ATTEMPT = re.compile(r"ACME00402: (\S+): obtaining a certificate failed in step (\S+) "
                     r"\(attempt (\d+)\): (.*); next attempt at (\S+)")


@pytest.fixture(scope="module")
def pebble90(workdir, challtestsrv):
    """A Pebble of this module issuing 90-day certificates (Let's Encrypt's),
    its TLS listener's certificate valid from 30 days ago for 400 days: the
    CA stays reachable with the clock a day back or a year ahead (a fresh
    connection judges it by the jumped clock, an open one is reused), so the
    certificates it issues meet the wrong clock. Its TLS certificate out of
    date by the jumped clock is the other case; the error names the clock
    that judged (ACME00402 "judged by this machine's clock")."""
    yield from harness.started_private_pebble(
        workdir, challtestsrv.dns_port, "clock",
        extra_config={"certificateValidityPeriod": VALIDITY},
        listener={"age": datetime.timedelta(days=30), "days": 400})


def started(httpd_factory, pebble, name):
    harness.need_faketime()
    httpd = httpd_factory(cls=harness.FakeClockHttpd, pebble=pebble)
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, 120)
    life = (cert.not_valid_after - cert.not_valid_before).total_seconds()
    assert abs(life - VALIDITY) < 3600, "Pebble ignored certificateValidityPeriod: %s s" % life
    httpd.wait_idle()
    # the restart's configuration test, run by the daemon after "apache2 -k
    # start" exited, found the test's libfaketime semaphore: none is removed
    assert "libfaketime" not in httpd.error_log_text(), httpd.diagnostics(40)
    assert os.path.exists("/dev/shm/sem." + httpd.faketime_shared.split()[0][1:])
    return httpd, cert


def jumped(httpd_factory, pebble, name, clock):
    """httpd serving name's first certificate, then its clock set to clock
    (a libfaketime spec: "+365d", "-1d"). Returns (httpd, that certificate,
    the count of archive versions, the error log's length before the jump)."""
    httpd, first = started(httpd_factory, pebble, name)
    versions = len(archive_versions(httpd.store, name))
    offset = len(httpd.error_log_text())
    httpd.set_clock(clock)
    return httpd, first, versions, offset


def log_since(httpd, offset):
    return httpd.error_log_text()[offset:]


def failures(httpd, name, offset):
    return [m for m in ATTEMPT.finditer(log_since(httpd, offset)) if m.group(1) == name]


def wait_log(httpd, offset, pattern, timeout, what):
    try:
        return wait_for(lambda: re.search(pattern, log_since(httpd, offset)), timeout,
                        interval=0.2, what=what)
    except TimeoutError as exc:
        raise AssertionError("%s\n%s" % (exc, httpd.diagnostics(80))) from None


def unharmed(httpd, name, serial, versions):
    """The same live certificate serves (verified with the test's right
    clock), the site answers, nothing staged, no archive version added."""
    served = httpd.verified_cert(name)
    assert served.serial_number == serial, "live certificate changed: %x -> %x" % (
        serial, served.serial_number)
    assert httpd.http_request("/index.html")[0] == 200
    staging = os.path.join(httpd.store, "staging", name)
    assert not os.path.isdir(staging) or not os.listdir(staging), os.listdir(staging)
    assert len(archive_versions(httpd.store, name)) == versions
    assert os.path.exists(os.path.join(httpd.store, "domains", name))


def restart_keeps_serving(httpd, name, serial, versions):
    """A graceful restart with the clock wrong: the parent judges the live
    certificate out of date by its clock, and serves it all the same."""
    offset = len(httpd.error_log_text())
    httpd.graceful()
    unharmed(httpd, name, serial, versions)
    text = log_since(httpd, offset)
    said = [l for l in text.splitlines() if "ACME00681" in l and name in l]
    assert said and "set it right" in said[0], \
        "no warning names the live certificate and the clock:\n" + text[-3000:]
    print(said[0][:400])
    assert not [l for l in text.splitlines()
                if ("ACME00610" in l or "ACME00637" in l) and name in l], text[-3000:]


def test_clock_a_year_ahead(httpd_factory, pebble90, unique):
    name = unique("clock-ahead")
    httpd, first, versions, offset = jumped(httpd_factory, pebble90, name, "+365d")
    # nothing asked for it: the certificate is past its end by this clock
    try:
        m = wait_for(lambda: (failures(httpd, name, offset) or [None])[0], 90, interval=0.2,
                     what="a renewal attempt after the clock jumped a year ahead")
    except TimeoutError as exc:
        raise AssertionError("%s\n%s" % (exc, httpd.diagnostics(80))) from None
    print(m.group(0)[:500])
    # the CA issued; its certificate looks expired by this clock alone
    detail = m.group(4)
    assert re.search(r"not fit to serve: certificate expired on .*; the CA's clock says \S+, "
                     r"this machine's \S+: this machine's clock is ahead, set it right", detail), \
        m.group(0)
    assert harness.parse_time(m.group(5)) > harness.parse_time(
        re.search(r"this machine's (\S+):", detail).group(1)), "no backoff: " + m.group(0)
    unharmed(httpd, name, first.serial_number, versions)

    # backoff, no storm: not another order every few seconds
    count, orders = len(failures(httpd, name, offset)), pebble90.new_order_count()
    time.sleep(15)
    assert len(failures(httpd, name, offset)) <= count + 1, \
        "\n".join(x.group(0)[:200] for x in failures(httpd, name, offset))
    assert pebble90.new_order_count() <= orders + 1
    doc = httpd.domain_status(name)
    assert doc.get("state") == "failing", doc
    assert "clock" in ((doc.get("error") or {}).get("detail") or ""), doc

    restart_keeps_serving(httpd, name, first.serial_number, versions)

    # the clock right again: the same certificate is fine, the error goes by
    # itself, with no order
    offset = len(httpd.error_log_text())
    orders = pebble90.new_order_count()
    httpd.set_clock("+0")
    wait_log(httpd, offset, r"ACME00485: the clock went back", 90, "the clock set right noticed")

    def valid():
        d = httpd.domain_status(name)
        return d if d.get("state") == "valid" and not d.get("error") else None
    try:
        wait_for(valid, 90, interval=0.5, what="%s valid again" % name)
    except TimeoutError as exc:
        raise AssertionError("%s\n%s\n%s" % (exc, httpd.domain_status(name),
                                             httpd.diagnostics(60))) from None
    assert pebble90.new_order_count() == orders
    unharmed(httpd, name, first.serial_number, versions)
    httpd.wait_idle()
    assert harness.store_problems(httpd.store) == []


def test_clock_a_day_behind(httpd_factory, pebble90, unique):
    name = unique("clock-behind")
    httpd, first, versions, offset = jumped(httpd_factory, pebble90, name, "-1d")
    wait_log(httpd, offset, r"ACME00485: the clock went back", 90, "the clock going back noticed")
    unharmed(httpd, name, first.serial_number, versions)
    restart_keeps_serving(httpd, name, first.serial_number, versions)

    # a renewal now: the CA's certificate starts "tomorrow" by this clock
    offset = len(httpd.error_log_text())
    orders = pebble90.new_order_count()
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    m = wait_log(httpd, offset, r"ACME01225: %s: [^\n]*" % re.escape(name), 120,
                 "the clock behind the CA's to be noticed")
    print(m.group(0)[:600])
    assert "set it right" in m.group(0) and "no new order" in m.group(0), m.group(0)
    assert pebble90.new_order_count() == orders + 1
    downloads = len(pebble90.request_lines("POST", "/certZ"))

    # kept, not thrown away: no failed attempt, no second order, the CA not
    # asked again and again while the clock stays behind
    time.sleep(20)
    assert failures(httpd, name, offset) == [], failures(httpd, name, offset)[0].group(0)
    assert pebble90.new_order_count() == orders + 1, "ordered again while waiting for the clock"
    assert len(pebble90.request_lines("POST", "/certZ")) <= downloads + 1, \
        "the certificate downloaded in a loop"
    assert "clock is behind" in (httpd.domain_status(name).get("notice") or ""), \
        httpd.domain_status(name)
    unharmed(httpd, name, first.serial_number, versions)

    # the clock right again: that certificate goes live, still one order
    httpd.set_clock("+0")
    second = wait_for_new_cert(httpd, name, first.serial_number, 180)
    assert pebble90.new_order_count() == orders + 1
    assert len(archive_versions(httpd.store, name)) == versions + 1
    assert "clock" not in (httpd.domain_status(name).get("notice") or "")
    assert second.not_valid_before >= first.not_valid_before
    httpd.wait_idle()
    assert harness.store_problems(httpd.store) == []
