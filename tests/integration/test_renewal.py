"""Renewal lifecycle that never loses a certificate: renewals nobody has to
start or activate, the previous certificate kept in archive/, a CA that
rejects nonces or is down for a while, names added and removed, two servers
sharing one store, and the expiry warning and AcmeNotifyCmd.

(test_lifecycle.py covers a renewal window a few seconds shorter than the
lifetime; test_unreachable_ca.py a CA that is down before the first
certificate.)"""
import json
import os
import threading
import time
import uuid

import pytest

import harness
from ari_proxy import ChallengeFanout
from harness import (archive_versions, cert_names, live_version, parse_time, ssl_vhost,
                     store_problems, store_status, utcnow, version_leaf, wait_for,
                     wait_for_new_cert)

ISSUE_TIMEOUT = 60
RENEW_TIMEOUT = 60
# The longest backoff after a first failed attempt (60 s +50%).
NONCE_BACKOFF_ROOM = 90
# The window that forces one renewal of a live certificate. ACME_IT_FORCE_WINDOW
# replaces it (e.g. a duration a few seconds shorter than the lifetime) to look
# at the tests that use it apart from the whole-lifetime rule.
FORCE_WINDOW = os.environ.get("ACME_IT_FORCE_WINDOW") or "100%"


def issue(httpd, name, aliases=(), acme=None, vhosts=None, timeout=ISSUE_TIMEOUT):
    httpd.write_config(vhosts=vhosts or ssl_vhost(name, aliases), acme=acme)
    httpd.start()
    return httpd.wait_for_pebble_cert(name, timeout)


def force_renewal(httpd, name, aliases=(), acme=None, vhosts=None):
    """AcmeRenewWindow 100% (FORCE_WINDOW) after issuance, and the
    administrator's graceful restart: renew once, now."""
    # the store knows times to the second: change the configuration in a later
    # second than the issuance, as an administrator would
    time.sleep(1.2)
    settings = {"AcmeRenewWindow": FORCE_WINDOW}
    settings.update(acme or {})
    httpd.write_config(vhosts=vhosts or ssl_vhost(name, aliases), acme=settings)
    httpd.graceful()


def assert_store_ok(httpd, *sharing):
    """No temp file, no broken archive, acmectl check passes. Checked once
    httpd (and the servers sharing its store) write nothing: a temp file of a
    write in progress is no leftover."""
    for h in (httpd,) + sharing:
        h.wait_idle()
    problems = store_problems(httpd.store)
    assert not problems, "store %s:\n%s" % (httpd.store, "\n".join(problems))
    chk = httpd.acmectl("--store", httpd.store, "check")
    assert chk.returncode == 0, "acmectl check failed (%d):\n%s%s" % (
        chk.returncode, chk.stdout, chk.stderr)


def assert_archived(httpd, name, old, new):
    """archive/<name>/ holds the old and the new certificate; domains/<name>
    leads to the new one."""
    versions = archive_versions(httpd.store, name)
    serials = [version_leaf(v).serial_number for v in versions]
    assert old.serial_number in serials and new.serial_number in serials, \
        "archive/%s serials %s, want %x and %x" % (name, ["%x" % s for s in serials],
                                                   old.serial_number, new.serial_number)
    live = live_version(httpd.store, name)
    assert live and version_leaf(live).serial_number == new.serial_number, \
        "domains/%s -> %s, not the new certificate" % (name, live)
    assert live == versions[-1], "domains/%s -> %s, newest is %s" % (name, live, versions[-1])
    return versions


def pebble_fixture(label, **kwargs):
    @pytest.fixture(scope="module")
    def fixture(workdir, challtestsrv):
        yield from harness.started_private_pebble(workdir, challtestsrv.dns_port, label, **kwargs)
    return fixture


short_lived_pebble = pebble_fixture("short-lived", extra_config={"certificateValidityPeriod": 60})
nonce_pebble = pebble_fixture("nonce-renewal", env={"PEBBLE_WFE_NONCEREJECT": "50"})


# --------------------------------------------------------------------------
# renewal without a manual step

