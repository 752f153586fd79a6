"""A newly issued chain is held against the OpenSSL security level of the
vhosts that serve it before it goes live. Pebble's intermediate has an
RSA-2048 key (112 bits); at "SSLCipherSuite DEFAULT:@SECLEVEL=3" (128 bits)
mod_ssl refuses it ("ca key too small"), and a restart that made it live
stopped the whole httpd, every later start failing, although configtest
passed (the leaf's ec-p256 key meets level 3). The staged check before the
automatic restart refuses it instead (ACME00301, with the level, the chain
certificate and the fix), the name backs off as for any refused entry, and
the site keeps its temporary certificate; a name served at the default
level goes live at the same time. A start that finds such an entry staged
refuses it at activation too (ACME00604) and starts. The children, which
serve a first certificate from staging/ before its restart, do not serve
it either: OpenSSL refuses it on the connection at the vhost's level
(ACME01517), and the temporary certificate and its 503 are served."""
import json
import os
import time

import pytest

import harness
from harness import ssl_vhost, utcnow, wait_for
from test_activation_hold import ConfigtestStopper
from test_activation_hot import fallback_served
from test_privsep import logged

ISSUE_TIMEOUT = 120
LEVEL3 = "SSLCipherSuite DEFAULT:@SECLEVEL=3"


def assert_level_refusal(line, name):
    assert name in line, line
    assert "a TLS server (security level 3) refuses chain certificate 1 (/CN=Pebble " \
        "Intermediate CA " in line, line
    assert "whose key gives 112 bits of security; level 3 asks for 128)" in line, line
    assert "the vhost serving it asks for OpenSSL security level 3" in line, line
    assert "lower that level, or have the CA issue a chain whose keys meet it " \
        "(AcmePreferredChain) or use another CA" in line, line


def test_chain_below_the_vhost_level_is_not_activated(httpd, unique):
    strict, plain = unique("strict3"), unique("plain2")
    httpd.write_config(vhosts=ssl_vhost(strict, extra=LEVEL3) + ssl_vhost(plain))
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME016" not in out, out
    httpd.start()
    pid = httpd.pid()
    # the name at the default level goes live through an automatic restart
    httpd.wait_for_pebble_cert(plain, ISSUE_TIMEOUT)
    refused = wait_for(lambda: logged(httpd, "ACME00301", strict + ": staged certificate "
                                      "refused"), ISSUE_TIMEOUT,
                       what="the staged chain of the level-3 vhost refused")
    assert_level_refusal(refused[0], strict)
    assert logged(httpd, "ACME00733", strict), httpd.diagnostics()
    wait_for(lambda: httpd.generation_count() >= 2, 30, what="the automatic restart")
    # the server runs on, in the same parent; the strict name is not live
    # and keeps its temporary certificate
    assert httpd.running() and httpd.pid() == pid, httpd.diagnostics()
    assert not logged(httpd, "AH00020"), httpd.diagnostics()
    assert not os.path.lexists(os.path.join(httpd.store, "domains", strict))
    wait_for(lambda: os.path.exists(os.path.join(httpd.store, "staging", strict, "rejected")),
             10, what="the entry kept in staging/ as rejected")
    assert fallback_served(httpd, strict)
    httpd.wait_for_pebble_cert(plain, 10)
    # shown where the refusal backoff is shown
    held = wait_for(lambda: httpd.domain_status(strict).get("activation_held"), 10,
                    what="the status page to show the refusal")
    assert held["refusals"] >= 1, held
    shown = httpd.acmectl("--store", httpd.store, "show", strict)
    assert "activation: " in shown.stdout and "refused)" in shown.stdout, shown.stdout

    # A start that finds the entry staged (say, the check never ran before
    # an administrator's restart) refuses it at activation and starts.
    httpd.stop()
    staging = os.path.join(httpd.store, "staging", strict)
    # (the child may have ordered and staged the same chain again meanwhile)
    if not os.path.exists(os.path.join(staging, "ready")):
        os.rename(os.path.join(staging, "rejected"), os.path.join(staging, "ready"))
    httpd.start()
    refused = wait_for(lambda: logged(httpd, "ACME00604", strict), 30,
                       what="activation at the start to refuse the chain")
    assert_level_refusal(refused[0], strict)
    assert "the site keeps its temporary certificate" in refused[0], refused[0]
    assert httpd.running(), httpd.diagnostics()
    assert not os.path.lexists(os.path.join(httpd.store, "domains", strict))
    assert fallback_served(httpd, strict)
    httpd.wait_for_pebble_cert(plain, 10)


