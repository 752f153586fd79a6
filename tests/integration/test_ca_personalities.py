"""The full cycle against each public CA's documented behaviour, imitated by
the proxy in front of Pebble (ca_personality.py names the source of every
behaviour): first issuance after a refused first order (the forced failure,
which the next attempt recovers from), renewal through `acmectl renew`,
revocation through `acmectl revoke`, confirmed by the CA. Along the way
what sets the CA apart: Let's Encrypt's ARI, badNonce answers and
asynchronous finalization; ZeroSSL's EAB on every account request and long
"processing"; Buypass without ARI or Retry-After; Google Trust Services' EAB.
step-ca, the second real ACME server, has its own module (test_stepca.py)."""
import json

import pytest
import requests

import harness
from ca_personality import PERSONALITIES, PersonalityProxy
from harness import cert_serial_hex, ssl_vhost, status_error, wait_for_new_cert

EAB_KID = "kid-personality"
EAB_KEY = harness.new_eab_key()
# The refused first order, then the retry after the backoff (about a minute,
# ±50 %, acme_policy_retry_at), then issuance.
RECOVER_TIMEOUT = 150
RENEW_TIMEOUT = 90


@pytest.fixture(scope="module")
def eab_pebble(workdir, challtestsrv):
    yield from harness.started_eab_pebble(workdir, challtestsrv.dns_port, "personality-eab",
                                          EAB_KID, EAB_KEY)


def acmectl(httpd, *args):
    p = httpd.acmectl("--store", httpd.store, *args, timeout=60)
    assert p.returncode == 0, "acmectl %s exited %d\nstdout: %s\nstderr: %s" % (
        " ".join(args), p.returncode, p.stdout, p.stderr)
    return p.stdout


def cert_status(pebble, cert):
    r = requests.get("https://127.0.0.1:%d/cert-status-by-serial/%s"
                     % (pebble.mgmt_port, cert_serial_hex(cert)),
                     verify=pebble.ca.ca_pem, timeout=5)
    r.raise_for_status()
    return r.json()


@pytest.mark.parametrize("personality", sorted(PERSONALITIES))
def test_full_cycle(httpd_factory, pebble, eab_pebble, unique, personality):
    settings = PERSONALITIES[personality]
    ca = eab_pebble if settings.get("eab") else pebble
    proxy = PersonalityProxy(ca, personality).start()
    try:
        name = unique(personality)
        httpd = httpd_factory(pebble=ca)
        acme = {"AcmeCA": proxy.directory_url, "AcmeContact": "admin@" + name}
        if settings.get("eab"):
            acme["AcmeEAB"] = "%s %s" % (EAB_KID, EAB_KEY)
        httpd.write_config(vhosts=ssl_vhost(name), acme=acme)
        code, out = httpd.configtest()
        assert code == 0, out
        httpd.start()

        # the forced failure: the first order refused with the CA's problem
        status, short_type, detail, _retry = settings["fail_first_order"]
        error = status_error(httpd, name)
        assert error.get("type", "").endswith(":" + short_type), error
        assert detail in json.dumps(error), error
        # recovered at the next attempt
        first = httpd.wait_for_pebble_cert(name, RECOVER_TIMEOUT)
        assert proxy.refused_orders == 1 and len(proxy.new_orders()) >= 2, proxy.new_orders()
        assert not httpd.domain_status(name).get("error"), httpd.domain_status(name)

        accounts = [r.payload for r in proxy.recorded("POST", r"^/sign-me-up$") if r.payload]
        bound = [p for p in accounts if "externalAccountBinding" in p]
        assert len(bound) == (1 if settings.get("eab") else 0), accounts
        if settings.get("eab_on_lookup"):
            assert any(r.status == 400 for r in proxy.recorded("POST", r"^/sign-me-up$")), \
                "the lookup without EAB was not refused"
        if settings.get("bad_nonce_every"):
            assert proxy.bad_nonces >= 1, proxy.posts
        if settings.get("processing_polls"):
            assert max(proxy.processing_shown.values()) == settings["processing_polls"], \
                proxy.processing_shown
        if not settings.get("ari_enabled"):
            # no renewalInfo in the directory: no ARI URL made up
            assert not proxy.renewal_info_requests(), proxy.renewal_info_requests()

        # renewal, asked for with acmectl
        out = acmectl(httpd, "renew", name)
        assert "renewal of %s requested" % name in out, out
        second = wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
        assert cert_status(ca, first)["Status"] == "Valid"

        # revocation through acmectl, confirmed by the CA
        out = acmectl(httpd, "revoke", name, "--reason", "keyCompromise")
        assert cert_serial_hex(second) in out.replace(":", "").lower(), out
        revoked = cert_status(ca, second)
        assert revoked["Status"] == "Revoked" and revoked.get("Reason") == 1, revoked
    finally:
        proxy.stop()