def test_whole_lifetime_window_renews_once_by_itself(httpd, pebble, unique):
    """AcmeRenewWindow 100% set after issuance: one new certificate, live
    without anyone restarting httpd, the first one kept in archive/, and no
    renewal loop afterwards."""
    name = unique("whole")
    first = issue(httpd, name)
    parent = httpd.pid()
    force_renewal(httpd, name)

    second = wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
    assert cert_names(second) == {name}
    assert httpd.pid() == parent
    versions = assert_archived(httpd, name, first, second)
    assert len(versions) == 2, versions

    # "100%" renews certificates older than the configuration change, once
    orders = pebble.new_order_count()
    time.sleep(8)
    assert pebble.new_order_count() == orders, "renewing in a loop:\n" + httpd.diagnostics()
    assert httpd.verified_cert(name).serial_number == second.serial_number
    assert len(archive_versions(httpd.store, name)) == 2
    assert_store_ok(httpd)


def test_short_lifetime_renews_by_the_default_window(httpd_factory, short_lived_pebble, unique):
    """Pebble issues 60-second certificates: the default window (50% for
    lifetimes under 10 days) renews each about 30 s after issuance, with no
    configuration change and no manual restart."""
    httpd = httpd_factory(pebble=short_lived_pebble)
    name = unique("short")
    first = issue(httpd, name)
    lifetime = (first.not_valid_after - first.not_valid_before).total_seconds()
    assert lifetime <= 70, "Pebble ignored certificateValidityPeriod: %s s" % lifetime
    parent = httpd.pid()

    second = wait_for_new_cert(httpd, name, first.serial_number, lifetime)
    assert second.not_valid_before >= first.not_valid_before
    # renewed inside the window, not at once and not after expiry
    renewed_at = second.not_valid_before - first.not_valid_before
    assert renewed_at.total_seconds() >= lifetime * 0.5 - 5, \
        "renewed %s after issuance, before the window (%.0f s)" % (renewed_at, lifetime / 2)
    assert httpd.pid() == parent
    assert_archived(httpd, name, first, second)
    assert_store_ok(httpd)


def test_renewal_with_a_ca_rejecting_half_the_nonces(httpd_factory, nonce_pebble, unique):
    httpd = httpd_factory(pebble=nonce_pebble)
    name = unique("nonce-renew")
    # A request whose nonce is rejected 11 times in a row (the client retries
    # badNonce 10 times) fails its attempt: 1 in 2,048 per request, so about
    # one run in 60 of this test (some 30 requests) has a failed attempt,
    # the first issuance's as well as the renewal's. Both waits leave room
    # for one failed attempt, its backoff (60 s +-50%) and the next attempt.
    first = issue(httpd, name, timeout=ISSUE_TIMEOUT + NONCE_BACKOFF_ROOM)
    force_renewal(httpd, name)
    second = wait_for_new_cert(httpd, name, first.serial_number,
                               RENEW_TIMEOUT + NONCE_BACKOFF_ROOM)
    assert cert_names(second) == {name}
    assert_archived(httpd, name, first, second)


# --------------------------------------------------------------------------
# a CA that goes away for a while

@pytest.fixture
def own_pebble(workdir, challtestsrv):
    """A Pebble this test may stop and start again (same ports, same config)."""
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port,
                                              "own-%s" % uuid.uuid4().hex[:8])