def test_conf_cmd_does_not_lower_the_level_the_chain_loads_at(httpd, unique):
    """mod_ssl loads the certificates at SSLCipherSuite's level and applies
    SSLOpenSSLConfCmd after: a lower CipherString there does not let an
    RSA-2048 intermediate load at level 3. The chain is refused and held,
    and the server keeps running (it stopped at the automatic restart that
    made the chain live, and every later start failed)."""
    name = unique("confcmd")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3 + "\n"
                                         "SSLOpenSSLConfCmd CipherString DEFAULT:@SECLEVEL=2"))
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME016" not in out, out
    httpd.start()
    pid = httpd.pid()
    refused = wait_for(lambda: logged(httpd, "ACME00301", name + ": staged certificate "
                                      "refused"), ISSUE_TIMEOUT,
                       what="the staged chain refused at level 3")
    assert_level_refusal(refused[0], name)
    time.sleep(3)
    assert httpd.running() and httpd.pid() == pid, httpd.diagnostics()
    assert not logged(httpd, "AH00020"), httpd.diagnostics()
    assert not os.path.lexists(os.path.join(httpd.store, "domains", name))
    rc, out = httpd.configtest()
    assert rc == 0, out


def test_chain_below_the_vhost_level_is_not_served_early(httpd, unique):
    """The configuration test before the restart is stopped, so the entry
    stays staged ("ready") while the children are asked for it."""
    name = unique("early3")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3))
    with ConfigtestStopper(httpd.serverroot) as stopper:
        httpd.start()
        wait_for(stopper.stopped.is_set, ISSUE_TIMEOUT, interval=0.05,
                 what="the configuration test before the first automatic restart")
        assert os.path.exists(os.path.join(httpd.store, "staging", name, "ready"))
        assert fallback_served(httpd, name)
        status, _, body = httpd.https_request(name, "/")
        assert status == 503, (status, body)
        refused = wait_for(lambda: logged(httpd, "ACME01517", name), 10, what="ACME01517")
        assert "an intermediate of its chain" in refused[0], refused
        # never said to be served, neither in the log nor to acmectl
        assert not logged(httpd, "ACME01516", name), logged(httpd, "ACME0151")
        assert not os.path.exists(os.path.join(httpd.store, "staging", name, "served"))
        stopper.resume()
    refused = wait_for(lambda: logged(httpd, "ACME00301", name + ": staged certificate "
                                      "refused"), 30, what="the staged chain refused")
    assert_level_refusal(refused[0], name)
    assert httpd.running() and httpd.generation_count() == 1, httpd.diagnostics()
    assert fallback_served(httpd, name)


def test_archived_chain_below_a_raised_level_does_not_stop_the_start(httpd, unique):
    """The live chain was made at the default level; the vhost is then raised
    to level 3 and its live link is broken, so configuration checks cannot
    read the chain (ACME01609 holds a readable live chain against the level).
    The start repairs the link to the newest usable archived version: one
    whose RSA-2048 intermediate the level refuses is not usable (mod_ssl
    refused it and httpd did not start); the vhost answers with the
    temporary certificate, the log says why, and a name at the default
    level keeps serving (the start failed with 'ca key too small')."""
    raised, plain = unique("raise3"), unique("keep2")
    httpd.write_config(vhosts=ssl_vhost(raised) + ssl_vhost(plain))
    httpd.start()
    httpd.wait_for_pebble_cert(raised, ISSUE_TIMEOUT)
    httpd.wait_for_pebble_cert(plain, ISSUE_TIMEOUT)
    httpd.stop()
    httpd.write_config(vhosts=ssl_vhost(raised, extra=LEVEL3) + ssl_vhost(plain))
    rc, out = httpd.configtest()
    assert rc != 0 and "ACME01609" in out, out
    link = os.path.join(httpd.store, "domains", raised)
    os.remove(link)
    with open(link, "w") as f:
        f.write("junk\n")
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    assert httpd.running() and not logged(httpd, "AH00020"), httpd.diagnostics()
    # no archived version is usable at level 3: the link is set aside
    unusable = logged(httpd, "ACME01512", raised)
    assert unusable, httpd.diagnostics()
    # and why: each version looked into, with its reason
    assert "no version in its archive is usable (" in unusable[0], unusable
    assert ": security level 3: intermediate 1 (RSA-2048) too weak" in unusable[0], unusable
    assert not os.path.lexists(link), os.listdir(os.path.dirname(link))
    assert fallback_served(httpd, raised)
    httpd.wait_for_pebble_cert(plain, 10)


