"""What the User puts into staging/ can neither stall a name nor make root
misbehave: an oversized planted cert.pem is refused by its size (no write
needed, a clear reason), the name keeps renewing and acmectl renew works
while it sits there; the refusal backoff does not hold back a genuine
renewal for long (docs/security.md, "Restarts and floods")."""
import base64
import datetime
import json
import os
import re
import subprocess
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import pytest

import harness
from harness import ssl_vhost, utcnow, wait_for

from test_custody import PLANT, plant, self_signed
from test_custody import as_user as python_as_user
from test_privsep import USER, as_user, issued_httpd, logged

ISSUE_TIMEOUT = 120
HUGE = 8 * 1024 ** 3
LIMIT = 128 * 1024


def plant_huge(entry):
    """As the User: an 8 GiB sparse cert.pem and a ready marker in entry."""
    p = as_user(["sh", "-c", 'mkdir -p "$1" && truncate -s 8G "$1/cert.pem" && '
                 'echo "{}" > "$1/ready.new" && mv -f "$1/ready.new" "$1/ready"', "sh", entry])
    assert p.returncode == 0, p.stderr


def hold_back(httpd, name, seconds):
    """root's backoff for name, as a few refusals in a row leave it."""
    path = os.path.join(httpd.store, "keys", name, "refused.json")
    with open(path, "w") as f:
        json.dump({"count": 5, "until": int(time.time()) + seconds}, f)
    os.chmod(path, 0o600)


def test_oversized_staged_cert_is_refused_and_never_stalls_the_name(httpd, unique):
    name = unique("huge")
    issued_httpd(httpd, name)
    good = httpd.verified_cert(name).serial_number
    entry = os.path.join(httpd.store, "staging", name)

    plant_huge(entry)
    refused = wait_for(lambda: logged(httpd, "ACME00301", name, "too large"), 60,
                       what="the 8 GiB cert.pem to be refused for its size")
    assert "too large (%d bytes, limit %d)" % (HUGE, LIMIT) in refused[0], refused
    assert not re.search(r"\((28|22)\)", refused[0]), refused
    wait_for(lambda: not os.path.exists(os.path.join(entry, "ready")), 10,
             what="the ready marker to be renamed")
    assert os.path.exists(os.path.join(entry, "rejected"))
    assert httpd.running() and httpd.verified_cert(name).serial_number == good

    # planted again while a long backoff holds the name: root does not look
    # at it, and the child must not take it for a certificate of its own
    hold_back(httpd, name, 600)
    plant_huge(entry)
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    # staged over the planted files, for root's key: it passes the backoff
    wait_for(lambda: httpd.verified_cert(name).serial_number != good, ISSUE_TIMEOUT,
             what="the renewal staged over the planted entry to go live")
    assert not os.path.exists(os.path.join(httpd.store, "keys", name, "refused.json"))


def root_key_forgery(httpd, name):
    """cert.pem as a forger makes it from what root publishes: a certificate
    for root's current public key (csr/<name>.json is world-readable), signed
    by a CA of the forger's own."""
    with open(os.path.join(httpd.store, "csr", name + ".json")) as f:
        record = json.load(f)
    spki = base64.urlsafe_b64decode(record["spki"] + "=" * (-len(record["spki"]) % 4))
    public = serialization.load_der_public_key(spki)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forger CA")]))
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), record["key"]


def plant_cert(httpd, name, pem):
    python_as_user(PLANT, os.path.join(httpd.store, "staging", name),
                   stdin=json.dumps({"cert.pem": pem, "ready": '{"staged": "now"}\n'}))


def refusals(httpd, name):
    return len(logged(httpd, "ACME00301", name + ": staged certificate refused"))


