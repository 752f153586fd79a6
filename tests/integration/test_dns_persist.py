"""dns-persist-01 (draft-ietf-acme-dns-persist-02; -01 CAs still served): one
TXT record at _validation-persist.NAME, set once, validates the first
issuance and every renewal; the DNS hook is never run. Before ordering,
mod_acme looks the record up: while it is missing or wrong no order is made
and the status page shows the exact record to set. Pebble 2.4 has no
dns-persist-01: the test proxy (ari_proxy.AcmeProxy.dns_persist) is the CA
for it, reading the records at pebble-challtestsrv's DNS as the draft says."""
import calendar
import glob
import html
import json
import os
import re
import time
import urllib.request

import pytest

import harness
from ari_proxy import AcmeProxy
from harness import cert_names, ssl_vhost, wait_for

ISSUER = "pebble.acme.test"
LIFETIME = 30          # seconds: renewals come every ~15 s (default window: 50% when < 10 days)

HOOK = """#!/bin/sh
echo "$@" >> {log}
exit 0
"""


@pytest.fixture(scope="module")
def persist_pebble(workdir, challtestsrv):
    """Short-lived certificates, and (almost) no reused authorizations: a
    renewal is validated again (see orders_to_validate)."""
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port, "persist",
                                              env={"PEBBLE_AUTHZREUSE": "0"},
                                              extra_config={"certificateValidityPeriod": LIFETIME})


def make_proxy(persist_pebble, challtestsrv, draft):
    p = AcmeProxy(persist_pebble)
    p.ari_enabled = False
    p.dns_persist = {"issuer": ISSUER, "dns_port": challtestsrv.dns_port,
                     "mgmt_port": challtestsrv.mgmt_port, "draft": draft}
    p.start()
    return p


@pytest.fixture
def proxy(persist_pebble, challtestsrv):
    """A CA following draft -02 (hashed accounturi, directory metadata)."""
    p = make_proxy(persist_pebble, challtestsrv, 2)
    yield p
    p.stop()


@pytest.fixture
def proxy01(persist_pebble, challtestsrv):
    """A CA following draft -01 (accounturi = the account URL, no directory metadata)."""
    p = make_proxy(persist_pebble, challtestsrv, 1)
    yield p
    p.stop()


def set_txt(challtestsrv, host, value):
    req = urllib.request.Request("http://127.0.0.1:%d/set-txt" % challtestsrv.mgmt_port,
                                 method="POST",
                                 data=json.dumps({"host": host + ".", "value": value}).encode())
    urllib.request.urlopen(req, timeout=10).read()


def persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name, vhosts=None):
    """An httpd whose only challenge type is dns-persist-01, with a DNS hook
    that logs every call (there must be none)."""
    httpd = httpd_factory(pebble=persist_pebble)
    log = os.path.join(httpd.serverroot, "hook.log")
    open(log, "w").close()
    os.chmod(log, 0o666)
    hook = os.path.join(httpd.serverroot, "dns-hook")
    with open(hook, "w") as f:
        f.write(HOOK.format(log=log))
    os.chmod(hook, 0o755)
    httpd.write_config(vhosts=vhosts or ssl_vhost(name), acme={
        "AcmeCA": proxy.directory_url, "AcmeChallenges": "dns-persist-01",
        "AcmeDnsCmd": hook, "AcmeDnsResolver": "127.0.0.1:%d" % challtestsrv.dns_port})
    return httpd, log


def activity_of(httpd, domain):
    return httpd.domain_status(domain).get("activity") or ""


def shown_record(httpd, domain, fqdn, timeout=60):
    """The value of the record the status page asks for at _validation-persist.fqdn."""
    def shown():
        m = re.search(r'_validation-persist\.%s\. IN TXT "([^"]+)"' % re.escape(fqdn),
                      activity_of(httpd, domain))
        return m and m.group(1)
    return wait_for(shown, timeout, what="the dns-persist-01 record of %s on the status page"
                    % fqdn)


def orders_for(proxy, fqdn):
    """New orders the CA got that name fqdn or *.fqdn."""
    return [o for o in proxy.new_order_payloads() if isinstance(o, dict) and any(
        i.get("value") in (fqdn, "*." + fqdn) for i in o.get("identifiers", []))]


