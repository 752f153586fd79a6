#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/)
from the exchanges recorded with Pebble (tests/unit/fixtures/*.jsonl), the
certificates and keys found there, and a few records of each kind the store
writes. Files are named by the SHA-1 of their content, so running it again
adds nothing twice; regression inputs (crash-*) kept beside them stay."""
import base64
import glob
import hashlib
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "unit", "fixtures")
CORPUS = os.path.join(HERE, "corpus")


def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def response_text(resp):
    head = "%d\n" % resp["status"]
    for name, value in resp["headers"]:
        head += "%s: %s\r\n" % (name, value)
    return head + "\r\n" + (resp["body"] or "")


PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", re.S)


def exchanges():
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.jsonl"))):
        with open(path) as f:
            yield os.path.basename(path), [json.loads(line) for line in f if line.strip()]


def from_fixtures():
    for name, conversation in exchanges():
        seed("client", "\n%%\n".join(response_text(x["response"]) for x in conversation))
        for x in conversation:
            req, resp = x["request"], x["response"]
            url, body = req["url"], resp["body"] or ""
            seed("headers", response_text(resp))
            for hname, value in resp["headers"]:
                if hname.lower() == "retry-after":
                    seed("retry_after", value)
            if req.get("body"):
                seed("jws", "\x00" + req["body"])
                doc = json.loads(req["body"])
                if "protected" in doc:
                    seed("b64url", doc["protected"])
                    seed("b64url", doc["signature"])
            if resp["status"] >= 400:
                seed("problem", body)
                continue
            if url.endswith("/dir"):
                seed("directory", body)
            elif "/authZ/" in url:
                seed("authz", body)
            elif "/my-order/" in url or "/finalize-order/" in url or url.endswith("/order-plz"):
                seed("order", body)
            elif "/renewal-info/" in url:
                seed("ari", body)
            elif "/certZ/" in url:
                seed("pem_chain", body)
                for b64 in PEM_RE.findall(body):
                    seed("der_cert", base64.b64decode(b64))
    for path in glob.glob(os.path.join(FIXTURES, "*.pem")):
        with open(path) as f:
            text = f.read()
        if "PRIVATE KEY" in text:
            seed("key_pem", text)
        else:
            seed("pem_chain", text)
            seed("conf", b"\x17" + text.encode())   # AcmeCACertificateFile's content
            for b64 in PEM_RE.findall(text):
                seed("der_cert", base64.b64decode(b64))


def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def dns_message(rrs):
    """A response to TXT? _acme-challenge.example.org with the given answers."""
    q = dns_name("_acme-challenge.example.org") + struct.pack(">HH", 16, 1)
    msg = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, len(rrs), 0, 0) + q
    for owner, rtype, rdata in rrs:
        msg += dns_name(owner) + struct.pack(">HHIH", rtype, 1, 60, len(rdata)) + rdata
    return msg


def txt(*strings):
    return b"".join(bytes([len(s)]) + s.encode() for s in strings)


def from_hand():
    token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
    for prefix in (b"\x00", b"\x01"):
        seed("dns", prefix + dns_message([("_acme-challenge.example.org", 16, txt(token))]))
        seed("dns", prefix + dns_message([("_acme-challenge.example.org", 16, txt("a" * 200, "b"))]))
        seed("dns", prefix + dns_message([("_acme-challenge.example.org", 5,
                                           dns_name("x.acme.example.net")),
                                          ("x.acme.example.net", 16, txt(token))]))
        seed("dns", prefix + dns_message([]))
    conf = {0: ["30d", "33%", "12h"], 1: ["letsencrypt", "https://ca.example/dir"],
            2: ["admin@example.org"], 3: ["mailto:admin@example.org"], 4: ["http:8080", "https:8443"],
            5: ["http-01\x00dns-01"], 6: ["ec-p256\x00rsa-2048"], 7: ["shortlived"],
            8: ["www.example.org", "*.example.org", "2001:db8::1"],
            9: ["kid-1\x00zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"],
            10: ["Example.ORG", "192.0.2.1"], 11: ["*.example.org\x00www.example.org"],
            12: ["example.org+rsa-2048", "2001_db8__1"], 13: ["2001:db8::1\x00rsa-2048"],
            14: ["EC-P384"], 15: ["2026-11-29T22:34:16Z", "2026-11-29T22:34:16.123+01:00"],
            16: ["127.0.0.1:5353", "ns.example.org"], 17: ["keyCompromise"],
            18: [token], 19: ["a\tb\x1b[31m\xc3\xa9"], 20: ["20", "20\x00300/3h"],
            21: ["ISRG Root X1"],
            22: ["redis://10.0.0.5:6379/2", "rediss://user:p%40ss@[2001:db8::1]:6380",
                 "redis-sentinel://s1:26379,s2:26379/mymaster/1"],
            23: ["0123456789abcdef0123456789abcdef"]}
    for sel, values in conf.items():
        for v in values:
            seed("conf", bytes([sel]) + v.encode("latin-1"))
    # The store's records, as the code writes them (fingerprint filled in by the target).
    store = {
        0: {"name": "example.test", "names": ["example.test", "www.example.test"],
            "state": "error", "step": "validate", "fingerprint": "FINGERPRINT",
            "error": {"type": "urn:ietf:params:acme:error:connection", "detail": "no answer",
                      "url": "https://acme.test/chalZ/1", "at": "2026-11-29T22:34:16Z"},
            "next_action": "2026-11-29T23:34:16Z", "attempts": 3, "requests": 7,
            "ca": {"url": "https://acme.test/dir", "index": 0, "failures": 2,
                   "since": "2026-11-29T20:00:00Z"},
            "notice": "the CA ignores AcmeProfile",
            "warning": {"expires_at": "2026-12-01T00:00:00Z", "message": "expires",
                        "notified_at": "2026-11-29T22:00:00Z"}},
        1: {"fingerprint": "FINGERPRINT", "order": "https://acme.test/my-order/1",
            "ca": "https://acme.test/dir", "started": 1795990000},
        2: {"url": "https://acme.test/my-account/1", "ca": "https://acme.test/dir"},
        3: {"names": ["example.test", "www.example.test"], "key_type": "ec-p256",
            "key": "a" * 64, "csr": "MIIBAAAA", "created": 1795990000},
        4: {"until": 1795992000, "count": 2},
        5: {"event": "failed", "name": "example.test", "detail": "no answer",
            "at": "2026-11-29T22:34:16Z"},
        6: {"ca": "https://acme.test/dir", "issued_at": "2026-11-29T22:34:16Z",
            "names": ["example.test", "www.example.test"]},
        7: {"name": "example.test", "names": ["example.test"], "key_type": "ec-p256",
            "ca_urls": ["https://acme.test/dir"], "contacts": ["mailto:a@example.test"],
            "agree_tos": True, "challenges": ["http-01"], "config_changed_at": 1795990000},
    }
    store[8] = {"servers": {"/etc/apache2/apache2.conf": {
                    "names": ["example.test", "www.example.test"], "since": "2026-11-29T22:34:16Z"},
                "other": {"names": ["example.test"], "since": "2026-11-28T22:34:16Z"}},
                "names": ["example.test", "www.example.test"], "since": "2026-11-29T22:34:16Z"}
    for sel, record in store.items():
        seed("store", bytes([sel]) + json.dumps(record).encode())
    # the one-server layout of configured.json
    seed("store", b"\x08" + json.dumps({"names": ["example.test"],
                                        "since": "2026-11-29T22:34:16Z"}).encode())
    # a sealed value's header (magic, an 8-byte key id, a 12-byte nonce) and a tag
    seed("cluster", b"mac1" + bytes(8) + bytes(12) + b"payload" + bytes(16))
    seed("headers", "200\nContent-Type: application/pem-certificate-chain\r\n"
         "Link: <https://acme.test/cert/1/1>;rel=\"alternate\", <https://acme.test/cert/1/2>; "
         "rel=alternate; title=\"a \\\"b\\\"\"\r\n"
         "Link: <https://acme.test/dir>;rel=\"index up\"\r\n\r\n-----BEGIN CERTIFICATE-----\n")
    # directory meta the recorded Pebble does not send: profiles, dns-persist-01, CAA
    seed("directory", json.dumps({
        "newNonce": "https://acme.test/nonce-plz", "newAccount": "https://acme.test/sign-me-up",
        "newOrder": "https://acme.test/order-plz", "renewalInfo": "https://acme.test/draft-ari",
        "meta": {"profiles": {"classic": "https://acme.test/p/classic", "shortlived": "6 days"},
                 "caaIdentities": ["Acme.Test.", "ca.example"],
                 "accountHashPrefix": "_validation-persist",
                 "issuerDomainNames": ["Acme.Test", "ca.example"],
                 "externalAccountRequired": True, "termsOfService": "https://acme.test/tos"}}))
    # a problem with subproblems (RFC 8555 §6.7.1), one of them without an identifier
    subs = [{"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "no %d" % i,
             "identifier": {"type": "dns", "value": "n%d.example.test" % i}} for i in range(12)]
    subs.insert(1, {"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids"})
    seed("problem", json.dumps({"type": "urn:ietf:params:acme:error:compound",
                                "detail": "some names failed", "subproblems": subs[:3]}))
    seed("problem", json.dumps({"type": "urn:ietf:params:acme:error:compound",
                                "detail": "many names failed", "subproblems": subs}))
    # an authorization with a dns-persist-01 challenge and a failed one with subproblems
    seed("authz", json.dumps({
        "status": "invalid", "expires": "2026-12-06T22:34:16Z",
        "identifier": {"type": "dns", "value": "example.test"},
        "challenges": [
            {"type": "dns-persist-01", "url": "https://acme.test/chalZ/p1", "status": "pending",
             "issuerDomainNames": ["acme.test"]},
            {"type": "dns-persist-01", "url": "https://acme.test/chalZ/p2", "status": "pending",
             "issuer-domain-names": ["acme.test", "ca.example"]},
            {"type": "dns-01", "url": "https://acme.test/chalZ/d1", "status": "invalid",
             "token": token, "validated": "2026-11-29T22:34:16Z",
             "error": {"type": "urn:ietf:params:acme:error:compound", "detail": "failed",
                       "subproblems": subs[:2]}}]}))
    # dns-persist-01 records (first byte: bit 0 draft -01, bit 1 wildcard wanted)
    acct = "accounturi=https://acme.test/my-account/1"
    seed("persist", "\x01acme.test; %s; persistUntil=1895991656" % acct)
    seed("persist", "\x03other.ca; accounturi=x\nACME.test ; %s ; policy=wildcard" % acct)
    seed("persist", "\x00acme.test; accounturi=sha-256/abc; persistUntil=1; persistUntil=2")
    seed("retry_after", "120")
    seed("retry_after", "Sun, 29 Nov 2026 23:34:16 GMT")
    seed("b64url", "eyJhbGciOiJFUzI1NiJ9")


def main():
    if not os.path.isdir(FIXTURES):
        sys.exit("no fixtures at " + FIXTURES)
    from_fixtures()
    from_hand()


if __name__ == "__main__":
    main()
