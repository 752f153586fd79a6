"""Test proxies in front of real components, for what Pebble 2.4 lacks.

AcmeProxy: an HTTPS server in front of Pebble that forwards every request
unchanged (method, path, headers, body) and keeps the client's Host header, so
Pebble builds every URL (directory, Location, Link, order and authorization
URLs) on the proxy's origin and the JWS "url" checks pass. It adds only ARI
(RFC 9773): "renewalInfo" in the directory and answers to
GET /renewal-info/<certID> with a configurable suggestedWindow and Retry-After.
It records every request (new orders with their decoded JWS payload, so a
test can read "replaces" or "profile"), and can hold chosen requests at a
gate, so a test can act (kill httpd, say) while the client waits for the CA.
With profiles set (name -> description) it also lists ACME profiles in the
directory's meta, as a CA offering them does; Pebble ignores the "profile"
member of the orders it gets. With challenge_types set (a list) authorizations
offer only those challenge types, as a CA that supports fewer would.

CA behaviours Pebble lacks, each a switch (None/False = off), each imitating
what a public source documents:
- refuse_replaces = "<problem type>": a new order carrying "replaces" (RFC 9773
  §5) is answered with that problem (alreadyReplaced, unauthorized, malformed,
  conflict): Boulder's wfe2 validateReplacementOrder / orderMatchesReplacement
  (letsencrypt/boulder wfe2/wfe.go) answers alreadyReplaced (409) when a
  replacement was already ordered, unauthorized (403) when another account
  ordered the replaced certificate, malformed (400) when no identifier matches.
- eab_on_lookup: a newAccount lookup (onlyReturnExisting) without
  externalAccountBinding is answered 400 externalAccountRequired, as CAs that
  want EAB on every newAccount request do
  (ansible-collections/community.crypto issue #918).
- freeze_authz = "<status>", freeze_order = ("<status>", {real statuses}):
  authorizations / orders (in those real statuses) are shown in that status,
  with Retry-After: freeze_retry_after, so a client waits for a CA that never
  gets there (RFC 8555 §7.5.1, §7.4 polling).
- not_ready_finalizes = N: the first N finalize requests of each order are
  answered 403 orderNotReady without reaching Pebble, as a CA answers a
  finalize that arrives before its validation of the authorizations has
  finished: RFC 8555 §7.4 ("The server MUST return an error if the order is
  not in the ready state"), Boulder's wfe2 FinalizeOrder ("Only ready orders
  can be finalized": probs.OrderNotReady, 403, "Order's status (%q) is not
  acceptable for finalization"; the order stays as it was, letsencrypt/boulder
  pull request #4075). Pebble 2.4 answers the same, but validates at once
  (PEBBLE_VA_NOSLEEP), so without this it rarely does.
- slow_bad_nonces = (N, seconds): the first N newOrder requests (of any
  client) wait that many seconds and are then answered 400 badNonce with a
  fresh nonce, without reaching Pebble. RFC 8555 §6.5 lets a server refuse
  any nonce ("badNonce"; the client retries with the one sent back, §6.5),
  as Pebble does at random with PEBBLE_WFE_NONCEREJECT; the wait is a
  loaded CA's. One newOrder step then lasts about N x seconds, the client
  alive and waiting for the CA all along, while each request stays under
  the client's own timeout.
- reuse_failed_authz = {"validated": datetime, "expires": datetime}: every
  order lists, per identifier, the same invalid authorization (challenge
  failed at "validated", an empty "error" object), as Boulder once put failed
  authorizations into new orders (letsencrypt/boulder issue #3333).
- ip_needs_profile = "<profile>": a new order holding an IP address
  identifier without that "profile" is answered 400 rejectedIdentifier, as
  Let's Encrypt issues IP address certificates only under its "shortlived"
  profile (https://letsencrypt.org/docs/profiles/, "Identifier Types: DNS, IP"
  for shortlived only; letsencrypt.org/2025/07/01 first IP certificate).

- dns_persist = {"issuer": "<issuer domain name>", "dns_port": N, "mgmt_port": M,
  "draft": 2}: the proxy is the CA for dns-persist-01, as
  draft-ietf-acme-dns-persist (IETF ACME WG;
  https://datatracker.ietf.org/doc/draft-ietf-acme-dns-persist/) defines it
  and Pebble 2.4 does not. "draft": 2 (the default) follows -02: the
  directory's meta advertises "accountHashPrefix" (<origin>/account-hash/)
  and "issuerDomainNames" (§3.2, §4.1), authorizations offer the challenge
  with "issuerDomainNames", and a record's accounturi must be the hashed URI
  prefix "sha-256/" base64url(SHA-256(len(domain) || domain || JWK
  thumbprint || account URL)) for the name or for "*" (§4.1, §4.2).
  "draft": 1 follows -01: no directory meta, "issuer-domain-names", and
  accounturi = the account URL. Either way authorizations offer it in place
  of dns-01 (no token, same URL); when the client responds, the proxy looks
  up the TXT records at _validation-persist.NAME at pebble-challtestsrv's DNS
  (port N) and accepts one whose issue-value (RFC 8659 §4.2) names the
  issuer, has the account's accounturi, policy=wildcard for a wildcard and no
  past persistUntil. Accepted: it publishes the dns-01 answer at
  challtestsrv (management port M) and forwards, so Pebble marks the
  authorization valid; refused: it forwards without, Pebble marks it invalid,
  and the proxy shows the draft's reason as the challenge's error.

ChallengeFanout: a plain HTTP server on the port where Pebble validates
http-01 that asks several httpd instances for the token and returns the first
200, for tests with two servers sharing one store.
"""
import base64
import datetime
import hashlib
import http.client
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import struct
import threading
import time

