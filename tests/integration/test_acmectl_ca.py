"""acmectl commands that talk to the CA: revoke (RFC 8555 §7.6) and account
show|rollover (§7.3.5), against the real Pebble that issued the certificate."""
import hashlib
import json
import os
import re
import shutil
import stat
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import harness
from harness import (acmectl_ok as ok, acmectl_on_store as acmectl, cert_serial_hex,
                     ssl_vhost, wait_for)

ISSUE_TIMEOUT = 60
# The driver looks at a valid certificate again on its own schedule; a revoked
# one must be replaced within that time, without anyone restarting httpd.
REPLACE_TIMEOUT = 90
METRICS_LOCATION = "<Location /metrics>\n    SetHandler acme-metrics\n</Location>"


def account_dir(httpd):
    """The one accounts/<ca-id>/ directory of the store."""
    accounts = os.path.join(httpd.store, "accounts")
    dirs = [d for d in os.listdir(accounts) if os.path.isdir(os.path.join(accounts, d))]
    assert len(dirs) == 1, dirs
    return os.path.join(accounts, dirs[0])


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def live_version_dir(httpd, name):
    return os.path.realpath(os.path.join(httpd.store, "domains", name))


def issued(httpd, name, **config):
    httpd.write_config(vhosts=ssl_vhost(name), **config)
    httpd.start()
    return httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)


def revoked(httpd, pebble, name):
    """Issues a certificate for name and revokes it with acmectl; checks what
    the CA and the store say. Returns the certificate and its archive directory."""
    first = issued(httpd, name)
    version = live_version_dir(httpd, name)
    assert pebble.cert_status(first)["Status"] == "Valid"

    out = ok(acmectl(httpd, "revoke", name, "--reason", "keyCompromise")).stdout
    assert cert_serial_hex(first) in out.replace(":", "").lower(), out

    status = pebble.cert_status(first)
    assert status["Status"] == "Revoked", status
    assert status.get("Reason") == 1, status
    with open(os.path.join(version, "revoked.json")) as f:
        record = json.load(f)["revoked"]
    assert record["reason"] == "keyCompromise"
    assert int(record["serial"].replace(":", ""), 16) == first.serial_number, record
    harness.parse_time(record["at"])
    marker = os.path.join(httpd.store, "jobs", name + ".renew")
    assert os.path.exists(marker)
    # the child must be able to remove the marker once it has a new certificate
    assert os.stat(marker).st_uid == os.stat(os.path.join(httpd.store, "jobs")).st_uid
    shown = json.loads(ok(acmectl(httpd, "--json", "show", name)).stdout)
    assert shown["renewal_requested"] is True, shown
    return first, version


def test_revoke_is_confirmed_by_the_ca(httpd, pebble, unique):
    name = unique("revoke")
    first, version = revoked(httpd, pebble, name)
    # A second revoke of the same certificate is no error. (With httpd stopped,
    # so the replacement cannot become live in between.)
    httpd.stop()
    if live_version_dir(httpd, name) == version:
        p = ok(acmectl(httpd, "revoke", name))
        assert "already" in p.stdout, p.stdout
    assert pebble.cert_status(first)["Reason"] == 1


def test_revoke_without_the_account_names_the_fix_and_key_works(httpd, pebble, unique):
    """A certificate this store's account did not order (as after acmectl
    import: no account key in the store): revoke says what to do instead of
    only "no account key", and --key revokes it with the certificate's own key
    (RFC 8555 §7.6)."""
    name = unique("revokekey")
    first = issued(httpd, name)
    httpd.stop()
    shutil.rmtree(os.path.join(httpd.store, "accounts"))
    p = acmectl(httpd, "revoke", name, "--reason", "superseded")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "no account key" in p.stderr, p.stderr
    assert "acmectl revoke %s --key --reason superseded" % name in p.stderr, p.stderr
    assert "from the account that ordered it" in p.stderr, p.stderr
    assert pebble.cert_status(first)["Status"] == "Valid"

    out = ok(acmectl(httpd, "revoke", name, "--key", "--reason", "superseded")).stdout
    assert cert_serial_hex(first) in out.replace(":", "").lower(), out
    status = pebble.cert_status(first)
    assert status["Status"] == "Revoked" and status.get("Reason") == 4, status
    assert not os.path.exists(os.path.join(httpd.store, "accounts")), "an account was made"
    assert os.path.exists(os.path.join(httpd.store, "jobs", name + ".renew"))


