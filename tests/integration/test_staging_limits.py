"""What the User puts into staging/ can neither stall a name nor make root
misbehave: an oversized planted cert.pem is refused by its size (no write
needed, a clear reason), the name keeps renewing and acmectl renew works
while it sits there; the refusal backoff does not hold back a genuine
renewal for long (docs/security.md, "Restarts and floods")."""
import json
import os
import re
import subprocess
import time

import harness
from harness import ssl_vhost, wait_for

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
    cert = os.path.join(entry, "cert.pem")
    wait_for(lambda: os.path.exists(cert) and os.path.getsize(cert) < LIMIT, ISSUE_TIMEOUT,
             what="acmectl renew to order and stage over the planted entry")
    assert httpd.running() and httpd.verified_cert(name).serial_number == good
    # the backoff ends (an administrator's graceful would do as well): it goes live
    os.unlink(os.path.join(httpd.store, "keys", name, "refused.json"))
    wait_for(lambda: httpd.verified_cert(name).serial_number != good, ISSUE_TIMEOUT,
             what="the renewed certificate to go live")


def test_genuine_renewal_staged_during_the_backoff_goes_live_when_it_ends(httpd, unique):
    """docs/security.md, "The backoff and genuine renewals": a renewal the
    child stages for root's key while the name is backed off is neither
    lost nor ordered again; it goes live once the backoff ends, by itself."""
    name = unique("backoff")
    issued_httpd(httpd, name)
    good = httpd.verified_cert(name).serial_number
    hold = 60
    until = time.time() + hold
    hold_back(httpd, name, hold)
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    ready = os.path.join(httpd.store, "staging", name, "ready")
    wait_for(lambda: os.path.exists(ready), ISSUE_TIMEOUT, what="the renewal to be staged")
    staged = os.stat(ready).st_ino
    if time.time() < until - 5:
        time.sleep(3)
        assert httpd.verified_cert(name).serial_number == good, "went live during the backoff"
    wait_for(lambda: httpd.verified_cert(name).serial_number != good,
             max(until - time.time(), 0) + ISSUE_TIMEOUT, what="the renewal to go live")
    assert time.time() >= until - 1, "went live before the backoff ended"
    refused = logged(httpd, "ACME00301", name)
    assert not refused, "the genuine renewal was refused: %s" % refused
    assert not os.path.exists(ready) or os.stat(ready).st_ino != staged



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
    then one a minute, measured over about 75 s (the interval has no test
    knob); the junk causes none."""
    name, junk = unique("burst"), unique("junk")
    httpd.write_config(vhosts=ssl_vhost(name) + ssl_vhost(junk))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    httpd.wait_for_pebble_cert(junk, ISSUE_TIMEOUT)
    entry = os.path.join(httpd.store, "staging", junk)
    flood = r'''
end=$(( $(date +%s) + 80 ))
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
        while time.time() - start < 75:
            if os.path.exists(ready) and not os.path.exists(marker):
                r = httpd.acmectl("--store", httpd.store, "renew", name)
                assert r.returncode == 0, r.stdout + r.stderr
            time.sleep(0.3)
    finally:
        flooder.kill()
        flooder.wait()
    times = restart_times(httpd)
    assert len(times) >= 4, "too few restarts to see the limit: %s\n%s" % (
        times, httpd.diagnostics())
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= 59, "four restarts within a minute: %s" % times
    assert logged(httpd, "ACME00734", name), "no restart was held back"
    after = logged(httpd, "ACME00704")[before:]
    assert len(after) >= 3 and not [l for l in after if junk in l], after
    assert httpd.running()
