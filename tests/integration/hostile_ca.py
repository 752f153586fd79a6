"""A CA that tries to hurt its client: AcmeProxy (ari_proxy.py) in front of
Pebble with hostile modes. Several proxies (one per AcmeCA URL, for fast
failover retries) share one HostileState; state.mode names what the CA does
now (None: it behaves). Each mode imitates a documented attack or failure on
an HTTP/ACME client:

- huge_body: an authorization of 256 KiB (RFC 8555 §7.1 resources are small;
  unbounded reads are CWE-400 / CWE-770).
- redirect_loop, cross_origin_redirect: a 302 to itself, a 307 to another
  host (RFC 8555 §6.1 puts every resource on the CA's origin; curl's redirect
  CVEs, e.g. CVE-2018-1000007, CVE-2022-27776, leak credentials across origins).
- foreign_urls: an order whose authorizations are on another host and whose
  finalize URL is plain http (RFC 8555 §7.1.3, §6.1: HTTPS only).
- dup_members, wrong_types: an authorization with "status" twice (RFC 8259
  §4: behaviour with duplicate names is unpredictable), one with members of
  the wrong JSON types (RFC 8555 §7.1.4).
- nul_bytes, bad_utf8: an authorization with "\\u0000" inside strings (a C
  string ends there) and with invalid UTF-8 (RFC 8259 §8.1 requires UTF-8).
- giant_nonce: every Replay-Nonce 6000 characters (RFC 8555 §6.5.1: a
  nonce is a short base64url token).
- problem_10mb: newOrder answered with a 10 MB problem document (RFC 7807).
- slow_loris: an authorization trickled a byte every half second (the
  slow-read attack of CWE-400, as a server against its client).
- retry_after_years: newOrder answered 429 rateLimited with a Retry-After
  HTTP-date ten years ahead (RFC 8555 §6.6, RFC 9110 §10.2.3).
- cert_other_names, cert_expired, cert_not_yet_valid, chain_untrusted,
  chain_loop: the certificate download replaced by a chain the proxy forges
  for the CSR's key (names, validity or issuer wrong; a chain whose two CAs
  issued each other); cert_other_key: the chain the CA issued before (right
  names, trusted, but for the previous key: RFC 8555 §7.4 requires the CSR's
  key).
- directory_moves: after the new order, the directory's endpoints move to
  another origin (a CA changing its directory mid-order).

The modes change at attempt boundaries, by the proxy itself (a test thread
on a loaded machine may be seconds late): state.queue lists the mode of each
coming attempt (None: behave), and every new order takes the next. An
attempt after a chain that led to no trusted root makes no order: it fetches
the kept order's certificate again (RFC 8555 §7.4.2), and that second
download of one certificate URL takes the next mode instead
(state.same_order lists the modes so taken). state.after_cert (a list of such lists): once a certificate
download is answered normally, the next list becomes the queue, so a test
obtains a good certificate and the renewal meets the hostile CA.
"""
import base64
import datetime
import email.utils
import json
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import harness
from ari_proxy import AcmeProxy, b64url_decode

MODES = ["huge_body", "redirect_loop", "cross_origin_redirect", "foreign_urls", "dup_members",
         "wrong_types", "nul_bytes", "bad_utf8", "giant_nonce", "problem_10mb", "slow_loris",
         "retry_after_years", "cert_other_names", "cert_expired", "cert_not_yet_valid",
         "cert_other_key", "chain_untrusted", "chain_loop", "directory_moves"]
ELSEWHERE = "https://ca.attacker.test"


class HostileState:
    def __init__(self):
        self.lock = threading.Lock()
        self.mode = None
        self.queue = []              # the modes of the coming attempts, taken at each new order
        self.after_cert = []         # queues to take after a good certificate download
        self.attempts = []           # the mode each attempt was answered in
        self.same_order = []         # those of attempts that ordered nothing (a kept order)
        self.cert_paths = set()      # certificate URLs (paths) downloaded so far
        self.good_chains = []        # PEM chains the CA issued and the proxy passed on
        self.csr_key = None          # public key of the last CSR finalized
        self.names = []              # identifiers of the last new order
        self.acted = {}              # mode -> how many answers it replaced
        self.directory_moved = False
        self.faulted = False         # the attempt under way met an injected fault

    def set(self, mode):
        with self.lock:
            self.mode = mode

    def acted_on(self, mode):
        with self.lock:
            self.acted[mode] = self.acted.get(mode, 0) + 1