def test_revoke_twice_keeps_the_first_reason(httpd, pebble, unique):
    """The CA keeps the first reason of a revocation; so does the record: a
    second acmectl revoke, with no reason or another one, says "already
    revoked" with the first reason and leaves revoked.json as it was."""
    name = unique("revoke2")
    first = issued(httpd, name)
    version = live_version_dir(httpd, name)
    httpd.stop()    # no replacement can go live in between
    ok(acmectl(httpd, "revoke", name, "--reason", "keyCompromise"))
    record_file = os.path.join(version, "revoked.json")
    before = read_bytes(record_file)
    assert json.loads(before)["revoked"]["reason"] == "keyCompromise"
    for args in ([], ["--reason", "superseded"]):
        p = ok(acmectl(httpd, "revoke", name, *args))
        assert "already" in p.stdout and "keyCompromise" in p.stdout, p.stdout
        assert read_bytes(record_file) == before, read_bytes(record_file)
    shown = json.loads(ok(acmectl(httpd, "--json", "revoke", name)).stdout)
    assert shown["already_revoked"] is True and shown["reason"] == "keyCompromise", shown
    assert pebble.cert_status(first)["Reason"] == 1


def test_revoked_certificate_is_replaced_without_restart(httpd, pebble, unique):
    name = unique("replace")
    first, _version = revoked(httpd, pebble, name)

    def replaced():
        c = httpd.verified_cert(name)
        return c if c.serial_number != first.serial_number else None
    try:
        second = wait_for(replaced, REPLACE_TIMEOUT, interval=0.5,
                          what="a new certificate after the revocation")
    except TimeoutError as exc:
        raise AssertionError("%s; still serial %s\n%s" % (exc, cert_serial_hex(first),
                                                          httpd.diagnostics()))
    assert pebble.cert_status(second)["Status"] == "Valid"
    assert httpd.running()


def test_revoked_certificate_reads_revoked_until_replaced(httpd, plain_proxy, unique):
    """While a revoked certificate is still served (its replacement's order
    held at the CA), the status page's JSON and card, the metrics and
    acmectl show and list say revoked, not valid; show gives one renewal
    time, now; once the replacement is live it reads valid again."""
    name = unique("revoked")
    # the first order goes through, the replacement's waits at the proxy
    gate = plain_proxy.gate("POST", r"^/order-plz", timeout=120, skip=1)
    first = issued(httpd, name, acme={"AcmeCA": plain_proxy.directory_url},
                   plain_vhost_extra=METRICS_LOCATION)
    ok(acmectl(httpd, "revoke", name))
    wait_for(gate.held.is_set, 60, interval=0.1, what="the replacement's order held")
    d = wait_for(lambda: (lambda s: s if s.get("state") == "revoked" else None)(
                 httpd.domain_status(name)), 30, interval=0.3, what="state revoked")
    assert d["cert"]["serial"].replace(":", "").lower().lstrip("0") \
        == cert_serial_hex(first).replace(":", "").lower().lstrip("0"), d
    doc = httpd.status()
    assert doc["schema"] == 21 and doc["summary"]["failing"] == 1 \
        and doc["summary"]["valid"] == 0, doc["summary"]
    status, _, body = httpd.http_request("/acme-status")
    page = body.decode()
    card = [a for a in page.split("<article")[1:] if 'href="acme-status/%s"' % name in a]
    assert status == 200 and len(card) == 1, page[-2000:]
    assert "s-revoked" in card[0] and "b-revoked" in card[0] \
        and "Revoked, served until its replacement is live" in card[0], card[0]
    status, _, body = httpd.http_request("/metrics")
    assert status == 200, (status, body[:300])
    assert re.search(r'acme_certificate_state\{name="%s",key_type="[^"]*",state="revoked"\} 1'
                     % re.escape(name), body.decode()), body.decode()[-3000:]
    shown = ok(acmectl(httpd, "show", name)).stdout
    lines = shown.splitlines()
    assert [l for l in lines if l.startswith("state:")][0].split()[1] == "revoked", shown
    renew_at = [l for l in lines if l.startswith("renew at:")]
    assert renew_at and "now (renewal requested" in renew_at[0], shown
    assert "the renewal window" not in shown, shown
    listed = ok(acmectl(httpd, "list")).stdout
    assert [l for l in listed.splitlines() if l.startswith(name)][0].split()[1] == "revoked", \
        listed
    # The held order is refused once (429, Retry-After a few seconds): the
    # revoked certificate's replacement fails, and the JSON and the card say
    # so (the error, its advice, the next attempt) as acmectl show does.
    plain_proxy._order_tat = time.time() + 2
    plain_proxy.order_limit = (1, 1)
    plain_proxy.open_gates()
    d = wait_for(lambda: (lambda s: s if s.get("attempts") else None)(
                 httpd.domain_status(name)), 60, interval=0.3, what="the replacement failing")
    assert d["state"] == "revoked" and d["failing"] is True and d["renewal_failing"] is True \
        and d["advice"] and d["error"]["type"].endswith("rateLimited"), d
    status, _, body = httpd.http_request("/acme-status")
    card = [a for a in body.decode().split("<article")[1:]
            if 'href="acme-status/%s"' % name in a]
    assert len(card) == 1 and 'class="problem"' in card[0] and "What to do:" in card[0] \
        and "Next attempt" in card[0], card
    assert "failing" in ok(acmectl(httpd, "show", name)).stdout.lower()

    def replaced():
        c = httpd.verified_cert(name)
        return c if c.serial_number != first.serial_number else None
    # the next attempt comes after the first retry's wait (about a minute)
    wait_for(replaced, REPLACE_TIMEOUT + 90, interval=0.5, what="the replacement live")
    wait_for(lambda: httpd.domain_status(name).get("state") == "valid", 30, interval=0.3,
             what="state valid again")
    shown = ok(acmectl(httpd, "show", name)).stdout
    assert "revoked" not in [l for l in shown.splitlines() if l.startswith("state:")][0], shown


