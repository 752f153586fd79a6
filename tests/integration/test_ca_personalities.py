"""The full cycle against each public CA's documented behaviour, imitated by
the proxy in front of Pebble (ca_personality.py names the source of every
behaviour): first issuance after a refused first order (the forced failure,
which the next attempt recovers from), renewal through `acmectl renew`,
revocation through `acmectl revoke`, confirmed by the CA. Along the way
what sets the CA apart: Let's Encrypt's ARI, badNonce answers and
asynchronous finalization; ZeroSSL's EAB on every account request and long
"processing"; Buypass without ARI or Retry-After; Google Trust Services' EAB.
step-ca, the second real ACME server, has its own module (test_stepca.py).
Where the CA serves ARI (Let's Encrypt, ZeroSSL, Google Trust Services)
the renewal time comes from its suggested window and the renewal order
says which certificate it replaces; where it does not (Buypass), the
renewal window is 33 % of the certificate's real lifetime (180 days
there) and no renewalInfo URL is made up.
Let's Encrypt's alternate chain is served where AcmePreferredChain names
its top issuer."""
import datetime
import json

import pytest

import harness
from ca_personality import PERSONALITIES, PersonalityProxy
from ari_proxy import ari_cert_id
from harness import (cert_serial_hex, ssl_vhost, status_error, utcnow, wait_for,
                     wait_for_new_cert)

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


@pytest.fixture(scope="module")
def alt_pebble(workdir, challtestsrv):
    yield from harness.started_private_pebble(workdir, challtestsrv.dns_port, "personality-alt",
                                              make=harness.alt_roots_pebble, alternates=1)


@pytest.fixture(scope="module")
def long_pebble(workdir, challtestsrv):
    """Pebble issuing 180-day certificates, as Buypass does."""
    yield from harness.started_private_pebble(
        workdir, challtestsrv.dns_port, "personality-180d",
        extra_config={"certificateValidityPeriod": 180 * 86400})


def ca_for(request, settings):
    """The Pebble a personality runs on: one asking for EAB, one with an
    alternate chain, one issuing 180-day certificates, or the shared one."""
    wanted = [f for k, f in (("eab", "eab_pebble"), ("alternate_roots", "alt_pebble"),
                             ("validity_days", "long_pebble")) if settings.get(k)]
    assert len(wanted) <= 1, wanted
    return request.getfixturevalue(wanted[0] if wanted else "pebble")


# ARI CAs: a window far away, so nothing renews on its own during the test
ARI_START = datetime.timedelta(days=20)
ARI_END = datetime.timedelta(days=21)


def acmectl(httpd, *args):
    p = httpd.acmectl("--store", httpd.store, *args, timeout=60)
    assert p.returncode == 0, "acmectl %s exited %d\nstdout: %s\nstderr: %s" % (
        " ".join(args), p.returncode, p.stdout, p.stderr)
    return p.stdout


@pytest.mark.parametrize("personality", sorted(PERSONALITIES))
def test_full_cycle(request, httpd_factory, unique, personality):
    settings = PERSONALITIES[personality]
    ca = ca_for(request, settings)
    proxy = PersonalityProxy(ca, personality).start()
    if settings.get("ari_enabled"):
        proxy.set_window(utcnow() + ARI_START, utcnow() + ARI_END)
    try:
        name = unique(personality)
        httpd = httpd_factory(pebble=ca)
        acme = {"AcmeCA": proxy.directory_url, "AcmeContact": "admin@" + name}
        if settings.get("eab"):
            acme["AcmeEAB"] = "%s %s" % (EAB_KID, EAB_KEY)
        extra = ""
        if settings.get("alternate_roots"):
            extra = 'AcmePreferredChain "%s"' % ca.root_cns[1]
        httpd.write_config(vhosts=ssl_vhost(name, extra=extra), acme=acme)
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
        lifetime = first.not_valid_after - first.not_valid_before
        if settings.get("validity_days"):
            assert abs(lifetime - datetime.timedelta(days=settings["validity_days"])) \
                < datetime.timedelta(minutes=1), lifetime
        if settings.get("ari_enabled"):
            # the renewal time is chosen inside the CA's suggested window
            cid = ari_cert_id(first)
            wait_for(lambda: proxy.renewal_info_requests(cid), 20,
                     what="a renewalInfo request for %s" % cid)
            ari = wait_for(lambda: (httpd.domain_status(name).get("ari") or {}).get("chosen"),
                           20, what="the chosen renewal time on the status page")
            chosen = harness.parse_time(ari)
            assert utcnow() + ARI_START - datetime.timedelta(minutes=5) <= chosen \
                <= utcnow() + ARI_END, (chosen, httpd.domain_status(name))
        else:
            # no renewalInfo in the directory: no ARI URL made up, and the
            # renewal is due when 33 % of the real lifetime is left
            # (AcmeRenewWindow's default, ACME_DEFAULT_RENEW_PERCENT), moved
            # earlier by the certificate's place in the spread (at most a
            # tenth of that window, by its serial number)
            assert not proxy.renewal_info_requests(), proxy.renewal_info_requests()
            assert not httpd.domain_status(name).get("ari"), httpd.domain_status(name)
            renew_at = harness.parse_time(wait_for(
                lambda: httpd.domain_status(name).get("renew_at"), 20,
                what="the renewal time on the status page"))
            want = first.not_valid_after.replace(tzinfo=datetime.timezone.utc) - lifetime * 33 / 100
            spread = lifetime * 33 / 100 / 10
            assert want - spread - datetime.timedelta(hours=1) < renew_at \
                < want + datetime.timedelta(hours=1), \
                (renew_at, want, lifetime, httpd.domain_status(name))
        if settings.get("alternate_roots"):
            chain = harness.served_chain(httpd, name)
            assert harness.top_issuer_cn(chain) == ca.root_cns[1], \
                [harness.cert_summary(c) for c in chain]

        # renewal, asked for with acmectl
        out = acmectl(httpd, "renew", name)
        assert "renewal of %s requested" % name in out, out
        second = wait_for_new_cert(httpd, name, first.serial_number, RENEW_TIMEOUT)
        renewal = proxy.new_order_payloads()[-1]
        if settings.get("ari_enabled"):      # RFC 9773 §5
            assert renewal.get("replaces") == ari_cert_id(first), renewal
        else:
            assert "replaces" not in renewal, renewal
        if settings.get("alternate_roots"):  # the renewal keeps the chosen chain
            assert harness.top_issuer_cn(harness.served_chain(httpd, name)) == ca.root_cns[1]
        assert ca.cert_status(first)["Status"] == "Valid"

        # revocation through acmectl, confirmed by the CA
        out = acmectl(httpd, "revoke", name, "--reason", "keyCompromise")
        assert cert_serial_hex(second) in out.replace(":", "").lower(), out
        revoked = ca.cert_status(second)
        assert revoked["Status"] == "Revoked" and revoked.get("Reason") == 1, revoked
    finally:
        proxy.stop()
