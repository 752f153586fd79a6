"""Real CAs behave unlike Pebble; the proxy in front of Pebble (ari_proxy.py,
where each behaviour names its public source) imitates them:
- a new order carrying "replaces" refused with any problem type: ordered again
  without it in the same attempt, the account left alone;
- an EAB CA that refuses the onlyReturnExisting lookup with
  externalAccountRequired: the account is created, with the binding;
- an authorization or order the CA keeps pending or processing: the wait ends,
  the attempt fails (status page, failed event, backoff), the next attempt
  makes a new order;
- the same failed authorization (with an empty "error") put into every new
  order: said plainly, and no new order before it expires."""
import datetime
import os
import time

import pytest

import harness
from ari_proxy import AcmeProxy, ari_cert_id, rfc3339
from harness import ssl_vhost, status_error, utcnow, wait_for, wait_for_new_cert

ISSUE_TIMEOUT = 60
FAR = datetime.timedelta(days=300)
WAIT_POLLS = 30          # ACME_CA_WAIT_POLLS (acme_policy.h)


def notify_script(httpd):
    """AcmeNotifyCmd recording "event name detail" lines in script + '.out'."""
    path = os.path.join(httpd.serverroot, "notify.sh")
    with open(path, "w") as f:
        f.write('#!/bin/sh\necho "$ACME_EVENT $ACME_DOMAIN $ACME_DETAIL" >> %s.out\n' % path)
    os.chmod(path, 0o755)
    return path, path + ".out"


def notified(out, event, name, timeout=20):
    def seen():
        try:
            with open(out) as f:
                return [l for l in f if l.startswith("%s %s " % (event, name))]
        except FileNotFoundError:
            return []
    return wait_for(seen, timeout, what="AcmeNotifyCmd %s %s" % (event, name))


# --------------------------------------------------------------------------
# RFC 9773 §5: "replaces" refused

@pytest.mark.parametrize("refusal", ["alreadyReplaced", "unauthorized", "malformed", "conflict"])
def test_refused_replaces_is_ordered_again_without_it(httpd, proxy, unique, refusal):
    name = unique("refused-" + refusal.lower())
    windows = {}

    def window(cid):
        # the first certificate: due now (a window in the past); later ones: far away
        if not windows:
            windows[cid] = (utcnow() - datetime.timedelta(hours=2),
                            utcnow() - datetime.timedelta(hours=1))
        return windows.get(cid) or (utcnow() + FAR, utcnow() + FAR + datetime.timedelta(days=1))
    proxy.set_window_function(window)
    proxy.refuse_replaces = refusal
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    accounts = len(proxy.recorded("POST", r"^/sign-me-up$"))

    wait_for_new_cert(httpd, name, first.serial_number, ISSUE_TIMEOUT)
    payloads = proxy.new_order_payloads()
    assert [p.get("replaces") for p in payloads] == [None, ari_cert_id(first), None], payloads
    assert [r.status for r in proxy.new_orders()][1:] == [
        AcmeProxy.REFUSALS[refusal][0], 201], proxy.new_orders()
    assert len(proxy.recorded("POST", r"^/sign-me-up$")) == accounts, \
        "the account was looked up or created again: %s" % proxy.recorded("POST", "sign-me-up")
    log = httpd.error_log_text()
    refused = [l for l in log.splitlines() if "ACME00420" in l]
    assert refused and refusal in refused[0] and ari_cert_id(first) in refused[0], refused
    assert "ACME00412" not in log, "an answer about \"replaces\" was taken for a lost account"
    assert "ACME00402" not in log, "the renewal took more than one attempt"
    assert httpd.domain_status(name)["attempts"] == 0


# --------------------------------------------------------------------------
# EAB on every newAccount request

EAB_KID = "kid-1"
EAB_KEY = harness.new_eab_key()


@pytest.fixture(scope="module")
def eab_pebble(workdir, challtestsrv):
    yield from harness.started_eab_pebble(workdir, challtestsrv.dns_port, "eab-lookup",
                                          EAB_KID, EAB_KEY)


def test_eab_ca_refusing_the_lookup_gets_the_account_created(httpd_factory, eab_pebble, unique):
    proxy = AcmeProxy(eab_pebble)
    proxy.ari_enabled = False
    proxy.eab_on_lookup = True
    proxy.start()
    try:
        name = unique("eab-lookup")
        httpd = httpd_factory(pebble=eab_pebble)
        httpd.write_config(vhosts=ssl_vhost(name), acme={
            "AcmeCA": proxy.directory_url, "AcmeEAB": "%s %s" % (EAB_KID, EAB_KEY)})
        httpd.start()
        httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
        reqs = proxy.recorded("POST", r"^/sign-me-up$")
        assert [("onlyReturnExisting" in r.payload, "externalAccountBinding" in r.payload,
                 r.status) for r in reqs] == [(True, False, 400), (False, True, 201)], reqs
        assert "ACME00402" not in httpd.error_log_text()
    finally:
        proxy.stop()