def orders_to_validate(httpd, fqdn):
    """How many orders of fqdn the CA created pending (ACME00417), not ready.
    A CA may hand back an order whose authorizations it reuses (Let's Encrypt
    does for 30 days); Pebble does so about once in 100 orders even with
    PEBBLE_AUTHZREUSE=0, as makeAuthorizations in its wfe/wfe.go reuses unless
    rand.Intn(100) > the percentage."""
    return len(re.findall(r"ACME00417: %s: order \S+ created \(pending\)" % re.escape(fqdn),
                          httpd.error_log_text()))


def account_of(proxy):
    kids = list(proxy.account_jwks)
    assert len(kids) == 1, kids
    return kids[0]


def no_order_while_waiting(httpd, proxy, fqdn):
    """At least two looks at DNS (5 s apart) and still no order at the CA."""
    wait_for(lambda: httpd.error_log_text().count("ACME01455") >= 1, 30,
             what="ACME01455 in the log")
    time.sleep(7)
    assert orders_for(proxy, fqdn) == [], orders_for(proxy, fqdn)


def test_record_set_once_validates_issuance_and_renewals(httpd_factory, persist_pebble, proxy,
                                                         challtestsrv, unique):
    name = unique("persist")
    record = "_validation-persist." + name
    httpd, hook_log = persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name)
    httpd.start()

    # missing record: the record to set is shown (status page, acmectl, log), no order
    value = shown_record(httpd, name, name)
    kid = account_of(proxy)
    hashed = proxy.persist_accounturis(kid, name)[0]
    assert value == "%s; accounturi=%s" % (ISSUER, hashed), value
    assert hashed.startswith(proxy.origin + "/account-hash/sha-256/"), hashed
    out = httpd.acmectl("--store", httpd.store, "show", name)
    assert record in out.stdout and value in out.stdout, out.stdout + out.stderr
    no_order_while_waiting(httpd, proxy, name)
    assert value in httpd.error_log_text()
    assert "no order until the dns-persist-01 record is in place" in activity_of(httpd, name)
    # the 503 says what the site waits for, not "being obtained"; not the
    # record, whose value names the account's URL at the CA
    status, _, body = httpd.https_request(name, "/")
    text = body.decode()
    assert status == 503, (status, text)
    assert "waits for a DNS TXT record (dns-persist-01)" in text, text
    assert value not in text and "accounturi" not in text and "://" not in text, text
    assert "being obtained" not in text and httpd.store not in text, text

    # the record added: issued without a restart
    set_txt(challtestsrv, record, value)
    first = httpd.wait_for_pebble_cert(name, 90)
    serials = [first.serial_number]
    assert len(orders_for(proxy, name)) >= 1

    def renewed():
        # distinct certificates: a child not yet replaced by a graceful restart
        # may still serve the previous one
        served = httpd.verified_cert(name).serial_number
        if served not in serials:
            serials.append(served)
        return len(serials) >= 3
    wait_for(renewed, 4 * LIFETIME, interval=0.5, what="two renewals of %s" % name)

    # every order with an authorization to validate was validated by the record;
    # an order born ready (a reused authorization) needs no validation
    results = proxy.persist_validations()
    pending = orders_to_validate(httpd, name)
    assert pending >= 1, "no order of %s needed a validation" % name
    assert len([r for r in results if r[0] == name and r[1]]) >= pending, (pending, results)
    assert not [r for r in results if not r[1]], results
    with open(hook_log) as f:
        calls = f.read()
    assert calls == "", "the DNS hook ran: %s" % calls
    assert "ACME01450" in httpd.error_log_text()