def orders_of(httpd, name):
    """New orders the issuing child made for name (ACME00417, debug)."""
    return logged(httpd, "ACME00417", name + ": order ")


LEVEL_WORDS = "refused at OpenSSL security level 3: intermediate 1 (RSA-2048) too weak"


def test_level_refusal_is_not_ordered_again(httpd, unique):
    """A chain refused for the vhost's level would be issued the same by the
    CA: the name is ordered once, not again after each graceful restart nor
    after the retry delay (each was a duplicate certificate at the CA). The
    status page, acmectl show and the 503 say why. Once the administrator
    lowers the level, the refused chain goes live at the restart with no new
    order."""
    name = unique("once3")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3))
    httpd.start()
    refused = wait_for(lambda: logged(httpd, "ACME00301", name + ": staged certificate "
                                      "refused"), ISSUE_TIMEOUT, what="the staged chain refused")
    wait_for(lambda: os.path.exists(os.path.join(httpd.store, "staging", name, "rejected")),
             10, what="the entry kept in staging/ as rejected")
    # shown at once, before the child looks again (its record still says "staged")
    status = httpd.domain_status(name)
    assert (status.get("error") or {}).get("kind") == "seclevel", json.dumps(status)
    assert status.get("state") == "failing", json.dumps(status)
    # the refusal's time, not the moment the page was asked for
    since = status["error"].get("since")
    time.sleep(1.5)
    again = httpd.domain_status(name)
    assert since and (again.get("error") or {}).get("since") == since, (status, again)
    # the hold's end, 7 days after the refusal, before the child has looked
    # (it said nothing, and the words said "before next_action")
    held_until = harness.parse_time(again["next_action"])
    assert abs((held_until - utcnow()).total_seconds() - 7 * 86400) < 600, again
    for _ in range(3):
        httpd.graceful()
        time.sleep(3)
    # past the refusal backoff (30 s) and the first retry delay
    time.sleep(40)
    assert len(orders_of(httpd, name)) == 1, orders_of(httpd, name)
    held = logged(httpd, "ACME01292", name + ": no new order")
    assert held and LEVEL_WORDS in held[0] and "lower @SECLEVEL" in held[0], held
    assert "acmectl renew " + name in held[0], held
    # said once per generation (each one after a restart), not at every check
    assert 3 <= len(logged(httpd, "ACME01292", name)) <= httpd.generation_count(), \
        logged(httpd, "ACME01292", name)
    # each restart's line on the temporary certificate gives the hold's end,
    # not a certificate that is not coming
    waiting = logged(httpd, "ACME00673", name)
    assert waiting and "no new order before 20" in waiting[-1], waiting
    assert "until the certificate" not in waiting[-1], waiting
    status = httpd.domain_status(name)
    error = status.get("error") or {}
    assert error.get("kind") == "seclevel", status
    assert LEVEL_WORDS in error.get("detail", ""), status
    assert status.get("state") == "failing", status
    # the hold's end in the words too (the HTML card shows only them)
    words = status.get("next_action_text") or ""
    assert "No new order before 20" in words and "(7 days after the latest refusal" in words, \
        status
    # next_action is the hold's end, 7 days after the refusal (it said the
    # child's next look, 12 h on, which orders nothing)
    held_until = harness.parse_time(status["next_action"])
    assert abs((held_until - utcnow()).total_seconds() - 7 * 86400) < 600, status
    shown = httpd.acmectl("--store", httpd.store, "show", name)
    assert LEVEL_WORDS in shown.stdout, shown.stdout
    assert "the live certificate stays" not in shown.stdout, shown.stdout
    code, _, body = httpd.https_request(name, "/")
    body = body.decode()
    assert code == 503 and "refused at OpenSSL security level 3" in body, (code, body)
    assert "waits for the server's restart" not in body and "hook" not in body, body
    # when the next order comes, not a fixed "7 days" that stays true for none of them
    assert "No new certificate is ordered before 20" in body, body
    # there is no live certificate to stay
    assert "the site keeps its temporary certificate" in refused[0], refused
    assert not logged(httpd, "the live certificate stays"), httpd.diagnostics()

    # acmectl renew orders at once (the marker is seen within 30 s), not
    # after the held name's next look twice a day; exactly one more order
    renew = httpd.acmectl("--store", httpd.store, "renew", name)
    assert renew.returncode == 0, (renew.stdout, renew.stderr)
    assert "starts at" not in renew.stdout and "within 30 s" in renew.stdout, renew.stdout
    assert "refused again" in renew.stdout, renew.stdout
    wait_for(lambda: len(orders_of(httpd, name)) == 2, 45, what="acmectl renew's order")
    wait_for(lambda: len(logged(httpd, "ACME00301", name + ": staged certificate refused")) == 2,
             ISSUE_TIMEOUT, what="the new chain refused at the same level")
    time.sleep(5)
    assert len(orders_of(httpd, name)) == 2, orders_of(httpd, name)
    # the same child's second refusal is shown as the first was (its record
    # had no error after the issuance in between, and kept none)
    wait_for(lambda: ((harness.store_status(httpd.store, name).get("error") or {}).get("kind")
                      == "seclevel"), 45, what="the child's record to show the second refusal")
    status = httpd.domain_status(name)
    assert (status.get("error") or {}).get("kind") == "seclevel", status
    assert "No new order before 20" in (status.get("next_action_text") or ""), status

    # the administrator lowers the level: the staged chain goes live, no new order
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.graceful()
    changed = wait_for(lambda: logged(httpd, "ACME01519", name), 30,
                       what="the start to prove the refused entry again")
    assert "proven again now" in changed[0], changed
    httpd.wait_for_pebble_cert(name, 30)
    assert len(orders_of(httpd, name)) == 2, orders_of(httpd, name)


