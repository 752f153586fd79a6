"""CA personalities: the test proxy in front of Pebble (ari_proxy.AcmeProxy)
answering the way one public CA documents it behaves, where that differs
from Pebble. Each behaviour names its public source; a personality adds
nothing else.

Behaviours this module adds to the proxy's (see ari_proxy's doc string for
those, e.g. eab_on_lookup, profiles, ari_enabled):
- bad_nonce_every = N: every Nth signed POST is answered 400 badNonce with a
  fresh Replay-Nonce (RFC 8555 §6.5: the client retries with it).
- processing_polls = N: an order that Pebble has already made valid is shown
  "processing" (no "certificate") with Retry-After: 1 for the first N looks
  after finalization (RFC 8555 §7.4).
- fail_first_order = (status, type, detail, retry_after or None): the first
  new order is refused with that problem, once; the next attempt gets through.

Two behaviours Pebble 2.4 has itself, set on the personality's own Pebble
(test_ca_personalities.py), not in the proxy:
- alternate_roots = N: N more chains, each to its own root, offered with
  Link rel="alternate" (PEBBLE_ALTERNATE_ROOTS);
- validity_days = N: certificates valid N days (certificateValidityPeriod).

VARIANTS are not CAs but what RFC 8555 allows and Pebble never does:
- media_type_params: every Content-Type carries a parameter ("; charset=utf-8",
  RFC 9110 §8.3.1: the media type is what comes before it);
- crlf_pem: the certificate chain with CRLF line ends (RFC 7468 §2 allows
  CRLF, CR or LF);
- finalize_no_location: the finalize response without a Location header (RFC
  8555 §7.4 requires none: the order URL is already known).
- lookup_404: the account lookup (onlyReturnExisting) for a key the CA does
  not know answered with a plain 404 "Not Found" instead of RFC 8555
  §7.3.1's 400 accountDoesNotExist problem.
"""
import json
import threading

from ari_proxy import AcmeProxy

# name -> settings; each entry cites where the CA documents the behaviour.
PERSONALITIES = {
    # Let's Encrypt (Boulder).
    "letsencrypt": {
        # ARI: https://letsencrypt.org/2024/04/25/guide-to-integrating-ari-into-existing-acme-clients/
        "ari_enabled": True,
        # Alternate chains (RFC 8555 §7.4.2, Link rel="alternate" on the
        # certificate): production served the chain to DST Root CA X3 by
        # default and one to ISRG Root X1 as the alternate, staging "Fake LE
        # Root X1" and "Fake LE Root X2"; clients choose by the top issuer's
        # name (certbot --preferred-chain). Source: community.letsencrypt.org
        # /t/workflow-for-using-alternate-link-relation/129321. Pebble has
        # this itself (PEBBLE_ALTERNATE_ROOTS, which that thread names), so
        # the personality runs its own Pebble with one alternate root.
        "alternate_roots": 1,
        # Profiles: https://letsencrypt.org/docs/profiles/ (classic, tlsserver, shortlived)
        "profiles": {"classic": "The same profile you're accustomed to",
                     "tlsserver": "https://letsencrypt.org/docs/profiles#tlsserver",
                     "shortlived": "https://letsencrypt.org/docs/profiles#shortlived"},
        # Nonces are redeemable only at the datacenter that issued them, so
        # badNonce happens in normal operation; Pebble rejects 5% of nonces by
        # default to imitate it (letsencrypt/pebble README, "Invalid
        # Anti-Replay Nonce Errors").
        "bad_nonce_every": 4,
        # Boulder's asynchronous finalization answers finalize with
        # "processing" while the client polls the order (letsencrypt/boulder
        # issue #6575, pull request #6589: the AsyncFinalize feature).
        "processing_polls": 1,
        # Rate limits are rateLimited problems (HTTP 429) with Retry-After:
        # https://letsencrypt.org/docs/rate-limits/ ("Retrying After Hitting
        # Rate Limits").
        "fail_first_order": (429, "rateLimited", "too many new orders (300) in the last 3h0m0s, "
                                                 "retry after 2026-11-30 12:00:00 UTC", 2),
    },
    # ZeroSSL (Sectigo).
    "zerossl": {
        # EAB on every account: https://zerossl.com/documentation/acme/
        "eab": True,
        # A lookup without EAB is refused ("ZeroSSL and Sectigo do not allow
        # repetitive newAccount EAB requests", publishlab/node-acme-client #42).
        "eab_on_lookup": True,
        # ARI: acme.sh's ARI page (github.com/acmesh-official/acme.sh/wiki/ARI,
        # May 2026) lists ZeroSSL among the CAs whose directory has
        # "renewalInfo"; no profiles in its directory.
        "ari_enabled": True,
        # Orders stay "processing" for several polls after finalize
        # (acmesh-official/acme.sh issues #3584, #5233, #6103).
        "processing_polls": 4,
        # Its API fails now and then (acmesh-official/acme.sh issue #4645:
        # "Could not get nonce, let's try again" from acme.zerossl.com).
        "fail_first_order": (500, "serverInternal", "internal server error", None),
    },
    # Buypass Go SSL.
    "buypass": {
        # No EAB, a contact email (certbot register -m ... in
        # https://www.buypass.com/products/tls-ssl-certificates/resources-tls-ssl-certificates/products/buypass-go-ssl-technical-information),
        # no profiles.
        # No ARI: Buypass documents none; one user says it has it
        # (icing/mod_md issue #384), unconfirmed, and Go SSL is being
        # discontinued (acmesh-official/acme.sh issue #6302). Kept without,
        # as the personality of a CA without ARI (step-ca, test_stepca.py, is
        # the real one).
        "ari_enabled": False,
        # 180-day certificates (froxlor/froxlor pull request #968: "They
        # provide certificates with a validity of 180 days via ACME";
        # win-acme/win-acme issue #978). Pebble 2.4 has the setting
        # (certificateValidityPeriod); the personality runs its own Pebble.
        "validity_days": 180,
        # Go SSL limits certificates per registered domain; its refusal is
        # imitated as a rateLimited problem without Retry-After, which RFC
        # 8555 §6.6 allows (the client falls back to its own backoff).
        "fail_first_order": (429, "rateLimited", "Too many certificates issued for the domain",
                             None),
    },
    # Google Trust Services.
    "gts": {
        # EAB keys from `gcloud publicca external-account-keys create`
        # (https://cloud.google.com/certificate-manager/docs/public-ca-tutorial).
        "eab": True,
        # ARI: RFC 9773's draft-08 "Current Implementations" (Google Trust
        # Services deployed it as Boulder did), and Google's best practices
        # (https://pki.goog/updates/september2025-acme-best-practices.html:
        # "Use ACME Renewal Information (ARI)").
        "ari_enabled": True,
        # Public CA quotas per project on new orders
        # (https://cloud.google.com/certificate-manager/docs/quotas); a refusal
        # imitated as RFC 8555 §6.6 describes it: rateLimited with Retry-After.
        "fail_first_order": (429, "rateLimited", "Quota exceeded for new orders", 1),
    },
}


