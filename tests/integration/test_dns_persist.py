"""dns-persist-01 (draft-ietf-acme-dns-persist-01): one TXT record at
_validation-persist.NAME, set once, validates the first issuance and every
renewal; the DNS hook is never run. Pebble 2.4 has no dns-persist-01: the
test proxy (ari_proxy.AcmeProxy.dns_persist) is the CA for it, reading the
records at pebble-challtestsrv's DNS as the draft says."""
import json
import os
import re
import urllib.request

import pytest

import harness
from ari_proxy import AcmeProxy
from harness import ssl_vhost, wait_for

ISSUER = "pebble.acme.test"
LIFETIME = 30          # seconds: renewals come every ~15 s (default window: 50% when < 10 days)

HOOK = """#!/bin/sh
echo "$@" >> {log}
exit 0
"""


@pytest.fixture(scope="module")
def persist_pebble(workdir, challtestsrv):
    """Short-lived certificates, and no reused authorizations: every renewal
    is validated again."""
    try:
        pb = harness.private_pebble(workdir, challtestsrv.dns_port, "persist",
                                    env={"PEBBLE_AUTHZREUSE": "0"},
                                    extra_config={"certificateValidityPeriod": LIFETIME})
    except harness.HarnessError as exc:
        pytest.fail(str(exc))
    yield pb
    pb.stop()


@pytest.fixture
def proxy(persist_pebble, challtestsrv):
    p = AcmeProxy(persist_pebble)
    p.ari_enabled = False
    p.dns_persist = {"issuer": ISSUER, "dns_port": challtestsrv.dns_port,
                     "mgmt_port": challtestsrv.mgmt_port}
    p.start()
    yield p
    p.stop()


def set_txt(challtestsrv, host, value):
    req = urllib.request.Request("http://127.0.0.1:%d/set-txt" % challtestsrv.mgmt_port,
                                 method="POST",
                                 data=json.dumps({"host": host + ".", "value": value}).encode())
    urllib.request.urlopen(req, timeout=10).read()


def persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name):
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
    httpd.write_config(vhosts=ssl_vhost(name), acme={
        "AcmeCA": proxy.directory_url, "AcmeChallenges": "dns-persist-01",
        "AcmeDnsCmd": hook, "AcmeDnsResolver": "127.0.0.1:%d" % challtestsrv.dns_port})
    return httpd, log


def test_record_set_once_validates_issuance_and_renewals(httpd_factory, persist_pebble, proxy,
                                                         challtestsrv, unique):
    name = unique("persist")
    record = "_validation-persist." + name
    httpd, hook_log = persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name)
    httpd.start()

    # the record to set is shown: status page, acmectl, log
    def shown():
        activity = httpd.domain_status(name).get("activity") or ""
        m = re.search(r'%s\. IN TXT "([^"]+)"' % re.escape(record), activity)
        return m and m.group(1)
    value = wait_for(shown, 60, what="the dns-persist-01 record on the status page")
    issuer, accounturi = value.split("; accounturi=")
    assert issuer == ISSUER, value
    assert accounturi.startswith(proxy.origin + "/my-account/"), value
    out = httpd.acmectl("--store", httpd.store, "show", name)
    assert record in out.stdout and value in out.stdout, out.stdout + out.stderr
    assert "ACME01452" in httpd.error_log_text() and value in httpd.error_log_text()

    set_txt(challtestsrv, record, value)
    first = httpd.wait_for_pebble_cert(name, 60)
    serials = [first.serial_number]

    def renewed():
        served = httpd.verified_cert(name).serial_number
        if served != serials[-1]:
            serials.append(served)
        return len(serials) >= 3
    wait_for(renewed, 4 * LIFETIME, interval=0.5, what="two renewals of %s" % name)

    results = proxy.persist_validations()
    assert len([r for r in results if r[0] == name and r[1]]) >= 3, results
    assert not [r for r in results if not r[1]], results
    with open(hook_log) as f:
        calls = f.read()
    assert calls == "", "the DNS hook ran: %s" % calls
    assert "ACME01450" in httpd.error_log_text()


def test_record_with_another_account_is_a_clear_error(httpd_factory, persist_pebble, proxy,
                                                      challtestsrv, unique):
    name = unique("persistwrong")
    record = "_validation-persist." + name
    wrong = proxy.origin + "/my-account/someone-else"
    set_txt(challtestsrv, record, "%s; accounturi=%s" % (ISSUER, wrong))
    httpd, hook_log = persist_server(httpd_factory, persist_pebble, proxy, challtestsrv, name)
    httpd.start()

    def error():
        d = httpd.domain_status(name)
        err = d.get("error") or d.get("last_error") or {}
        text = err.get("detail") if isinstance(err, dict) else err
        return text and "dns-persist-01" in text and text
    text = wait_for(error, 60, what="the dns-persist-01 error on the status page")
    assert wrong in text and record in text and "change it to" in text, text
    # the status file never holds this server's account URL; the log has the record to set
    line = [l for l in httpd.error_log_text().splitlines() if "ACME01451" in l]
    assert line and wrong in line[0], line
    assert re.search(r'change it to: %s\. IN TXT "%s; accounturi=%s/my-account/\w+"'
                     % (re.escape(record), re.escape(ISSUER), re.escape(proxy.origin)),
                     line[0]), line[0]
    with open(hook_log) as f:
        assert f.read() == ""