def test_level_refusal_shown_by_acmectl_before_the_record_says_so(httpd, unique):
    """Right after a refusal for the level, the issuing child's record still
    says "staged" (it rewrites it at its next look, up to ~30 s later): acmectl
    list and show read the public refusal record as the status page does and
    say failing, for the level, not "missing, order at". The record is the
    one the child wrote when it staged the chain, put back after the server
    stopped so the window stays open."""
    name = unique("window3")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3))
    record = os.path.join(httpd.store, "status", name + ".json")
    httpd.start()
    staged = wait_for(lambda: (lambda d: d if d.get("state") == "staged" else None)(
        harness.store_status(httpd.store, name)), ISSUE_TIMEOUT, interval=0.05,
        what="the record of the staged chain")
    wait_for(lambda: logged(httpd, "ACME00301", name + ": staged certificate refused"), 30,
             what="the staged chain refused")
    httpd.stop()
    with open(record) as f:
        now = json.load(f)
    if now.get("state") != "staged":
        with open(record, "w") as f:
            json.dump(staged, f)
    listed = httpd.acmectl("--store", httpd.store, "list")
    row = [l for l in listed.stdout.splitlines() if l.startswith(name + " ")]
    assert row and " failing " in row[0] and "missing" not in row[0], listed.stdout
    shown = httpd.acmectl("--store", httpd.store, "show", name).stdout
    assert "state:         failing" in shown, shown
    assert LEVEL_WORDS in shown and "7 days after the latest refusal" in shown, shown
    assert "order at" not in shown, shown
    # no new order before the hold ends, as the record says once rewritten
    held_until = harness.parse_time(json.loads(httpd.acmectl(
        "--store", httpd.store, "--json", "show", name).stdout)["next_action"])
    assert abs((held_until - utcnow()).total_seconds() - 7 * 86400) < 600, held_until
    doc = json.loads(httpd.acmectl("--store", httpd.store, "--json", "show", name).stdout)
    assert doc["state"] == "failing" and doc["failing"] is True, doc