VARIANTS = {
    "rfc8555": {"media_type_params": True, "crlf_pem": True, "finalize_no_location": True},
    "lookup-404": {"lookup_404": True},
}


class PersonalityProxy(AcmeProxy):
    def __init__(self, pebble, personality):
        super().__init__(pebble)
        self.personality = personality
        settings = PERSONALITIES.get(personality) or VARIANTS[personality]
        self.media_type_params = settings.get("media_type_params", False)
        self.crlf_pem = settings.get("crlf_pem", False)
        self.finalize_no_location = settings.get("finalize_no_location", False)
        self.lookup_404 = settings.get("lookup_404", False)
        self.ari_enabled = settings.get("ari_enabled", False)
        self.profiles = settings.get("profiles")
        self.eab_on_lookup = settings.get("eab_on_lookup", False)
        self.bad_nonce_every = settings.get("bad_nonce_every")
        self.processing_polls = settings.get("processing_polls", 0)
        self.fail_first_order = settings.get("fail_first_order")
        self.posts = 0
        self.bad_nonces = 0
        self.refused_orders = 0
        self.processing_shown = {}       # order path -> times shown "processing"
        self._plock = threading.Lock()

    def _own_answer(self, method, path, payload):
        if method == "POST" and path == "/sign-me-up" and self.lookup_404 \
                and isinstance(payload, dict) and payload.get("onlyReturnExisting"):
            return 404, [("Content-Type", "text/plain"),
                         ("Replay-Nonce", self._fresh_nonce())], b"Not Found\n"
        if method == "POST" and isinstance(payload, (dict, str)):
            with self._plock:
                self.posts += 1
                bad_nonce = self.bad_nonce_every and self.posts % self.bad_nonce_every == 0
                refuse = path == "/order-plz" and self.fail_first_order \
                    and self.refused_orders == 0
                if bad_nonce:
                    self.bad_nonces += 1
                elif refuse:
                    self.refused_orders += 1
            if bad_nonce:
                return self._problem(400, "badNonce", "JWS has an invalid anti-replay nonce")
            if refuse:
                status, short_type, detail, retry_after = self.fail_first_order
                status, headers, body = self._problem(status, short_type, detail)
                if retry_after is not None:
                    headers = headers + [("Retry-After", str(retry_after))]
                return status, headers, body
        return super()._own_answer(method, path, payload)

    def _problem(self, http_status, short_type, detail):
        status, headers, body = super()._problem(http_status, short_type, detail)
        return status, self._typed(headers), body

    def _typed(self, headers):
        if not self.media_type_params:
            return headers
        return [(k, v + "; charset=utf-8" if k.lower() == "content-type" else v)
                for k, v in headers]

    def _rewrite(self, path, status, out, headers):
        out, headers = super()._rewrite(path, status, out, headers)
        headers = self._typed(headers)
        if self.crlf_pem and path.startswith("/certZ/") and status == 200:
            out = out.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self.finalize_no_location and path.startswith("/finalize-order/"):
            headers = [(k, v) for k, v in headers if k.lower() != "location"]
        if not self.processing_polls or status != 200 or not out:
            return out, headers
        if path.startswith("/finalize-order/"):
            key = "/my-order/" + path[len("/finalize-order/"):]
        elif path.startswith("/my-order/"):
            key = path
        else:
            return out, headers
        doc = json.loads(out)
        if doc.get("status") != "valid":
            return out, headers
        with self._plock:
            shown = self.processing_shown.get(key, 0)
            if shown >= self.processing_polls:
                return out, headers
            self.processing_shown[key] = shown + 1
        doc["status"] = "processing"
        doc.pop("certificate", None)
        headers = [(k, v) for k, v in headers if k.lower() != "retry-after"] + \
            [("Retry-After", "1")]
        return json.dumps(doc, indent=2).encode(), headers