def test_revoke_of_a_failing_certificate_reaches_the_overview(httpd, plain_proxy, unique):
    """acmectl revoke writes revoked.json and the renewal marker, not the
    status record; a name whose renewal fails (next attempt an hour away)
    keeps its record, and the overview's cached entry, looked at again (here:
    a change of status/ the change log cannot explain), reads revoked, not
    the renewal-failing it was rendered as."""
    name = unique("revokedfail")
    issued(httpd, name, acme={"AcmeCA": plain_proxy.directory_url})
    plain_proxy._order_tat = time.time() + 3600
    plain_proxy.order_limit = (1, 3600)
    ok(acmectl(httpd, "renew", name))
    d = wait_for(lambda: (lambda s: s if s.get("attempts") else None)(
                 httpd.domain_status(name)), 60, interval=0.3, what="the renewal failing")
    assert d["state"] == "renewal-failing", d
    ok(acmectl(httpd, "revoke", name))
    assert httpd.domain_status(name)["attempts"] == d["attempts"]
    probe = os.path.join(httpd.store, "status", ".probe-" + name)
    with open(probe, "w"):
        pass
    os.unlink(probe)
    d = httpd.domain_status(name)
    assert d["state"] == "revoked" and d["failing"] is True and d["advice"], d
    status, _, body = httpd.http_request("/acme-status")
    card = [a for a in body.decode().split("<article")[1:]
            if 'href="acme-status/%s"' % name in a]
    assert status == 200 and len(card) == 1 and "b-revoked" in card[0], card


def test_revoke_usage_errors(httpd, unique):
    name = unique("revoke-usage")
    issued(httpd, name)
    assert acmectl(httpd, "revoke", name, "--reason", "becauseICan").returncode == 2
    assert acmectl(httpd, "revoke").returncode == 2
    assert acmectl(httpd, "revoke", "../etc").returncode == 2
    p = acmectl(httpd, "revoke", "unknown-" + name)
    assert p.returncode == 1 and "unknown-" + name in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(live_version_dir(httpd, name), "revoked.json"))


def test_account_show_never_shows_the_key(httpd, pebble, unique):
    issued(httpd, unique("show"))
    key_pem = read_bytes(os.path.join(account_dir(httpd), "account.key"))
    p = ok(acmectl(httpd, "account", "show"))
    assert pebble.directory_url in p.stdout
    assert "/my-account/" in p.stdout, p.stdout
    assert "ec-p256" in p.stdout
    assert b"PRIVATE" not in p.stdout.encode() and key_pem.split(b"\n")[1][:20].decode() not in p.stdout
    doc = json.loads(ok(acmectl(httpd, "--json", "account", "show")).stdout)
    assert doc["ca"] == pebble.directory_url
    assert doc["key_type"] == "ec-p256"
    assert len(doc["thumbprint"]) == 43, doc