def test_level_refusal_lifted_by_what_the_chain_depends_on(httpd, unique):
    """The advice of a level refusal is to have the CA issue another chain
    (AcmePreferredChain) or use another CA: after such a change and a
    graceful restart a new certificate is ordered (the hold compared only
    the level and the key type, so the name waited forever). The refused
    entry, issued for the old configuration, is not proven again, and the
    new refusal records the new configuration, which holds again."""
    name = unique("dep3")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3))
    httpd.start()
    wait_for(lambda: logged(httpd, "ACME01292", name + ": no new order"), ISSUE_TIMEOUT,
             what="the name held for its level")
    assert len(orders_of(httpd, name)) == 1, orders_of(httpd, name)
    with open(os.path.join(httpd.store, "refused", name + ".json")) as f:
        record = json.load(f)
    assert record.get("preferred_chain") == "" and record.get("ca"), record

    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3 + '\nAcmePreferredChain '
                                        '"No Such Root CA"'))
    httpd.graceful()
    lifted = wait_for(lambda: logged(httpd, "ACME01519", name), 30,
                      what="the start to drop the hold")
    assert "AcmePreferredChain changed since: a new certificate is ordered" in lifted[0], lifted
    wait_for(lambda: len(orders_of(httpd, name)) == 2, 60, what="a new order")
    wait_for(lambda: len(logged(httpd, "ACME00301", name + ": staged certificate refused")) == 2,
             ISSUE_TIMEOUT, what="the new chain refused at the same level")
    with open(os.path.join(httpd.store, "refused", name + ".json")) as f:
        record = json.load(f)
    assert record.get("preferred_chain") == "No Such Root CA", record
    # held again: the new configuration is what the new record depends on
    httpd.graceful()
    time.sleep(10)
    assert len(orders_of(httpd, name)) == 2, orders_of(httpd, name)
    assert len(logged(httpd, "ACME01519", name)) == 1, logged(httpd, "ACME01519", name)


def test_level_hold_ends(httpd, unique):
    """A level refusal holds new orders only while its refused entry is
    staged, and 7 days from the latest refusal: the entry removed, or the
    hold that old, the name is ordered once again, and a chain refused again
    holds 7 days more."""
    name = unique("end3")
    httpd.write_config(vhosts=ssl_vhost(name, extra=LEVEL3))
    httpd.start()
    wait_for(lambda: logged(httpd, "ACME01292", name + ": no new order"), ISSUE_TIMEOUT,
             what="the name held for its level")
    assert len(orders_of(httpd, name)) == 1, orders_of(httpd, name)
    shown = os.path.join(httpd.store, "refused", name + ".json")
    with open(shown) as f:
        first = json.load(f)
    assert abs(first.get("since", 0) - time.time()) < 300, first

    # the refused entry removed: nothing is held, the start drops the level fields
    import shutil
    shutil.rmtree(os.path.join(httpd.store, "staging", name))
    httpd.graceful()
    wait_for(lambda: len(orders_of(httpd, name)) == 2, 60, what="an order once the entry is gone")
    wait_for(lambda: len(logged(httpd, "ACME00301", name + ": staged certificate refused")) == 2,
             ISSUE_TIMEOUT, what="the new chain refused at the same level")
    # the child sees the refusal at its next look at the markers, every 30 s
    wait_for(lambda: len(logged(httpd, "ACME01292", name + ": no new order")) >= 2, 60,
             what="held again")

    # a hold that began 8 days ago: one new order; refused again, the name
    # is held 7 days more (it was ordered every minute or two: each time a
    # duplicate certificate, where Let's Encrypt allows 5 a week)
    # root's record and its public copy (the child reads the copy)
    for path in (os.path.join(httpd.store, "keys", name, "refused.json"), shown):
        with open(path) as f:
            record = json.load(f)
        record["since"] = record["at"] = int(time.time()) - 8 * 86400
        with open(path, "w") as f:
            json.dump(record, f)
    told = len(logged(httpd, "ACME01292", name + ": no new order"))
    httpd.graceful()
    # while the order runs, the record no longer says the name is held
    running = []

    def ordered():
        seen = harness.store_status(httpd.store, name)
        if seen.get("step") not in (None, "idle", "staged"):
            running.append(seen)
        return len(orders_of(httpd, name)) == 3
    wait_for(ordered, 60, what="an order past the longest hold", interval=0.1)
    wait_for(lambda: (ordered() and False)
             or len(logged(httpd, "ACME00301", name + ": staged certificate refused")) == 3,
             ISSUE_TIMEOUT, what="the new chain refused at the same level", interval=0.1)
    # (the order may run between two looks: only the records seen are checked)
    for seen in running:
        error = seen.get("error") or {}
        assert error.get("kind") != "seclevel", seen
        assert "a new order is under way" in error.get("detail", ""), seen
    wait_for(lambda: len(logged(httpd, "ACME01292", name + ": no new order")) > told, 45,
             what="held again after the refusal past the longest hold")
    status = httpd.domain_status(name)
    until = harness.parse_time(status["next_action"])
    assert (until - utcnow()).total_seconds() > 6 * 86400, status
    assert (status.get("error") or {}).get("kind") == "seclevel", status
    # the series goes on: its start stays
    with open(shown) as f:
        assert json.load(f)["since"] == record["since"]
    time.sleep(20)
    assert len(orders_of(httpd, name)) == 3, orders_of(httpd, name)