from cryptography import x509

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "upgrade", "content-length", "trailer"}
OWN_HEADERS = {"date", "server"}   # the proxy's http.server sends its own


def b64url_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(jwk):
    """RFC 7638 thumbprint (SHA-256, base64url) of an EC or RSA JWK."""
    members = ("crv", "kty", "x", "y") if jwk.get("kty") == "EC" else ("e", "kty", "n")
    canon = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canon.encode()).digest())


def parse_issue_value(text):
    """RFC 8659 §4.2 issue-value: (issuer domain name, {lowercased tag: value})."""
    parts = [p.strip() for p in text.split(";")]
    params = {}
    for part in parts[1:]:
        if "=" in part:
            tag, value = part.split("=", 1)
            params[tag.strip().lower()] = value.strip()
    return (parts[0] or None), params


def dns_txt(server, name, timeout=2.0):
    """The TXT strings of name at server (host, port), over UDP (RFC 1035)."""
    qid = int.from_bytes(os.urandom(2), "big")
    question = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + \
        b"\0" + struct.pack(">HH", 16, 1)
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query, server)
        msg, _ = sock.recvfrom(4096)
    rid, _flags, qd, an = struct.unpack(">HHHH", msg[:8])
    if rid != qid:
        return []

    def skip_name(pos):
        while msg[pos]:
            if msg[pos] & 0xC0 == 0xC0:
                return pos + 2
            pos += msg[pos] + 1
        return pos + 1
    pos = 12
    for _ in range(qd):
        pos = skip_name(pos) + 4
    values = []
    for _ in range(an):
        pos = skip_name(pos)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        pos += 10
        rdata = msg[pos:pos + rdlen]
        pos += rdlen
        if rtype != 16:
            continue
        strings, i = [], 0
        while i < len(rdata):
            strings.append(rdata[i + 1:i + 1 + rdata[i]].decode(errors="replace"))
            i += 1 + rdata[i]
        values.append("".join(strings))
    return values