def test_record_with_another_account_is_a_clear_error(httpd_factory, persist_pebble, proxy,
                                                      challtestsrv, unique):
    name = unique("persistwrong")
    record = "_validation-persist." + name
    wrong = proxy.persist_hash_prefix() + "sha-256/" + "A" * 43
    set_txt(challtestsrv, record, "%s; accounturi=%s" % (ISSUER, wrong))
    httpd, hook_log = persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name)
    httpd.start()

    def said():
        text = activity_of(httpd, name)
        return "change it to" in text and text
    text = wait_for(said, 60, what="what to change on the status page")
    assert wrong in text and record in text and "another account" in text, text
    kid = account_of(proxy)
    right = "%s; accounturi=%s" % (ISSUER, proxy.persist_accounturis(kid, name)[0])
    assert 'change it to: %s. IN TXT "%s"' % (record, right) in text, text
    line = [l for l in httpd.error_log_text().splitlines() if "ACME01455" in l]
    assert line and ":error]" in line[0] and wrong in line[0] and right in line[0], line
    no_order_while_waiting(httpd, proxy, name)

    # the right record beside the wrong one: issued at the next look
    set_txt(challtestsrv, record, right)
    httpd.wait_for_pebble_cert(name, 90)
    with open(hook_log) as f:
        assert f.read() == ""


def test_draft_01_ca_gets_the_account_url(httpd_factory, persist_pebble, proxy01,
                                          challtestsrv, unique):
    """A CA of draft -01 advertises no issuer domain names: the first order
    learns them from the challenge, and the record names the account URL."""
    name = unique("persist01")
    httpd, _ = persist_server(httpd_factory, persist_pebble, proxy01, challtestsrv, name)
    httpd.start()
    value = shown_record(httpd, name, name)
    kid = account_of(proxy01)
    assert value == "%s; accounturi=%s" % (ISSUER, kid), value
    set_txt(challtestsrv, "_validation-persist." + name, value)
    httpd.wait_for_pebble_cert(name, 90)
    assert [r for r in proxy01.persist_validations() if r[0] == name and r[1]]


def test_draft_01_issuer_names_survive_a_restart(httpd_factory, persist_pebble, proxy01,
                                                 challtestsrv, unique):
    """The issuer domain names a draft -01 CA named in a challenge are kept
    in the store: after a restart, a new name's record is checked (and shown)
    before any order, as with a draft -02 CA's directory."""
    first, later = unique("persist01a"), unique("persist01b")
    httpd, hook_log = persist_server(httpd_factory, persist_pebble, proxy01, challtestsrv, first)
    httpd.start()
    value = shown_record(httpd, first, first)
    set_txt(challtestsrv, "_validation-persist." + first, value)
    httpd.wait_for_pebble_cert(first, 90)
    kept = [os.path.join(d, "dns-persist.json")
            for d in glob.glob(os.path.join(httpd.store, "accounts", "*"))]
    kept = [k for k in kept if os.path.exists(k)]
    assert len(kept) == 1, kept
    with open(kept[0]) as f:
        assert json.load(f) == {"ca": proxy01.directory_url, "issuer_domain_names": [ISSUER]}

    httpd.stop()
    with open(httpd.conf_path, "a") as f:
        f.write(ssl_vhost(later).format(https_port=httpd.https_port, docroot=httpd.docroot))
    httpd.conf_text = open(httpd.conf_path).read()
    httpd.start()
    # no order for the new name until its record is in place: the record was
    # checked before ordering, with the issuer names kept from before
    assert shown_record(httpd, later, later) == "%s; accounturi=%s" % (ISSUER, account_of(proxy01))
    no_order_while_waiting(httpd, proxy01, later)
    assert "no order until the dns-persist-01 record is in place" in activity_of(httpd, later)
    set_txt(challtestsrv, "_validation-persist." + later, value)
    httpd.wait_for_pebble_cert(later, 90)
    with open(hook_log) as f:
        assert f.read() == ""