def test_refusal_backoff_is_shown_like_the_held_restart(httpd, unique):
    """A refused staged entry holds the name's activation back (30 s after a
    first refusal): the status page (JSON and HTML), acmectl list and acmectl
    show say "activation held until T (1 refused)", with the time root wrote;
    once the backoff is over the page says nothing of it any more."""
    name = unique("heldshown")
    issued_httpd(httpd, name)
    key = ec.generate_private_key(ec.SECP256R1())
    plant(httpd, name, key, self_signed([name], key, 90))
    wait_for(lambda: refusals(httpd, name) == 1, 30, what="the planted certificate refused")
    with open(os.path.join(httpd.store, "keys", name, "refused.json")) as f:
        until = json.load(f)["until"]
    shown_until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
    held = wait_for(lambda: httpd.domain_status(name).get("activation_held"), 10,
                    what="the status page to show the backoff")
    assert held == {"until": shown_until, "refusals": 1}, held
    status, _, body = httpd.http_request("/acme-status/" + name + "?format=html")
    assert status == 200 and b"Activation held until " in body, body[:3000]
    assert b" (1 refused)" in body, body[:3000]
    listed = httpd.acmectl("--store", httpd.store, "list")
    line = [l for l in listed.stdout.splitlines() if l.startswith(name + " ")]
    assert line and re.search(r' activation="held until [^"]+ \(1 refused\)"', line[0]), \
        listed.stdout
    shown = httpd.acmectl("--store", httpd.store, "show", name)
    assert re.search(r"activation: +held until [^ ]+ \(1 refused\)", shown.stdout), shown.stdout
    out = json.loads(httpd.acmectl("--store", httpd.store, "--json", "list").stdout)
    assert [d["refusals"] for d in out if d["name"] == name] == [1], out

    # over: the overview (kept between changes of a record) says so again
    wait_for(lambda: httpd.domain_status(name).get("activation_held") is None,
             until - time.time() + 15, what="the page to drop the ended backoff")
    listed = httpd.acmectl("--store", httpd.store, "list")
    assert "activation=" not in listed.stdout, listed.stdout


def test_genuine_renewal_passes_the_backoff_once_per_key(httpd, unique):
    """docs/security.md, "The backoff and genuine renewals": after a planted
    entry was refused, the name's backoff holds what is staged for it, which
    is said once per backoff window (ACME00743, acmectl show); a renewal the
    child stages for root's key goes live at once all the same. A forgery
    carrying root's public key gets that one pass too, is refused, and uses
    it up: the next one is held."""
    name = unique("exempt")
    issued_httpd(httpd, name)
    good = httpd.verified_cert(name).serial_number
    entry = os.path.join(httpd.store, "staging", name)
    refused_json = os.path.join(httpd.store, "keys", name, "refused.json")
    key = ec.generate_private_key(ec.SECP256R1())

    plant(httpd, name, key, self_signed([name], key, 90))
    wait_for(lambda: refusals(httpd, name) == 1, 30, what="the planted certificate refused")
    # as several refusals in a row leave it: held for ten minutes
    hold = 600
    until = time.time() + hold
    hold_back(httpd, name, hold)
    plant(httpd, name, key, self_signed([name], key, 90))
    held = wait_for(lambda: logged(httpd, "ACME00743", name + ":"), 20,
                    what="the held entry to be logged")
    assert "apachectl graceful" in held[0] and refused_json in held[0], held
    time.sleep(4)   # four looks of the activation thread at least
    held = logged(httpd, "ACME00743", name + ":")
    assert len(held) == 1, "logged at every look:\n" + "\n".join(held)
    assert os.path.exists(os.path.join(entry, "ready")), "the held entry was looked at"
    assert refusals(httpd, name) == 1
    shown = httpd.acmectl("--store", httpd.store, "show", name)
    assert shown.returncode == 0 and "activation: " in shown.stdout, shown.stdout
    assert "apachectl graceful" in shown.stdout, shown.stdout
    out = httpd.acmectl("--store", httpd.store, "--json", "show", name)
    assert json.loads(out.stdout)["activation_held_until"], out.stdout

    # a genuine renewal, staged over the planted files: live long before the end
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    renewed = wait_for(lambda: httpd.verified_cert(name).serial_number != good, ISSUE_TIMEOUT,
                       what="the renewal to go live during the backoff")
    assert time.time() < until - 300, "waited for the backoff"
    assert not os.path.exists(refused_json), "activation did not end the backoff"
    good = httpd.verified_cert(name).serial_number
    assert renewed

    # a forgery for root's new key, with a backoff holding the name: checked
    # once (the key's exemption), refused, and the exemption is used up
    hold_back(httpd, name, hold)
    forged, key_id = root_key_forgery(httpd, name)
    plant_cert(httpd, name, forged)
    wait_for(lambda: refusals(httpd, name) == 2, 30,
             what="the forgery with root's public key to be refused")
    with open(refused_json) as f:
        assert json.load(f).get("exempted") == key_id
    restarts = httpd.generation_count()
    plant_cert(httpd, name, forged)
    time.sleep(4)
    assert refusals(httpd, name) == 2, "a second forgery for the same key was checked"
    assert os.path.exists(os.path.join(entry, "ready"))
    assert httpd.generation_count() == restarts
    assert httpd.running() and httpd.verified_cert(name).serial_number == good