def ari_cert_id(cert):
    """RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial DER octets)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    n = cert.serial_number
    serial = n.to_bytes(n.bit_length() // 8 + 1, "big")   # DER INTEGER content, sign bit clear
    return "%s.%s" % (b64url(aki.key_identifier), b64url(serial))


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def jws_payload(body):
    """The decoded payload of a flattened JWS (dict, "" for POST-as-GET, None if unreadable)."""
    try:
        doc = json.loads(body)
        raw = b64url_decode(doc.get("payload", ""))
        return json.loads(raw) if raw else ""
    except (ValueError, TypeError, AttributeError):
        return None


class Recorded:
    """One request as the proxy saw it."""

    def __init__(self, method, path, headers, body):
        self.time = time.time()
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.payload = jws_payload(body) if method == "POST" and body else None
        self.status = None
        self.arrived = self.time      # before the proxy's delay
        self.answered = None          # its answer written

    def __repr__(self):
        return "<%s %s at %.3f -> %s>" % (self.method, self.path, self.time, self.status)


class Gate:
    """Holds requests matching method + path regex until opened (or timeout);
    the first `skip` matching requests pass."""

    def __init__(self, method, path_regex, timeout=60.0, skip=0):
        self.method = method
        self.pattern = re.compile(path_regex)
        self.timeout = timeout
        self.skip = skip
        self.opened = threading.Event()
        self.held = threading.Event()     # set once a request waits at the gate
        self.count = 0
        self._lock = threading.Lock()

    def matches(self, method, path):
        return method == self.method and self.pattern.search(path) is not None

    def hold(self):
        with self._lock:
            self.count += 1
            if self.count <= self.skip:
                return
        self.held.set()
        self.opened.wait(self.timeout)

    def open(self):
        self.opened.set()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1, nothing logged."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass


class _Serving:
    """A threaded HTTP server on 127.0.0.1:self.port in a daemon thread."""
    _server = None
    _thread = None

    def _serve(self, handler, name, wrap=None):
        """Serves with handler (a _Quiet subclass); wrap(socket), if given,
        returns the socket to listen on (TLS)."""
        self._server = _Server(("127.0.0.1", self.port), handler)
        if wrap:
            self._server.socket = wrap(self._server.socket)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="%s-%d" % (name, self.port))
        self._thread.start()
        return self

    def _stop_serving(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


class AcmeProxy(_Serving):
    def __init__(self, pebble, port=None):
        from harness import free_port  # the proxy lives next to the harness
        self.pebble = pebble
        self.port = port or free_port()
        self.origin = "https://127.0.0.1:%d" % self.port
        self.directory_url = self.origin + "/dir"
        self.renewal_info_url = self.origin + "/renewal-info"
        self.requests = []
        self.lock = threading.Lock()
        self.gates = []
        # ARI: advertise it, and what to answer. window(cert_id) -> (start, end)
        # datetimes, or None for 404; retry_after: seconds or None.
        self.ari_enabled = True
        self.window = None
        self.retry_after = None
        # ACME profiles for the directory's meta.profiles; None leaves meta alone
        self.profiles = None
        # challenge types authorizations offer (a list); None leaves them alone
        self.challenge_types = None
        # CA behaviours (see the module's doc string)
        self.refuse_replaces = None
        self.eab_on_lookup = False
        self.freeze_authz = None
        self.freeze_order = None
        self.freeze_retry_after = 1
        self.not_ready_finalizes = 0
        self.slow_bad_nonces = None
        self._bad_nonces_sent = 0
        self._finalizes_refused = {}   # finalize path -> how many were refused
        self.reuse_failed_authz = None
        self.ip_needs_profile = None
        self.tokens = []            # http-01 tokens seen in authorizations
        self.dns_persist = None
        self.persist_challenges = {}   # challenge URL -> (identifier, token, wildcard)
        self.persist_results = []      # (identifier, accepted, reason) per validation
        self.account_jwks = {}         # account URL -> JWK (from newAccount)
        self.order_limit = None
        self.refused_429 = 0
        self._order_tat = 0.0         # the bucket's theoretical arrival time (GCRA)
        # A CA across the Internet: every answer comes a round trip later,
        # which Pebble on loopback answers at once. delay: seconds added
        # before each answer; in_flight/max_in_flight: requests being
        # answered now / at most at once. Each Recorded has arrived (before
        # the delay) and answered (its answer written) as well.
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._server = None
        self._thread = None

    # -- configuration -------------------------------------------------
    def set_window(self, start, end, retry_after=None):
        with self.lock:
            self.window = lambda _cid: (start, end)
            self.retry_after = retry_after

    def set_window_function(self, window, retry_after=None):
        """window(cert_id) -> (start, end) datetimes, or None for a 404."""
        with self.lock:
            self.window = window
            self.retry_after = retry_after

    def gate(self, method, path_regex, timeout=60.0, skip=0):
        g = Gate(method, path_regex, timeout, skip)
        with self.lock:
            self.gates.append(g)
        return g

    def open_gates(self):
        with self.lock:
            gates, self.gates = self.gates, []
        for g in gates:
            g.open()

    # -- what happened ---------------------------------------------------
    def recorded(self, method=None, path_regex=None):
        with self.lock:
            items = list(self.requests)
        pat = re.compile(path_regex) if path_regex else None
        return [r for r in items if (method is None or r.method == method)
                and (pat is None or pat.search(r.path))]

    def new_orders(self):
        return self.recorded("POST", r"^/order-plz$")

    def new_order_payloads(self):
        """The decoded JWS payloads of the new-order requests, oldest first."""
        return [r.payload for r in self.new_orders()]

    def http01_tokens(self):
        """The http-01 tokens of the authorizations the proxy passed on, oldest first."""
        with self.lock:
            return list(self.tokens)

    def renewal_info_requests(self, cert_id=None):
        reqs = self.recorded("GET", r"^/renewal-info/")
        if cert_id is not None:
            reqs = [r for r in reqs if r.path.split("/renewal-info/", 1)[1] == cert_id]
        return reqs

    # -- life cycle ------------------------------------------------------
    def start(self):
        proxy = self

        class Handler(_Quiet):
            def do_GET(self):
                proxy._handle(self)

            def do_HEAD(self):
                proxy._handle(self)

            def do_POST(self):
                proxy._handle(self)

        ctx = self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pebble.ca.cert_pem, self.pebble.ca.key_pem)
        # the handshake happens in the handler thread, so a slow client blocks no one
        return self._serve(Handler, "acme-proxy", wrap=lambda sock: ctx.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False))

    def stop(self):
        self.open_gates()
        self._stop_serving()

    # -- request handling ------------------------------------------------
    def _handle(self, h):
        h.acme_arrived = time.time()
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            self._answer(h)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        rec = Recorded(h.command, h.path, dict(h.headers.items()), body)
        rec.arrived = getattr(h, "acme_arrived", rec.time)
        with self.lock:
            self.requests.append(rec)
            gates = [g for g in self.gates if g.matches(h.command, h.path)]
        for g in gates:
            g.hold()
        if self._intercept(h, rec, body):
            return
        try:
            own = self._own_answer(h.command, h.path, rec.payload)
            if own is None and self.dns_persist and h.command == "POST" and \
                    rec.payload == {} and self.origin + h.path in self.persist_challenges:
                self._persist_validate(self.origin + h.path, body)
            if own is not None:
                status, headers, out = own
            elif h.command == "GET" and h.path.startswith("/renewal-info/") and self.ari_enabled:
                status, headers, out = self._renewal_info(h.path[len("/renewal-info/"):])
            else:
                status, headers, out = self._forward(h, body)
                if h.command == "GET" and h.path == "/dir" and status == 200 and (
                        self.ari_enabled or self.profiles is not None or
                        self._persist_draft() >= 2):
                    doc = json.loads(out)
                    if self._persist_draft() >= 2:
                        doc.setdefault("meta", {}).update({
                            "accountHashPrefix": self.persist_hash_prefix(),
                            "issuerDomainNames": [self.dns_persist["issuer"]]})
                    if self.ari_enabled:
                        doc["renewalInfo"] = self.renewal_info_url
                    if self.profiles is not None:
                        doc.setdefault("meta", {})["profiles"] = dict(self.profiles)
                    out = json.dumps(doc, indent=2).encode()
                if h.path.startswith("/authZ/") and status == 200 and \
                        self.challenge_types is not None:
                    out = self._filter_challenges(out)
                if self.dns_persist and h.path == "/sign-me-up" and status in (200, 201):
                    self._remember_account(body, headers)
                if self.dns_persist and h.path.startswith("/authZ/") and status == 200:
                    out = self._persist_offer(out)
                out, headers = self._rewrite(h.path, status, out, headers)
                if h.path.startswith("/authZ/") and status == 200:
                    self._note_tokens(out)
        except Exception as exc:  # noqa: BLE001 -- the client sees a 502 and the test the record
            status, headers, out = 502, [("Content-Type", "text/plain")], \
                ("proxy error: %r" % (exc,)).encode()
        rec.status = status
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(out)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(out)
        rec.answered = time.time()

    def _intercept(self, h, rec, body):
        """A subclass's own answer, written to h (True), or False for the usual one."""
        return False

    def _forward(self, h, body):
        ctx = ssl.create_default_context(cafile=self.pebble.ca.ca_pem)
        conn = http.client.HTTPSConnection("127.0.0.1", self.pebble.port, context=ctx, timeout=30)
        try:
            conn.putrequest(h.command, h.path, skip_host=True, skip_accept_encoding=True)
            for k, v in h.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    conn.putheader(k, v)   # Host stays the proxy's
            if body or h.command == "POST":
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            r = conn.getresponse()
            out = r.read()
            headers = [(k, v) for k, v in r.getheaders()
                       if k.lower() not in HOP_BY_HOP and k.lower() not in OWN_HEADERS]
            return r.status, headers, out
        finally:
            conn.close()

    # -- CA behaviours ----------------------------------------------------
    def _fresh_nonce(self):
        ctx = ssl.create_default_context(cafile=self.pebble.ca.ca_pem)
        conn = http.client.HTTPSConnection("127.0.0.1", self.pebble.port, context=ctx, timeout=30)
        try:
            conn.request("HEAD", "/nonce-plz")
            r = conn.getresponse()
            r.read()
            return r.getheader("Replay-Nonce")
        finally:
            conn.close()

    def _problem(self, http_status, short_type, detail):
        headers = [("Content-Type", "application/problem+json"),
                   ("Replay-Nonce", self._fresh_nonce())]
        return http_status, headers, json.dumps(
            {"type": "urn:ietf:params:acme:error:" + short_type, "detail": detail,
             "status": http_status}).encode()

    REFUSALS = {   # Boulder's status and wording for each (wfe2/wfe.go, probs/probs.go)
        "alreadyReplaced": (409, "cannot indicate an order replaces certificate with serial "
                                 "%s, which already has a replacement order"),
        "unauthorized": (403, "requester account did not request the certificate being "
                              "replaced by this order (%s)"),
        "malformed": (400, "identifiers in this order do not match any identifiers in the "
                           "certificate being replaced (%s)"),
        "conflict": (409, "a replacement of %s is being ordered right now"),
    }

    def _order_admitted(self):
        """Token bucket of order_limit: (True, 0) or (False, seconds to wait)."""
        burst, seconds = self.order_limit
        interval = float(seconds) / burst
        with self.lock:
            now = time.time()
            tat = max(self._order_tat, now)
            if tat - (burst - 1) * interval > now:
                self.refused_429 += 1
                return False, tat - (burst - 1) * interval - now
            self._order_tat = tat + interval
            return True, 0

    def _own_answer(self, method, path, payload):
        """The answer of a behaviour that replaces Pebble's, or None."""
        if method != "POST" or not isinstance(payload, (dict, str)):
            return None
        if path == "/order-plz" and self.slow_bad_nonces:
            with self.lock:
                refuse = self._bad_nonces_sent < self.slow_bad_nonces[0]
                self._bad_nonces_sent += refuse
            if refuse:
                time.sleep(self.slow_bad_nonces[1])
                return self._problem(400, "badNonce", "JWS has an invalid anti-replay nonce")
        if path == "/order-plz" and self.order_limit:
            ok, wait = self._order_admitted()
            if not ok:
                status, headers, body = self._problem(
                    429, "rateLimited", "too many new orders (%d) recently: retry after %s" % (
                        self.order_limit[0], rfc3339(datetime.datetime.now(datetime.timezone.utc)
                                                     + datetime.timedelta(seconds=wait))))
                return status, headers + [("Retry-After", str(int(wait) + 1))], body
        if path == "/order-plz" and self.refuse_replaces and isinstance(payload, dict) \
                and payload.get("replaces"):
            code, detail = self.REFUSALS.get(self.refuse_replaces, (400, "refused: %s"))
            return self._problem(code, self.refuse_replaces, detail % payload["replaces"])
        if path == "/order-plz" and self.ip_needs_profile and isinstance(payload, dict) \
                and payload.get("profile") != self.ip_needs_profile \
                and any(i.get("type") == "ip" for i in payload.get("identifiers") or []):
            return self._problem(400, "rejectedIdentifier",
                                 "Cannot issue for IP addresses under profile %r: IP address "
                                 "identifiers are allowed only under the %r profile"
                                 % (payload.get("profile", "classic"), self.ip_needs_profile))
        # A CA whose authorization (or order) stays pending has no order
        # ready to finalize: RFC 8555 §7.4's answer, as Pebble would give it
        # if its validation were as slow as the frozen answers say.
        if path.startswith("/finalize-order/") and (
                self.freeze_authz or (self.freeze_order and "ready" in self.freeze_order[1])):
            return self._problem(403, "orderNotReady", "Order's status (\"pending\") is not "
                                 "acceptable for finalization")
        if path.startswith("/finalize-order/") and self.not_ready_finalizes:
            with self.lock:
                refused = self._finalizes_refused.get(path, 0)
                if refused < self.not_ready_finalizes:
                    self._finalizes_refused[path] = refused + 1
                    return self._problem(403, "orderNotReady", "Order's status (\"pending\") is "
                                         "not acceptable for finalization")
        if path == "/sign-me-up" and self.eab_on_lookup and isinstance(payload, dict) \
                and payload.get("onlyReturnExisting") and "externalAccountBinding" not in payload:
            return self._problem(400, "externalAccountRequired",
                                 "external account binding parameters required")
        if path.startswith("/authZ/reused-") and self.reuse_failed_authz:
            ident = path[len("/authZ/reused-"):]
            when = self.reuse_failed_authz
            doc = {"status": "invalid", "expires": rfc3339(when["expires"]),
                   "identifier": {"type": "dns", "value": ident},
                   "challenges": [{"type": "http-01", "status": "invalid",
                                   "url": self.origin + "/chalZ/reused-" + ident,
                                   "token": "reused-failed-token_" + "A" * 22,
                                   "validated": rfc3339(when["validated"]), "error": {}}]}
            return 200, [("Content-Type", "application/json"),
                         ("Replay-Nonce", self._fresh_nonce())], json.dumps(doc).encode()
        return None

    def _rewrite(self, path, status, out, headers):
        """Pebble's answer as the configured CA would give it."""
        if status not in (200, 201) or not out:
            return out, headers
        is_order = path == "/order-plz" or path.startswith("/my-order/") or \
            path.startswith("/finalize-order/")
        is_authz = path.startswith("/authZ/")
        if not (is_order and (self.freeze_order or self.reuse_failed_authz)) and \
                not (is_authz and self.freeze_authz):
            return out, headers
        doc = json.loads(out)
        frozen = False
        if is_order and self.reuse_failed_authz:
            doc["authorizations"] = [self.origin + "/authZ/reused-" + i.get("value", "")
                                     for i in doc.get("identifiers", [])]
        if is_order and self.freeze_order:
            shown, real = self.freeze_order
            if doc.get("status") in real:
                doc["status"] = shown
                doc.pop("certificate", None)
                frozen = True
        if is_authz and self.freeze_authz:
            doc["status"] = self.freeze_authz
            frozen = True
        if frozen:
            headers = [(k, v) for k, v in headers if k.lower() != "retry-after"] + \
                [("Retry-After", str(int(self.freeze_retry_after)))]
        return json.dumps(doc, indent=2).encode(), headers

    def _note_tokens(self, out):
        for c in json.loads(out).get("challenges", []):
            with self.lock:
                if c.get("type") == "http-01" and c.get("token") not in self.tokens:
                    self.tokens.append(c.get("token"))

    def _filter_challenges(self, out):
        doc = json.loads(out)
        doc["challenges"] = [c for c in doc.get("challenges", [])
                             if c.get("type") in self.challenge_types]
        return json.dumps(doc, indent=2).encode()

    # -- dns-persist-01 (draft-ietf-acme-dns-persist-02, or -01) ------------
    def _persist_draft(self):
        return self.dns_persist.get("draft", 2) if self.dns_persist else 0

    def persist_hash_prefix(self):
        return self.origin + "/account-hash/"

    def persist_accounturis(self, kid, domain):
        """The accounturi values this CA accepts for account kid at domain:
        -02 the hashed URIs for the domain and for "*" (§4.2), -01 kid."""
        if self._persist_draft() < 2:
            return [kid]
        jwk = self.account_jwks.get(kid)
        if not jwk:
            return []
        thumb = jwk_thumbprint(jwk).encode()
        out = []
        for name in (domain.lower().rstrip("."), "*"):
            digest = hashlib.sha256(bytes([len(name)]) + name.encode() + thumb +
                                    kid.encode()).digest()
            out.append(self.persist_hash_prefix() + "sha-256/" + b64url(digest))
        return out

    def _remember_account(self, body, headers):
        try:
            protected = json.loads(b64url_decode(json.loads(body)["protected"]))
        except (ValueError, KeyError, TypeError):
            return
        location = dict((k.lower(), v) for k, v in headers).get("location")
        if location and "jwk" in protected:
            with self.lock:
                self.account_jwks[location] = protected["jwk"]

    def _persist_offer(self, out):
        """dns-01 offered as dns-persist-01 (§3.1), with its failure reason."""
        doc = json.loads(out)
        ident = doc.get("identifier", {}).get("value", "")
        chals = []
        for c in doc.get("challenges", []):
            if c.get("type") != "dns-01":
                chals.append(c)
                continue
            with self.lock:
                self.persist_challenges[c["url"]] = (ident, c.get("token"), bool(doc.get("wildcard")))
                reason = self._persist_reason(c["url"])
            field = "issuerDomainNames" if self._persist_draft() >= 2 else "issuer-domain-names"
            p = {"type": "dns-persist-01", "url": c["url"], "status": c.get("status"),
                 field: [self.dns_persist["issuer"]]}
            for k in ("validated", "error"):
                if k in c:
                    p[k] = c[k]
            if reason and "error" in p:
                p["error"] = {"type": "urn:ietf:params:acme:error:unauthorized", "detail": reason,
                              "status": 403}
            chals.append(p)
        doc["challenges"] = chals
        return json.dumps(doc, indent=2).encode()

    def _persist_reason(self, url):
        for u, _ident, accepted, reason in reversed(self.persist_results):
            if u == url:
                return None if accepted else reason
        return None

    def _persist_validate(self, url, body):
        ident, token, wildcard = self.persist_challenges[url]
        try:
            kid = json.loads(b64url_decode(json.loads(body)["protected"])).get("kid")
        except (ValueError, KeyError, TypeError):
            kid = None
        name = "_validation-persist." + ident
        records = dns_txt(("127.0.0.1", self.dns_persist["dns_port"]), name)
        accepted, reason = False, "no TXT record at %s names issuer %s" % (
            name, self.dns_persist["issuer"])
        for text in records:
            issuer, params = parse_issue_value(text)
            if issuer is None or issuer.lower() != self.dns_persist["issuer"]:
                continue
            if params.get("accounturi") not in self.persist_accounturis(kid, ident):
                reason = "the TXT record at %s has accounturi %s, not one of the account %s" % (
                    name, params.get("accounturi"), kid)
            elif wildcard and params.get("policy", "").lower() != "wildcard":
                reason = "the TXT record at %s lacks policy=wildcard" % name
            elif params.get("persistuntil", "").isdigit() and \
                    int(params["persistuntil"]) < time.time():
                reason = "the TXT record at %s is past its persistUntil" % name
            else:
                accepted, reason = True, None
                break
        jwk = self.account_jwks.get(kid)
        if accepted and jwk and token:
            key_authz = "%s.%s" % (token, jwk_thumbprint(jwk))
            value = b64url(hashlib.sha256(key_authz.encode()).digest())
            host = "_acme-challenge.%s." % ident
            conn = http.client.HTTPConnection("127.0.0.1", self.dns_persist["mgmt_port"], timeout=5)
            try:
                conn.request("POST", "/set-txt", json.dumps({"host": host, "value": value}))
                conn.getresponse().read()
            finally:
                conn.close()
        elif accepted:
            accepted, reason = False, "the proxy does not know the account %s" % kid
        with self.lock:
            self.persist_results.append((url, ident, accepted, reason))

    def persist_validations(self):
        """(identifier, accepted, reason) of every dns-persist-01 validation."""
        with self.lock:
            return [(i, a, r) for _u, i, a, r in self.persist_results]

    def _renewal_info(self, cert_id):
        with self.lock:
            window, retry_after = self.window, self.retry_after
        answer = window(cert_id) if window else None
        if answer is None:
            return 404, [("Content-Type", "application/problem+json")], json.dumps(
                {"type": "urn:ietf:params:acme:error:malformed",
                 "detail": "no renewal information for %s" % cert_id}).encode()
        start, end = answer
        headers = [("Content-Type", "application/json")]
        if retry_after is not None:
            headers.append(("Retry-After", str(int(retry_after))))
        doc = {"suggestedWindow": {"start": rfc3339(start), "end": rfc3339(end)}}
        return 200, headers, json.dumps(doc).encode()


class ChallengeFanout(_Serving):
    """Plain HTTP on port: each request is sent to every backend port in turn
    (same method, path and Host); the first 200 is the answer, else the last."""

    def __init__(self, port, backend_ports):
        self.port = port
        self.backend_ports = list(backend_ports)
        self.hits = []
        self._server = None
        self._thread = None

    def start(self):
        fanout = self

        class Handler(_Quiet):
            def do_GET(self):
                status, ctype, out = 404, "text/plain", b"no backend answered\n"
                for port in fanout.backend_ports:
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                        conn.request("GET", self.path,
                                     headers={"Host": self.headers.get("Host", "localhost")})
                        r = conn.getresponse()
                        body = r.read()
                        conn.close()
                    except (OSError, http.client.HTTPException):
                        continue
                    fanout.hits.append((self.path, port, r.status))
                    if r.status == 200:
                        status, ctype, out = 200, r.getheader("Content-Type") or ctype, body
                        break
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return self._serve(Handler, "challenge-fanout")

    def stop(self):
        self._stop_serving()