def _ca(name, key, issuer_name=None, issuer_key=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name or subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(issuer_key or key, hashes.SHA256()))


def _leaf(public_key, names, issuer, issuer_key, not_before, not_after):
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(issuer.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), False)
            .sign(issuer_key, hashes.SHA256()))


def _pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


class HostileProxy(AcmeProxy):
    def __init__(self, pebble, state):
        super().__init__(pebble)
        self.state = state
        self.ari_enabled = True
        self._rogue_key = ec.generate_private_key(ec.SECP256R1())
        self._rogue = _ca("Hostile Test CA", self._rogue_key)
        self._acting = threading.local()

    def serve_certificate(self, cert_pem, key_pem):
        """From the next TLS handshake on, the proxy presents this certificate."""
        self._ctx.load_cert_chain(cert_pem, key_pem)

    # -- plumbing ----------------------------------------------------------
    def _send(self, h, status, headers, out, content_length=None):
        mode = getattr(self._acting, "mode", None)
        if mode:
            self.state.acted_on(mode)
        try:
            h.send_response(status)
            for k, v in headers:
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(out) if content_length is None
                                                else content_length))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(out)
        except OSError:
            pass   # the client hung up, as it should on most of these
        return True

    def _json(self, h, status, doc_bytes, ctype="application/json", extra=()):
        headers = [("Content-Type", ctype), ("Replay-Nonce", self._fresh_nonce())]
        return self._send(h, status, headers + list(extra), doc_bytes)

    def _forwarded(self, h, body):
        status, headers, out = self._forward(h, body)
        return status, headers, out

    # -- the hostile CA ------------------------------------------------------
    def _next_attempt(self, new_order):
        """A new attempt begins (a new order, or a kept order's certificate
        fetched again): it takes the next mode of the queue. A callable there
        is a fault the test injects now: returned to be called outside the
        lock, and that attempt's download does not count as good. Every other
        attempt's good download does (st.faulted is the attempt's own), so
        the attempt after a fault's, even without a new order, moves on to
        the next queue of after_cert. With the queue empty, a new order keeps
        the mode of the last (a hostile CA stays hostile), the download again
        behaves. Holds st.lock."""
        st = self.state
        fault = None
        st.faulted = False
        if st.queue:
            st.mode = st.queue.pop(0)
        elif not new_order:
            st.mode = None
        if callable(st.mode):
            fault, st.mode = st.mode, None
            st.faulted = True
        st.attempts.append(fault or st.mode)
        return fault

    def _intercept(self, h, rec, body):
        st = self.state
        path, cmd = h.path, h.command
        fault = None
        if cmd == "POST" and path == "/order-plz" and isinstance(rec.payload, dict):
            st.names = [i.get("value") for i in rec.payload.get("identifiers", [])]
            with st.lock:
                fault = self._next_attempt(new_order=True)
        if cmd == "POST" and path.startswith("/certZ/"):
            with st.lock:
                if path in st.cert_paths:    # a kept order's certificate, again
                    fault = self._next_attempt(new_order=False)
                    st.same_order.append(fault or st.mode)
                st.cert_paths.add(path)
        if fault:
            fault()
            h.close_connection = True        # the next request connects anew
        if cmd == "POST" and path.startswith("/finalize-order/") and \
                isinstance(rec.payload, dict) and rec.payload.get("csr"):
            csr = x509.load_der_x509_csr(b64url_decode(rec.payload["csr"]))
            st.csr_key = csr.public_key()
        with st.lock:
            mode = st.mode
        if mode in (None, "directory_moves") and cmd == "POST" and path.startswith("/certZ/"):
            status, headers, out = self._forwarded(h, body)
            if status == 200 and not st.faulted:
                with st.lock:
                    st.good_chains.append(out)
                    st.mode = None
                    st.directory_moved = False
                    if st.after_cert:
                        st.queue = list(st.after_cert.pop(0))
            return self._send(h, status, headers, out)
        if mode is None:
            return False
        self._acting.mode = mode     # counted when its answer begins (_send)
        try:
            return getattr(self, "_" + mode)(h, rec, body)
        finally:
            self._acting.mode = None

    def _is_authz(self, h):
        return h.command == "POST" and h.path.startswith("/authZ/")

    def _huge_body(self, h, rec, body):
        if not self._is_authz(h):
            return False
        doc = {"status": "pending", "padding": "A" * (256 * 1024)}
        return self._json(h, 200, json.dumps(doc).encode())

    def _redirect_loop(self, h, rec, body):
        if not self._is_authz(h):
            return False
        return self._send(h, 302, [("Location", self.origin + h.path),
                                   ("Replay-Nonce", self._fresh_nonce())], b"")

    def _cross_origin_redirect(self, h, rec, body):
        if not self._is_authz(h):
            return False
        return self._send(h, 307, [("Location", ELSEWHERE + h.path),
                                   ("Replay-Nonce", self._fresh_nonce())], b"")

    def _foreign_urls(self, h, rec, body):
        if not (h.command == "POST" and h.path == "/order-plz"):
            return False
        status, headers, out = self._forwarded(h, body)
        if status == 201:
            doc = json.loads(out)
            doc["authorizations"] = [ELSEWHERE + "/authZ/" + a.rsplit("/", 1)[-1]
                                     for a in doc.get("authorizations", [])]
            doc["finalize"] = doc.get("finalize", "").replace("https://", "http://")
            out = json.dumps(doc).encode()
        return self._send(h, status, headers, out)

    def _tampered_authz(self, h, body, change):
        if not self._is_authz(h):
            return False
        status, headers, out = self._forwarded(h, body)
        if status == 200:
            out = change(out)
        return self._send(h, status, headers, out)

    def _dup_members(self, h, rec, body):
        # a second "status" ("valid") after Pebble's own ("pending")
        return self._tampered_authz(h, body, lambda out: out.rstrip().rstrip(b"}")
                                    + b', "status": "valid"}')

    def _wrong_types(self, h, rec, body):
        def change(out):
            doc = json.loads(out)
            doc["status"] = 1
            doc["challenges"] = "http-01"
            doc["identifier"] = ["dns", doc.get("identifier", {}).get("value")]
            return json.dumps(doc).encode()
        return self._tampered_authz(h, body, change)

    def _nul_bytes(self, h, rec, body):
        def change(out):
            doc = json.loads(out)
            ident = doc.get("identifier", {})
            ident["value"] = "%s\x00.attacker.test" % ident.get("value")
            for c in doc.get("challenges", []):
                c["token"] = c.get("token", "") + "\x00../../etc/passwd"
            return json.dumps(doc).encode()   # \u0000 escapes
        return self._tampered_authz(h, body, change)

    def _bad_utf8(self, h, rec, body):
        def change(out):
            doc = json.loads(out)
            doc["status"] = "PLACEHOLDER"
            return json.dumps(doc).encode().replace(b"PLACEHOLDER", b"pend\xc3\x28ing\xff")
        return self._tampered_authz(h, body, change)

    def _giant_nonce(self, h, rec, body):
        status, headers, out = self._forwarded(h, body)
        headers = [(k, v) for k, v in headers if k.lower() != "replay-nonce"] + \
            [("Replay-Nonce", "N" * 6000)]
        if h.path == "/nonce-plz":
            # the client has no nonce left: this attempt is over, the next
            # one (whose first request may be newNonce) meets a good CA
            with self.state.lock:
                self.state.mode = None
        return self._send(h, status, headers, out)

    def _problem_10mb(self, h, rec, body):
        if not (h.command == "POST" and h.path == "/order-plz"):
            return False
        doc = {"type": "urn:ietf:params:acme:error:serverInternal",
               "detail": "x" * (10 * 1024 * 1024), "status": 500}
        return self._json(h, 500, json.dumps(doc).encode(), "application/problem+json")

    def _slow_loris(self, h, rec, body):
        if not self._is_authz(h):
            return False
        out = json.dumps({"status": "pending", "padding": "A" * 4096}).encode()
        self.state.acted_on("slow_loris")
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Replay-Nonce", self._fresh_nonce())
            h.send_header("Content-Length", str(len(out)))
            h.end_headers()
            h.wfile.flush()
            deadline = time.monotonic() + 90
            for b in out:
                if time.monotonic() > deadline:
                    break
                h.wfile.write(bytes([b]))
                h.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass
        h.close_connection = True
        return True

    def _retry_after_years(self, h, rec, body):
        if not (h.command == "POST" and h.path == "/order-plz"):
            return False
        later = time.time() + 10 * 365 * 24 * 3600
        doc = {"type": "urn:ietf:params:acme:error:rateLimited",
               "detail": "too many certificates; come back in ten years", "status": 429}
        return self._json(h, 429, json.dumps(doc).encode(), "application/problem+json",
                          [("Retry-After", email.utils.formatdate(later, usegmt=True))])

    # certificates the proxy forges instead of Pebble's
    def _forged(self, h, chain_pem):
        if not (h.command == "POST" and h.path.startswith("/certZ/")):
            return False
        return self._json(h, 200, chain_pem, "application/pem-certificate-chain")

    def _now(self):
        return datetime.datetime.now(datetime.timezone.utc)

    def _rogue_leaf(self, names, not_before, not_after):
        leaf = _leaf(self.state.csr_key, names, self._rogue, self._rogue_key, not_before,
                     not_after)
        return _pem(leaf, self._rogue)

    def _cert_other_names(self, h, rec, body):
        if not h.path.startswith("/certZ/"):
            return False
        now = self._now()
        return self._forged(h, self._rogue_leaf(["other-name.attacker.test"],
                                                now - datetime.timedelta(hours=1),
                                                now + datetime.timedelta(days=30)))

    def _cert_expired(self, h, rec, body):
        if not h.path.startswith("/certZ/"):
            return False
        now = self._now()
        return self._forged(h, self._rogue_leaf(self.state.names, now - datetime.timedelta(days=30),
                                                now - datetime.timedelta(days=1)))

    def _cert_not_yet_valid(self, h, rec, body):
        if not h.path.startswith("/certZ/"):
            return False
        now = self._now()
        return self._forged(h, self._rogue_leaf(self.state.names, now + datetime.timedelta(days=1),
                                                now + datetime.timedelta(days=30)))

    def _cert_other_key(self, h, rec, body):
        if not h.path.startswith("/certZ/"):
            return False
        return self._forged(h, self.state.good_chains[0])

    def _chain_untrusted(self, h, rec, body):
        if not h.path.startswith("/certZ/"):
            return False
        now = self._now()
        return self._forged(h, self._rogue_leaf(self.state.names, now - datetime.timedelta(hours=1),
                                                now + datetime.timedelta(days=30)))

    def _chain_loop(self, h, rec, body):
        if not h.path.startswith("/certZ/"):
            return False
        now = self._now()
        ka, kb = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        name_a = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loop CA A")])
        name_b = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loop CA B")])
        a = _ca("Loop CA A", ka, name_b, kb)     # A issued by B
        b = _ca("Loop CA B", kb, name_a, ka)     # B issued by A
        leaf = _leaf(self.state.csr_key, self.state.names, a, ka,
                     now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30))
        return self._forged(h, _pem(leaf, a, b, a, b))

    def _directory_moves(self, h, rec, body):
        st = self.state
        if h.command == "GET" and h.path == "/dir" and st.directory_moved:
            status, headers, out = self._forwarded(h, body)
            doc = json.loads(out)
            for k, v in list(doc.items()):
                if isinstance(v, str) and v.startswith("https://"):
                    doc[k] = ELSEWHERE + "/" + v.split("/", 3)[-1]
            return self._send(h, status, headers, json.dumps(doc).encode())
        if h.command == "POST" and h.path == "/order-plz":
            status, headers, out = self._forwarded(h, body)
            st.directory_moved = True
            return self._send(h, status, headers, out)
        return False