def test_wildcard_needs_policy_wildcard(httpd_factory, persist_pebble, proxy, challtestsrv,
                                        unique):
    base = unique("persistwild")
    wild = "*." + base
    record = "_validation-persist." + base
    vhost = ssl_vhost("www." + base, [wild], acme_domain="AcmeDomain " + wild)
    httpd, _ = persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, base,
                              vhosts=vhost)
    httpd.start()
    value = shown_record(httpd, wild, base)
    assert value.endswith("; policy=wildcard"), value
    # the page for people shows the whole record too
    status, _, body = httpd.http_request("/acme-status", headers={"Accept": "text/html"})
    page = html.unescape(body.decode(errors="replace"))
    assert status == 200 and '%s. IN TXT "%s"' % (record, value) in page, page[:2000]
    # the same record without the policy is not enough, and says why
    set_txt(challtestsrv, record, value[:-len("; policy=wildcard")])
    wait_for(lambda: "policy=wildcard', which the wildcard name needs" in activity_of(httpd, wild),
             60, what="the missing policy=wildcard on the status page")
    no_order_while_waiting(httpd, proxy, base)
    set_txt(challtestsrv, record, value)
    cert = httpd.wait_for_pebble_cert("www." + base, 90)
    assert cert_names(cert) == {wild}, cert_names(cert)


def test_name_and_its_wildcard_share_one_record(httpd_factory, persist_pebble, proxy,
                                                challtestsrv, unique):
    name = unique("persistboth")
    vhost = ssl_vhost(name, ["*." + name], acme_domain="AcmeDomain %s *.%s" % (name, name))
    httpd, _ = persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name,
                              vhosts=vhost)
    httpd.start()
    value = shown_record(httpd, name, name)
    # one record, with the policy the wildcard needs, serves both names
    assert value.endswith("; policy=wildcard"), value
    assert activity_of(httpd, name).count("IN TXT") == 1, activity_of(httpd, name)
    no_order_while_waiting(httpd, proxy, name)
    set_txt(challtestsrv, "_validation-persist." + name, value)
    cert = httpd.wait_for_pebble_cert(name, 90)
    assert cert_names(cert) == {name, "*." + name}, cert_names(cert)
    accepted = [r for r in proxy.persist_validations() if r[0] == name and r[1]]
    assert len(accepted) >= 2, proxy.persist_validations()


def test_configtest_wildcard_with_dns_persist_needs_no_hook(httpd, unique):
    name = unique("cfgpersist")
    httpd.write_config(vhosts=ssl_vhost(name, ["*." + name]),
                       acme={"AcmeChallenges": "dns-persist-01"})
    code, out = httpd.configtest()
    assert code == 0, out
    httpd.write_config(vhosts=ssl_vhost(name, ["*." + name]), acme={"AcmeChallenges": "http-01"})
    code, out = httpd.configtest()
    assert code != 0 and "or 'AcmeChallenges dns-persist-01'" in out, out


def next_look_in(httpd, name):
    """Seconds until the status page's "looking again at TIME", or None."""
    m = re.search(r"looking again at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", activity_of(httpd, name))
    if not m:
        return None
    at = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ"))
    return at - time.time()


def test_acmectl_renew_looks_for_the_record_at_once(httpd_factory, persist_pebble, proxy,
                                                    challtestsrv, unique):
    """The looks at a missing record back off to every 5 minutes; an
    administrator who has just set it and runs 'acmectl renew' gets the record
    looked up at the server's next look for markers (30 s), not at the next
    look the backoff planned."""
    name = unique("persistrenew")
    record = "_validation-persist." + name
    httpd, _ = persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name)
    httpd.start()
    value = shown_record(httpd, name, name)
    # the looks 5, 10, 20, 40 s apart, then 80: wait for the first 80 s wait
    ahead = wait_for(lambda: (next_look_in(httpd, name) or 0) > 60 and next_look_in(httpd, name),
                     180, interval=0.5, what="a look at the record planned a minute ahead")
    planned = time.monotonic() + ahead
    assert orders_for(proxy, name) == [], orders_for(proxy, name)
    set_txt(challtestsrv, record, value)
    out = httpd.acmectl("--store", httpd.store, "renew", name)
    assert out.returncode == 0, out.stdout + out.stderr
    # the marker poll (30 s) with room to spare, and well before the planned look
    wait_for(lambda: re.search(r"ACME01450: %s: .* ordering" % re.escape(name),
                               httpd.error_log_text()),
             max(planned - time.monotonic() - 10, 35), interval=0.5,
             what="the record looked up after acmectl renew, before the look planned %.0f s ahead"
             % ahead)
    httpd.wait_for_pebble_cert(name, 60)