def test_rollover_replaces_the_key_and_the_new_key_works(httpd, pebble, unique):
    name = unique("rollover")
    first = issued(httpd, name)
    adir = account_dir(httpd)
    key_path = os.path.join(adir, "account.key")
    old_key, old_st = read_bytes(key_path), os.stat(key_path)
    before = json.loads(ok(acmectl(httpd, "--json", "account", "show")).stdout)

    doc = json.loads(ok(acmectl(httpd, "--json", "account", "rollover")).stdout)
    assert doc["old_thumbprint"] == before["thumbprint"]
    assert doc["thumbprint"] != before["thumbprint"]

    new_st = os.stat(key_path)
    assert read_bytes(key_path) != old_key
    assert stat.S_IMODE(new_st.st_mode) == 0o600
    assert (new_st.st_uid, new_st.st_gid) == (old_st.st_uid, old_st.st_gid), \
        "account.key must stay the child's"
    assert not os.path.exists(key_path + ".new")
    after = json.loads(ok(acmectl(httpd, "--json", "account", "show")).stdout)
    assert after["thumbprint"] == doc["thumbprint"] and after["url"] == before["url"]

    # A rollover that stopped after the CA switched (new key still in .new)
    # is completed by the next one; a .new key the CA does not know is dropped.
    rolled_key = read_bytes(key_path)
    os.rename(key_path, key_path + ".new")
    with open(key_path, "wb") as f:
        f.write(old_key)
    os.chmod(key_path, 0o600)
    p = ok(acmectl(httpd, "account", "rollover"))
    assert "interrupted" in p.stdout, p.stdout
    assert read_bytes(key_path) == rolled_key and not os.path.exists(key_path + ".new")
    stale = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with open(key_path + ".new", "wb") as f:
        f.write(stale)
    os.chmod(key_path + ".new", 0o600)
    doc = json.loads(ok(acmectl(httpd, "--json", "account", "rollover")).stdout)
    assert not doc["recovered"]
    assert read_bytes(key_path) not in (rolled_key, stale)
    assert not os.path.exists(key_path + ".new")

    # The CA accepts requests signed with the new key for the same account ...
    ok(acmectl(httpd, "revoke", name, "--reason", "superseded"))
    assert pebble.cert_status(first)["Status"] == "Revoked"
    # ... and a server started afresh orders with it.
    httpd.stop()
    other = unique("after-rollover")
    httpd.write_config(vhosts=ssl_vhost(other))
    httpd.start()
    httpd.wait_for_pebble_cert(other, ISSUE_TIMEOUT)
    with open(os.path.join(adir, "account.json")) as f:
        assert json.load(f)["url"] == before["url"], "a new account was created"


@pytest.fixture
def own_pebble(workdir, challtestsrv):
    """A Pebble this test may stop."""
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port,
                                              "own-%d" % os.getpid())


def test_refused_rollover_keeps_the_old_key(httpd_factory, own_pebble, unique):
    httpd = httpd_factory(pebble=own_pebble)
    issued(httpd, unique("refused"))
    httpd.stop()
    key_path = os.path.join(account_dir(httpd), "account.key")
    old_key = read_bytes(key_path)
    own_pebble.stop()

    p = acmectl(httpd, "account", "rollover")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "old account key stays" in p.stderr, p.stderr
    assert read_bytes(key_path) == old_key
    assert not os.path.exists(key_path + ".new")
    ok(acmectl(httpd, "account", "show"))


def test_several_accounts_need_ca(httpd, pebble, unique):
    issued(httpd, unique("several"))
    adir = account_dir(httpd)
    other_url = "https://127.0.0.1:%d/dir" % harness.closed_port()
    p = acmectl(httpd, "account", "show", "--ca", other_url)
    assert p.returncode == 1 and "no account key" in p.stderr, p.stderr
    # a second CA's account makes the choice explicit
    twin_url = "https://127.0.0.1:1/dir"
    twin = os.path.join(os.path.dirname(adir), "127.0.0.1_1-" + hashlib.sha256(
        twin_url.encode()).hexdigest()[:8])
    os.makedirs(twin, mode=0o700)
    with open(os.path.join(twin, "account.json"), "w") as f:
        json.dump({"url": "https://127.0.0.1:1/acct/1", "ca": twin_url}, f)
    p = acmectl(httpd, "account", "show")
    assert p.returncode == 2 and "--ca" in p.stderr, p.stderr
    ok(acmectl(httpd, "account", "show", "--ca", pebble.directory_url))


def test_renew_orders_a_new_certificate_without_restart(httpd, pebble, unique):
    name = unique("renew")
    first = issued(httpd, name)
    out = ok(acmectl(httpd, "renew", name)).stdout
    assert "renewal of %s requested" % name in out, out
    assert acmectl(httpd, "renew", "unknown-" + name).returncode == 1

    def replaced():
        c = httpd.verified_cert(name)
        return c if c.serial_number != first.serial_number else None
    try:
        wait_for(replaced, REPLACE_TIMEOUT, interval=0.5, what="a new certificate after renew")
    except TimeoutError as exc:
        raise AssertionError("%s\n%s" % (exc, httpd.diagnostics()))
    # the old certificate was not revoked, and it stays in the archive
    assert pebble.cert_status(first)["Status"] == "Valid"
    assert len(os.listdir(os.path.join(httpd.store, "archive", name))) == 2
    assert not os.path.exists(os.path.join(httpd.store, "jobs", name + ".renew"))