@pytest.fixture(scope="module")
def short_lived_pebble(workdir, challtestsrv):
    """A Pebble of this module's issuing 60-second certificates."""
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port, "staging-short",
                                              extra_config={"certificateValidityPeriod": 60})


def test_renewal_due_by_time_goes_live_past_a_held_planted_entry(httpd_factory,
                                                                 short_lived_pebble, unique):
    """Nobody runs acmectl renew. A 60-second certificate comes due by the
    default window (half its lifetime) in the issuing child, which runs as the
    User, while a planted entry sits in staging/ and a long backoff holds the
    name. The child orders anyway (the planted chain is not for root's key),
    stages over it, and root activates the new certificate by itself during
    the backoff: the certificate is never left to expire."""
    httpd = httpd_factory(pebble=short_lived_pebble)
    name = unique("duetime")
    issued_httpd(httpd, name)
    first = httpd.verified_cert(name)
    lifetime = (first.not_valid_after - first.not_valid_before).total_seconds()
    assert lifetime <= 70, "Pebble ignored certificateValidityPeriod: %s s" % lifetime
    parent = httpd.pid()
    hold_back(httpd, name, 600)
    key = ec.generate_private_key(ec.SECP256R1())
    plant(httpd, name, key, self_signed([name], key, 90))
    wait_for(lambda: logged(httpd, "ACME00743", name + ":"), 20,
             what="the planted entry to be held by the backoff")

    second = harness.wait_for_new_cert(httpd, name, first.serial_number, lifetime + 30)
    renewed_at = (second.not_valid_before - first.not_valid_before).total_seconds()
    assert renewed_at >= lifetime * 0.5 - 5, \
        "renewed %.0f s after issuance, before the window: not by time" % renewed_at
    assert httpd.pid() == parent
    assert not logged(httpd, "ACME00301:", name), "the planted entry was checked"
    assert not os.path.exists(os.path.join(httpd.store, "keys", name, "refused.json"))
    assert not os.path.exists(os.path.join(httpd.store, "jobs", name + ".renew"))


LOG_TIME = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d)\.\d+ (\d{4})\]")


def restart_times(httpd):
    """When the parent asked for each automatic restart (ACME00704), in seconds."""
    times = []
    for line in logged(httpd, "ACME00704"):
        m = LOG_TIME.match(line)
        assert m, line
        times.append(time.mktime(time.strptime(m.group(1) + " " + m.group(2),
                                               "%a %b %d %H:%M:%S %Y")))
    return times


def test_automatic_restarts_are_one_a_minute_after_a_burst(httpd, unique):
    """Genuine renewals back to back (acmectl renew each time one is staged,
    so the next child orders at once) while the User floods staging/ with
    ready markers for another configured name: three restarts in a row,
    then one a minute, measured until the fourth (about 75 s; at most 110 s:
    the interval has no test knob); the junk causes none. The restart that made both names live
    first is not one of the three."""
    name, junk = unique("burst"), unique("junk")
    httpd.write_config(vhosts=ssl_vhost(name) + ssl_vhost(junk))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    httpd.wait_for_pebble_cert(junk, ISSUE_TIMEOUT)
    entry = os.path.join(httpd.store, "staging", junk)
    flood = r'''
end=$(( $(date +%s) + 115 ))
n=0
mkdir -p "$1"
while [ $(date +%s) -lt $end ]; do
    printf -- '-----BEGIN CERTIFICATE-----\ngarbage %d\n' $n > "$1/cert.pem"
    printf '{"n": %d}\n' $n > "$1/ready.new"; mv -f "$1/ready.new" "$1/ready"
    n=$((n+1)); sleep 0.5
done
'''
    flooder = subprocess.Popen(
        ["setpriv", "--reuid=%d" % USER.pw_uid, "--regid=%d" % USER.pw_gid, "--clear-groups",
         "--", "sh", "-c", flood, "sh", entry],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=harness.clean_env())
    ready = os.path.join(httpd.store, "staging", name, "ready")
    marker = os.path.join(httpd.store, "jobs", name + ".renew")
    before = len(logged(httpd, "ACME00704"))
    try:
        start = time.time()
        r = httpd.acmectl("--store", httpd.store, "renew", name)
        assert r.returncode == 0, r.stdout + r.stderr
        # until the fourth restart (the burst's three, then the first the
        # minute held back), however late the first came
        while time.time() - start < 110 and len(restart_times(httpd)) - before < 4:
            if os.path.exists(ready) and not os.path.exists(marker):
                # staged: renew alone orders nothing more until it is live
                r = httpd.acmectl("--store", httpd.store, "renew", name, "--force")
                assert r.returncode == 0, r.stdout + r.stderr
            time.sleep(0.3)
    finally:
        flooder.kill()
        flooder.wait()
    # the first issuance's restart(s) before: not counted in the bound
    times = restart_times(httpd)[before:]
    assert len(times) >= 4, "too few restarts to see the limit: %s\n%s" % (
        times, httpd.diagnostics())
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= 59, "four restarts within a minute: %s" % times
    assert logged(httpd, "ACME00734", name), "no restart was held back"
    after = logged(httpd, "ACME00704")[before:]
    assert len(after) >= 3 and not [l for l in after if junk in l], after
    assert httpd.running()