class HostileCA:
    """One httpd with its own Pebble behind `proxies` HostileProxy instances
    that share one HostileState (one AcmeCA URL each).  Every proxy answers
    renewal information from window(): the first due_certs certificates it
    is asked about are due (window in the past), later ones not (far ahead).
    The httpd is made but neither configured nor started."""

    FAR = datetime.timedelta(days=300)

    def __init__(self, label, httpd_factory, workdir, challtestsrv, unique, due_certs, proxies):
        self.label = label
        self.pebble = harness.private_pebble(workdir, challtestsrv.dns_port, label)
        self.state = HostileState()
        self.proxies = [HostileProxy(self.pebble, self.state) for _ in range(proxies)]
        self.cert_ids = []
        self.due_certs = due_certs
        for p in self.proxies:
            p.set_window_function(self.window)
            p.start()
        self.httpd = httpd_factory(pebble=self.pebble)
        self.name = unique(label)

    def window(self, cid):
        """The first due_certs certificates are due (window in the past); later ones not."""
        if cid not in self.cert_ids:
            self.cert_ids.append(cid)
        now = harness.utcnow()
        if self.cert_ids.index(cid) < self.due_certs:
            return now - datetime.timedelta(hours=2), now - datetime.timedelta(hours=1)
        return now + self.FAR, now + self.FAR + datetime.timedelta(days=1)

    def stop(self):
        for p in self.proxies:
            p.stop()
        self.pebble.stop()