def test_renewal_survives_an_unreachable_ca(httpd_factory, own_pebble, unique):
    """The CA goes down before a renewal: the live certificate keeps being
    served (also across a full stop and start), the status page says why and
    when the next try is; when the CA is back, the renewal completes by itself."""
    httpd = httpd_factory(pebble=own_pebble)
    name = unique("ca-down")
    first = issue(httpd, name)
    own_pebble.stop()
    force_renewal(httpd, name)

    domain = harness.wait_for_status_error(httpd, name)
    err = domain["error"]
    assert err.get("detail"), err
    assert "127.0.0.1:%d" % own_pebble.port in err["detail"], \
        "error detail does not name the CA: %s" % err
    next_action = parse_time(domain["next_action"])
    assert next_action > utcnow(), "next_action %s is not in the future" % domain["next_action"]
    assert isinstance(domain.get("attempts"), int) and domain["attempts"] >= 1, domain
    assert domain.get("ca") == own_pebble.directory_url, domain
    assert httpd.verified_cert(name).serial_number == first.serial_number

    httpd.stop()
    httpd.start()
    # the stored certificate from the first handshake on, with the CA still down
    assert httpd.verified_cert(name).serial_number == first.serial_number
    time.sleep(2)
    assert httpd.verified_cert(name).serial_number == first.serial_number
    assert httpd.domain_status(name).get("cert"), httpd.domain_status(name)
    assert_store_ok(httpd)

    # The CA comes back (a new Pebble on the same ports: new root, no accounts).
    # The retry comes at the time the status page announced, give or take a run.
    own_pebble.start()
    next_action = parse_time(httpd.domain_status(name).get("next_action") or domain["next_action"])
    wait = max(0.0, (next_action - utcnow()).total_seconds()) + 30
    assert wait <= 150, "next retry only at %s" % next_action
    second = wait_for_new_cert(httpd, name, first.serial_number, wait)
    assert cert_names(second) == {name}
    assert_archived(httpd, name, first, second)
    wait_for(lambda: httpd.domain_status(name).get("state") == "valid", 10,
             what="state 'valid' after the renewal")


# --------------------------------------------------------------------------
# names added and removed

def test_removed_name_gets_a_new_certificate_and_a_removed_domain_keeps_its_files(httpd, unique):
    """(test_lifecycle covers an added alias.) A name dropped from a vhost:
    new certificate without it. A whole AcmeDomain dropped: its certificate
    stays in the store, untouched."""
    keep, dropped = unique("shrink"), unique("dropped")
    vhosts = ssl_vhost(keep, ["www." + keep, "old." + keep]) + ssl_vhost(dropped)
    first = issue(httpd, keep, vhosts=vhosts)
    assert cert_names(first) == {keep, "www." + keep, "old." + keep}
    httpd.wait_for_pebble_cert(dropped, ISSUE_TIMEOUT)
    dropped_live = live_version(httpd.store, dropped)
    dropped_files = snapshot(os.path.join(httpd.store, "archive", dropped))
    assert dropped_live and dropped_files

    httpd.write_config(vhosts=ssl_vhost(keep, ["www." + keep]))
    httpd.graceful()
    second = wait_for_new_cert(httpd, keep, first.serial_number, RENEW_TIMEOUT)
    assert cert_names(second) == {keep, "www." + keep}, sorted(cert_names(second))
    assert httpd.verified_cert("www." + keep).serial_number == second.serial_number
    assert_archived(httpd, keep, first, second)

    # the driver has looked at the store since (it ordered and staged): the
    # dropped domain's certificate is still there, byte for byte
    assert live_version(httpd.store, dropped) == dropped_live
    assert snapshot(os.path.join(httpd.store, "archive", dropped)) == dropped_files
    assert_store_ok(httpd)


def snapshot(directory):
    """{relative path: bytes} of every file under directory."""
    files = {}
    for root, _dirs, names in os.walk(directory):
        for n in names:
            path = os.path.join(root, n)
            with open(path, "rb") as f:
                files[os.path.relpath(path, directory)] = f.read()
    return files


# --------------------------------------------------------------------------
# two servers, one store

@pytest.fixture
def fanout_pebble(workdir, challtestsrv):
    """A Pebble whose http-01 port is a fan-out to several httpd instances."""
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port,
                                              "twin-%s" % uuid.uuid4().hex[:8])