def test_first_issuance_restarts_leave_the_burst_for_renewals(httpd, unique):
    """A first issuance that takes three automatic restarts (new orders one
    per 15 s, so each name is staged on its own) uses none of the burst of
    restarts that replace live certificates: a forced renewal right after
    goes live at the next restart, never held back (ACME00734) by the
    one-a-minute bound, which the old accounting put about a minute off."""
    names = [unique("first%d" % i) for i in range(3)]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       acme={"AcmeMaxParallel": "1 1/15s"})
    httpd.start()
    for name in names:
        httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert len(logged(httpd, "ACME00704")) == 3, logged(httpd, "ACME00704")
    name = names[0]
    old = httpd.verified_cert(name).serial_number
    held_before = len(logged(httpd, "ACME00734"))
    r = httpd.acmectl("--store", httpd.store, "renew", name, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: len(logged(httpd, "ACME00405", name)) > 1, ISSUE_TIMEOUT, interval=0.1,
             what="the renewal to be staged")
    staged = time.time()
    harness.wait_for_new_cert(httpd, name, old, 30)
    assert time.time() - staged < 20, "the renewal waited %.0f s" % (time.time() - staged)
    held = logged(httpd, "ACME00734")[held_before:]
    assert not [l for l in held if "replace live" in l], held
    assert httpd.running()


def test_a_refused_staging_is_told_to_the_child(httpd, unique):
    """The parent refuses what the child staged (its cert.pem garbled after
    staging, while root's backoff held it back, the key's one pass used up):
    the child notices at its next look at the markers (30 s), not only at the
    5-minute recheck of a staged entry. Its status shows a failed attempt
    that points at the refusal in the error log (ACME00301) and backs off;
    the live certificate stays."""
    name = unique("toldchild")
    issued_httpd(httpd, name)
    good = httpd.verified_cert(name).serial_number
    refused_json = os.path.join(httpd.store, "keys", name, "refused.json")
    with open(os.path.join(httpd.store, "csr", name + ".json")) as f:
        key_id = json.load(f)["key"]
    with open(refused_json, "w") as f:
        json.dump({"count": 5, "until": int(time.time()) + 600, "exempted": key_id}, f)
    os.chmod(refused_json, 0o600)
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    entry = os.path.join(httpd.store, "staging", name)
    wait_for(lambda: os.path.exists(os.path.join(entry, "ready"))
             and harness.store_status(httpd.store, name).get("state") == "staged",
             ISSUE_TIMEOUT, what="the renewal to be staged and held")
    assert httpd.verified_cert(name).serial_number == good, "the held renewal went live"
    with open(os.path.join(entry, "cert.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    refused_at = time.time()
    os.unlink(refused_json)
    wait_for(lambda: logged(httpd, "ACME00301", name), 30, what="root to refuse the entry")
    error = harness.status_error(httpd, name, timeout=60)
    print("the child showed the refusal after %.0f s: %s" % (time.time() - refused_at, error))
    assert "refused the staged certificate" in error["detail"], error
    # the parent's reason (ACME00301's), with the kind of such a refusal
    assert "at activation: staged certificate" in error["detail"], error
    assert error.get("kind") == "refused", error
    assert "the live certificate stays" in error["detail"], error
    assert logged(httpd, "ACME01220", name), httpd.diagnostics()
    page = httpd.domain_status(name)
    assert page["state"] == "renewal-failing" and page["attempts"] == 1, page
    assert harness.parse_time(page["next_action"]) > utcnow(), page   # backing off
    assert httpd.running() and httpd.verified_cert(name).serial_number == good