def level3_cnf(httpd):
    """An openssl.cnf raising the default security level to 3, for httpd."""
    cnf = os.path.join(httpd.serverroot, "openssl-level3.cnf")
    with open(cnf, "w") as f:
        f.write("openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
                "[ssl_sect]\nsystem_default = system_default_sect\n"
                "[system_default_sect]\nCipherString = DEFAULT:@SECLEVEL=3\n")
    os.chmod(cnf, 0o644)
    return cnf


@pytest.fixture
def rsa2048_pebble(workdir, challtestsrv):
    """A Pebble whose HTTPS listener has an RSA-2048 key (112 bits)."""
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port,
                                              "rsa2048-%d" % os.getpid(),
                                              listener={"rsa_bits": 2048})


def test_ca_below_a_raised_system_level_is_said_so(httpd_factory, rsa2048_pebble, unique):
    """openssl.cnf raises the default level to 3 (for the vhosts); the
    connection to the CA takes it too, and the CA's RSA-2048 listener key is
    refused: the error and its advice name openssl.cnf's default level and
    the fix, not only the CA's URL, its trust anchors and the clock."""
    name = unique("calevel")
    httpd = httpd_factory(pebble=rsa2048_pebble)
    httpd.extra_env["OPENSSL_CONF"] = level3_cnf(httpd)
    httpd.write_config(vhosts=ssl_vhost(name, extra="SSLCipherSuite DEFAULT:@SECLEVEL=2"))
    httpd.start()
    d = wait_for(lambda: (lambda d: d if d and d.get("error") else None)(
        httpd.domain_status(name)), 60, what="the failure to reach the CA")
    assert d["error"]["kind"] == "tls", d
    assert "refused at this machine's OpenSSL security level, openssl.cnf's default: 3" in \
        d["error"]["detail"], d
    assert "[system_default]" in d["advice"] and "SECLEVEL=2" in d["advice"], d
    shown = httpd.acmectl("--store", httpd.store, "show", name).stdout
    assert "openssl.cnf (its [system_default] section" in shown, shown


def test_vhost_lowering_a_raised_system_level(httpd, unique):
    """openssl.cnf raises the default level to 3, and the vhost lowers its
    own to 2 so that RSA-2048 intermediates load: mod_ssl takes the chain,
    and so must activation (it held the chain against the system's level
    and refused it), at the first start and the next."""
    name = unique("lower2")
    httpd.extra_env["OPENSSL_CONF"] = level3_cnf(httpd)
    httpd.write_config(vhosts=ssl_vhost(name, extra="SSLCipherSuite DEFAULT:@SECLEVEL=2"))
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME016" not in out, out
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert not logged(httpd, "ACME00301", name) and not logged(httpd, "ACME00604", name)
    # the live chain is held at the vhost's level by configtest and the start too
    rc, out = httpd.configtest()
    assert rc == 0 and "ACME01609" not in out, out
    httpd.graceful()
    assert not logged(httpd, "ACME01512", name), httpd.diagnostics()
    httpd.wait_for_pebble_cert(name, 10)