def test_two_servers_sharing_a_store_order_once(httpd_factory, fanout_pebble, unique):
    """Two httpd instances (own ServerRoots and ports, one AcmeStoreDir, the
    same domain) started together: one order at the CA, and both serve the
    certificate it brought."""
    a = httpd_factory(pebble=fanout_pebble, http_port=harness.free_port(),
                      https_port=harness.free_port(), prefix="it-twin-a-")
    b = httpd_factory(pebble=fanout_pebble, http_port=harness.free_port(),
                      https_port=harness.free_port(), prefix="it-twin-b-")
    fanout = ChallengeFanout(fanout_pebble.http_port, [a.http_port, b.http_port]).start()
    try:
        name = unique("twin")
        for h in (a, b):
            h.write_config(vhosts=ssl_vhost(name),
                           acme={"AcmeStoreDir": a.store, "AcmeChallenges": "http-01"})
        errors = []

        def start(h):
            try:
                h.start()
            except Exception as exc:  # noqa: BLE001 -- reported below
                errors.append(exc)
        threads = [threading.Thread(target=start, args=(h,)) for h in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors

        ca = a.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
        cb = b.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
        assert ca.serial_number == cb.serial_number, \
            "a serves %x, b serves %x" % (ca.serial_number, cb.serial_number)
        time.sleep(3)
        orders = fanout_pebble.request_lines("POST", "/order-plz")
        assert len(orders) == 1, "%d orders for one certificate:\n%s\n%s\n%s" % (
            len(orders), "\n".join(orders), a.diagnostics(), b.diagnostics())
        assert a.verified_cert(name).serial_number == b.verified_cert(name).serial_number
        assert_store_ok(a, b)
    finally:
        fanout.stop()


# --------------------------------------------------------------------------
# AcmeNotifyCmd and the expiry warning

NOTIFY_TIMEOUT = 20


notify_script = harness.notify_script
RECORDING = harness.NOTIFY_RECORDING


def notify_lines(out):
    try:
        with open(out) as f:
            return [l.rstrip("\n") for l in f]
    except FileNotFoundError:
        return []


def wait_for_notify(httpd, out, event, name, timeout=NOTIFY_TIMEOUT):
    want = "args=%s %s event=%s domain=%s " % (event, name, event, name)

    def seen():
        return [l for l in notify_lines(out) if l.startswith(want)]
    try:
        return wait_for(seen, timeout, what="AcmeNotifyCmd with '%s %s'" % (event, name))
    except TimeoutError as exc:
        raise AssertionError("%s; calls so far: %s\n%s" % (exc, notify_lines(out),
                                                           httpd.diagnostics())) from None


def test_notify_cmd_hears_issued_then_renewed(httpd, unique):
    name = unique("notify")
    script, out = notify_script(httpd, RECORDING)
    acme = {"AcmeNotifyCmd": script}
    first = issue(httpd, name, acme=acme)
    issued = wait_for_notify(httpd, out, "issued", name)
    assert " uid=0 " in issued[0], "AcmeNotifyCmd does not run as root: %s" % issued

    force_renewal(httpd, name, acme=acme)
    wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
    wait_for_notify(httpd, out, "renewed", name)
    calls = notify_lines(out)
    assert len([l for l in calls if l.startswith("args=issued ")]) == 1, calls
    assert len([l for l in calls if l.startswith("args=renewed ")]) == 1, calls


def test_expiry_warning_while_the_ca_is_unreachable(httpd_factory, own_pebble, unique):
    """A warn window covering the whole lifetime and a renewal that fails: the
    status page shows a warning, the log a warn-level line, AcmeNotifyCmd hears
    'expiring'; the live certificate is still served."""
    httpd = httpd_factory(pebble=own_pebble)
    name = unique("warn")
    script, out = notify_script(httpd, RECORDING)
    first = issue(httpd, name, acme={"AcmeNotifyCmd": script})
    wait_for_notify(httpd, out, "issued", name)
    own_pebble.stop()
    # an added name makes a renewal due at once; the CA is gone, so it fails
    httpd.write_config(vhosts=ssl_vhost(name, ["www." + name]),
                       acme={"AcmeNotifyCmd": script, "AcmeWarnWindow": "100%"})
    httpd.graceful()

    def warned():
        d = httpd.domain_status(name)
        return d if isinstance(d.get("warning"), dict) else None
    try:
        domain = wait_for(warned, 30, what="a warning for %s on the status page" % name)
    except TimeoutError as exc:
        raise AssertionError("%s; page: %s\n%s" % (exc, json.dumps(httpd.status(), indent=1),
                                                   httpd.diagnostics())) from None
    warning = domain["warning"]
    assert warning.get("message"), warning
    assert parse_time(warning["expires_at"]) > utcnow(), warning
    assert abs((parse_time(warning["expires_at"]) - first.not_valid_after.replace(
        tzinfo=utcnow().tzinfo)).total_seconds()) < 2, (warning, first.not_valid_after)
    assert domain.get("error"), domain
    warn_lines = [l for l in httpd.error_log_text().splitlines()
                  if "[acme:warn]" in l and name in l and "expire" in l]
    assert warn_lines, "no warn-level expiry line in the error log:\n" + httpd.diagnostics()
    expiring = wait_for_notify(httpd, out, "expiring", name)
    assert "detail=" in expiring[0] and expiring[0].split("detail=", 1)[1].strip(), expiring
    # the status page's HTML shows it where nobody misses it
    status, _, body = httpd.http_request("/acme-status", headers={"Accept": "text/html"})
    assert status == 200 and b"arning" in body, body[:2000]
    assert httpd.verified_cert(name).serial_number == first.serial_number


def test_failing_or_hanging_notify_cmd_never_stops_httpd(httpd, unique):
    """A program that hangs is killed after its time and logged; one that
    fails is logged with its exit status and output; httpd keeps serving and
    activating certificates meanwhile."""
    name = unique("notify-bad")
    script, out = notify_script(httpd, "\n".join([
        'echo "$1 $2 pid=$$" >> "$OUT"',
        'if [ "$1" = issued ]; then',
        '    while :; do sleep 1; done',
        'fi',
        'echo "renewal script trouble for $2"',
        'exit 3',
    ]))
    acme = {"AcmeNotifyCmd": script}
    first = issue(httpd, name, acme=acme)
    try:
        wait_for(lambda: any(l.startswith("issued ") for l in notify_lines(out)), NOTIFY_TIMEOUT,
                 what="AcmeNotifyCmd to start for 'issued'")
        # while it hangs: requests are served, and a new certificate still goes live
        status, _, body = httpd.https_request(name, "/index.html", verify=True)
        assert status == 200 and b"plain docroot" in body
        httpd.write_config(vhosts=ssl_vhost(name, ["www." + name]), acme=acme)
        httpd.graceful(timeout=45)
        second = wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
        assert "www." + name in cert_names(second)

        def logged(tag, *words):
            return [l for l in httpd.error_log_text().splitlines()
                    if tag in l and all(w in l for w in words)]
        killed = wait_for(lambda: logged("ACME00617", "issued", name), 45,
                          what="the hanging AcmeNotifyCmd to be killed and logged")
        assert "[acme:warn]" in killed[0], killed
        failed = wait_for(lambda: logged("ACME00619", "renewed", name, "3"), NOTIFY_TIMEOUT,
                          what="the failing AcmeNotifyCmd to be logged")
        assert failed
        assert logged("ACME00615", "renewal script trouble"), "its output is not logged"
        assert httpd.running()
        status, _, body = httpd.https_request("www." + name, "/index.html", verify=True)
        assert status == 200 and b"plain docroot" in body
    finally:
        harness.kill_pids([p for p in harness.pids_with_arg(script)])
    assert not [p for p in harness.pids_with_arg(script) if harness.pid_alive(p)]


# --------------------------------------------------------------------------
# another CA: configured instead, or as the backup of one that is down

def second_pebble(workdir, challtestsrv, first):
    """Another Pebble validating at the same httpd ports as first. (Nothing
    listens on those until httpd starts, so a free port for the new Pebble's
    own listeners may be one of them: then another try.)"""
    for _ in range(5):
        try:
            pb = harness.private_pebble(workdir, challtestsrv.dns_port,
                                        "second-%s" % uuid.uuid4().hex[:8],
                                        http_port=first.http_port, tls_port=first.tls_port)
        except harness.HarnessError as exc:
            pytest.fail(str(exc))
        if not {pb.port, pb.mgmt_port} & {first.http_port, first.tls_port}:
            return pb
        pb.stop()
    pytest.fail("no free ports for a second Pebble")


def trust_both(httpd, *pebbles):
    """An AcmeCACertificateFile with the listener CAs of every Pebble."""
    path = os.path.join(httpd.serverroot, "ca-bundle.pem")
    with open(path, "w") as out:
        for pb in pebbles:
            with open(pb.ca.ca_pem) as f:
                out.write(f.read())
    os.chmod(path, 0o644)
    return path


def meta_ca(version_dir):
    with open(os.path.join(version_dir, "meta.json")) as f:
        return json.load(f).get("ca")


def test_changed_ca_gets_a_new_certificate(httpd, pebble, workdir, challtestsrv, unique):
    """AcmeCA changed to another CA: the live certificate came from a CA no
    longer configured (archive/<name>/<version>/meta.json says which), so a new
    one comes from the new CA."""
    other = second_pebble(workdir, challtestsrv, pebble)
    try:
        name = unique("ca-change")
        bundle = trust_both(httpd, pebble, other)
        first = issue(httpd, name, acme={"AcmeCACertificateFile": bundle})
        assert meta_ca(live_version(httpd.store, name)) == pebble.directory_url

        httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCACertificateFile": bundle,
                                                         "AcmeCA": other.directory_url})
        httpd.graceful()
        httpd.pebble = other        # verify against the new CA's root from now on
        second = wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
        assert second.issuer != first.issuer
        assert_archived(httpd, name, first, second)
        assert meta_ca(live_version(httpd.store, name)) == other.directory_url
        assert httpd.domain_status(name).get("ca") == other.directory_url
    finally:
        other.stop()