# --------------------------------------------------------------------------
# A finalize before the CA has validated: orderNotReady (RFC 8555 §7.4)

@pytest.mark.parametrize("refusals", [1, 2])
def test_finalize_refused_as_not_ready_costs_no_attempt(httpd, proxy, unique, refusals):
    """mod_acme finalizes right after answering the challenges; a CA that has
    not validated yet refuses (ari_proxy not_ready_finalizes, Boulder's
    answer). The authorizations are polled and the order finalized again:
    issued in the same attempt, no error, no backoff. With two refusals the
    order is asked for before the third finalize."""
    name = unique("notready")
    proxy.ari_enabled = False
    proxy.not_ready_finalizes = refusals
    script, out = notify_script(httpd)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url,
                                                     "AcmeNotifyCmd": script})
    started = time.time()
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    took = time.time() - started
    finalizes = proxy.recorded("POST", r"^/finalize-order/")
    assert [r.status for r in finalizes] == [403] * refusals + [200], finalizes
    # between the first refusal and the next finalize, the authorization was polled
    polls = [r for r in proxy.recorded("POST", r"^/authZ/") if r.time > finalizes[0].time]
    assert polls and polls[0].time < finalizes[1].time, (polls, finalizes)
    page = httpd.domain_status(name)
    assert page["attempts"] == 0 and not page.get("error"), page
    assert len(proxy.new_orders()) == 1
    log = httpd.error_log_text()
    assert "ACME00402" not in log
    assert "ACME01116" in log
    assert ("ACME01115" in log) == (refusals > 1)
    if refusals > 1:
        assert proxy.recorded("POST", r"^/my-order/")[0].time < finalizes[-1].time
    notes = open(out).read() if os.path.exists(out) else ""
    assert "failed %s " % name not in notes, notes
    assert took < ISSUE_TIMEOUT, took


# --------------------------------------------------------------------------
# Nothing waits forever

FREEZES = {
    "authorization-pending": ("freeze_authz", "pending", r"^/authZ/", "authorization of"),
    "order-pending": ("freeze_order", ("pending", {"ready"}), r"^/my-order/", "the order pending"),
    "order-processing": ("freeze_order", ("processing", {"processing", "valid"}),
                         r"^/(my|finalize)-order/", "the order processing"),
}


@pytest.mark.parametrize("frozen", sorted(FREEZES))
def test_a_ca_that_never_gets_there_fails_the_attempt(httpd, proxy, unique, frozen):
    attr, value, polled, said = FREEZES[frozen]
    name = unique("frozen")
    proxy.ari_enabled = False
    setattr(proxy, attr, value)
    script, out = notify_script(httpd)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url,
                                                     "AcmeNotifyCmd": script})
    started = time.time()
    httpd.start()
    error = status_error(httpd, name, timeout=WAIT_POLLS * 2 + 30)
    took = time.time() - started
    assert said in error["detail"] and "%d polls" % WAIT_POLLS in error["detail"], error
    assert "new one" in error["detail"], error
    page = httpd.domain_status(name)
    assert page["state"] == "failing" and page["attempts"] == 1, page
    assert harness.parse_time(page["next_action"]) > utcnow(), page    # backing off
    polls = proxy.recorded("POST", polled)
    assert WAIT_POLLS <= len(polls) <= WAIT_POLLS + 6, (len(polls), polls)
    assert took < WAIT_POLLS * 2 + 20, "gave up after %.0f s" % took
    line = notified(out, "failed", name)[0]
    assert said in line, line
    assert len(proxy.new_orders()) == 1

    if frozen == "order-processing":
        # the CA recovers: the next attempt (after the backoff) orders anew
        setattr(proxy, attr, None)
        httpd.wait_for_pebble_cert(name, 120)
        assert len(proxy.new_orders()) == 2, proxy.new_orders()


# --------------------------------------------------------------------------
# The same failed authorization in every order, with an empty "error"

def test_reused_failed_authorization_is_named_and_waited_out(httpd, proxy, unique):
    name = unique("reused")
    failed = utcnow().replace(microsecond=0) - datetime.timedelta(hours=3)
    expires = utcnow().replace(microsecond=0) + datetime.timedelta(hours=2)
    proxy.ari_enabled = False
    proxy.reuse_failed_authz = {"validated": failed, "expires": expires}
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": proxy.directory_url})
    httpd.start()
    error = status_error(httpd, name)
    detail = error["detail"]
    assert "the CA reuses a failed authorization from %s" % rfc3339(failed) in detail, error
    assert "expires at %s" % rfc3339(expires) in detail, error
    assert "the CA gave no detail" in detail, error     # the empty "error" object
    page = httpd.domain_status(name)
    assert harness.parse_time(page["next_action"]) >= expires, page
    time.sleep(5)
    assert len(proxy.new_orders()) == 1, "ordered again before the authorization expires"
    assert httpd.running() and httpd.status()
    assert "reuses a failed authorization" in httpd.error_log_text()