def test_changed_ca_says_the_certificate_is_from_the_previous_one(httpd, pebble, unique):
    """AcmeCA changed to a CA that cannot be reached yet: the certificate of the
    previous CA stays served, and the status page says so (from which CA, still
    valid, served until the new CA's one is live, and when it is ordered)
    instead of only showing a failing renewal."""
    name = unique("ca-prev")
    first = issue(httpd, name)
    dead = "https://127.0.0.1:%d/dir" % harness.closed_port()
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": dead})
    httpd.graceful()

    def failing():
        d = httpd.domain_status(name)
        return d if d.get("failing") and d.get("ca") == dead else None
    d = wait_for(failing, 60, what="the order at the new CA to fail")
    notice = d.get("notice") or ""
    assert "from the previous CA %s" % pebble.directory_url in notice, d
    assert "still valid" in notice and "served until a new one from %s" % dead in notice, d
    assert "next attempt " + d["next_action"] in notice, d
    assert d["renewal_failing"] is True, d
    assert httpd.served_cert(name).serial_number == first.serial_number
    status, _, body = httpd.http_request("/acme-status/" + name)
    assert status == 200 and "from the previous CA" in body.decode(), body[:3000]


def test_renewal_fails_over_to_the_next_ca(httpd_factory, own_pebble, workdir, challtestsrv,
                                           unique):
    """AcmeCA with two CAs, the first down at renewal time: after three failed
    attempts there, the renewal comes from the second."""
    backup = second_pebble(workdir, challtestsrv, own_pebble)
    try:
        httpd = httpd_factory(pebble=own_pebble)
        name = unique("failover-renew")
        acme = {"AcmeCACertificateFile": trust_both(httpd, own_pebble, backup),
                "AcmeCA": "%s %s" % (own_pebble.directory_url, backup.directory_url)}
        first = issue(httpd, name, acme=acme)
        assert meta_ca(live_version(httpd.store, name)) == own_pebble.directory_url
        own_pebble.stop()
        force_renewal(httpd, name, acme=acme)
        httpd.pebble = backup
        # three attempts about 10 s apart (+-50%), then the backup
        second = wait_for_new_cert(httpd, name, first.serial_number, 75)
        assert meta_ca(live_version(httpd.store, name)) == backup.directory_url
        assert_archived(httpd, name, first, second)
        moved = [l for l in httpd.error_log_text().splitlines() if "ACME00429" in l]
        assert moved and backup.directory_url in moved[-1], \
            "no failover line naming the backup CA:\n" + httpd.diagnostics()
        # and the next order starts at the first CA again
        wait_for(lambda: httpd.domain_status(name).get("state") == "valid", 10,
                 what="state 'valid' after the failover")
        assert httpd.domain_status(name).get("ca") == own_pebble.directory_url
    finally:
        backup.stop()
