"""Checks the harness itself without mod_acme: Pebble + challtestsrv + a plain
httpd with mod_ssl. A minimal ACME client here obtains a certificate (http-01
answered from files in httpd's DocumentRoot), httpd serves it through
SSLCertificateFile, and the harness's TLS check must accept it.

    /usr/bin/python3 tests/integration/selfcheck.py
"""
import base64
import hashlib
import json
import os
import sys
import time

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MiniAcme:
    def __init__(self, directory_url, ca_file):
        self.s = requests.Session()
        self.s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.s.verify = ca_file
        self.dir = self.s.get(directory_url).json()
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC",
                    "x": b64u(nums.x.to_bytes(32, "big")), "y": b64u(nums.y.to_bytes(32, "big"))}
        self.thumb = b64u(hashlib.sha256(json.dumps(self.jwk, sort_keys=True,
                                                    separators=(",", ":")).encode()).digest())
        self.kid = None

    def nonce(self):
        return self.s.head(self.dir["newNonce"]).headers["Replay-Nonce"]

    def post(self, url, payload):
        protected = {"alg": "ES256", "nonce": self.nonce(), "url": url}
        if self.kid:
            protected["kid"] = self.kid
        else:
            protected["jwk"] = self.jwk
        p64 = b64u(json.dumps(protected).encode())
        body64 = "" if payload is None else b64u(json.dumps(payload).encode())
        der = self.key.sign(("%s.%s" % (p64, body64)).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        resp = self.s.post(url, data=json.dumps({"protected": p64, "payload": body64,
                                                 "signature": sig}),
                           headers={"Content-Type": "application/jose+json"})
        if resp.status_code >= 400:
            raise RuntimeError("%s -> %d %s" % (url, resp.status_code, resp.text))
        return resp

    def issue(self, names, docroot):
        r = self.post(self.dir["newAccount"], {"termsOfServiceAgreed": True})
        self.kid = r.headers["Location"]
        r = self.post(self.dir["newOrder"], {"identifiers": [{"type": "dns", "value": n}
                                                             for n in names]})
        order_url, order = r.headers["Location"], r.json()
        challenge_dir = os.path.join(docroot, ".well-known", "acme-challenge")
        os.makedirs(challenge_dir, exist_ok=True)
        for authz_url in order["authorizations"]:
            authz = self.post(authz_url, None).json()
            if authz["status"] == "valid":
                continue
            ch = [c for c in authz["challenges"] if c["type"] == "http-01"][0]
            with open(os.path.join(challenge_dir, ch["token"]), "w") as f:
                f.write("%s.%s" % (ch["token"], self.thumb))
            self.post(ch["url"], {})
            harness.wait_for(lambda: self.post(authz_url, None).json()["status"] == "valid", 20,
                             what="authorization of %s" % authz["identifier"]["value"])
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                              critical=False)
               .sign(key, hashes.SHA256()))
        self.post(order["finalize"], {"csr": b64u(csr.public_bytes(serialization.Encoding.DER))})
        order = harness.wait_for(lambda: (lambda o: o if o["status"] == "valid" else None)(
            self.post(order_url, None).json()), 20, what="order to become valid")
        chain = self.post(order["certificate"], None).text
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return chain, key_pem


def main():
    work = harness.make_tree("it-selfcheck-")
    dns = harness.ChallTestSrv(work).start()
    pebble = harness.Pebble(work, dns.dns_port, harness.free_port(), harness.free_port()).start()
    print("pebble on %d, root %s" % (pebble.port, pebble.root_pem))
    httpd = harness.Httpd(pebble=pebble)
    try:
        httpd.write_config(load_acme=False)
        rc, out = httpd.configtest()
        assert rc == 0, out
        httpd.start()
        t0 = time.monotonic()
        chain, key = MiniAcme(pebble.directory_url, pebble.ca.ca_pem).issue(
            ["self.test", "www.self.test"], httpd.docroot)
        print("issued in %.1fs; pebble saw %d new orders" % (time.monotonic() - t0,
                                                              pebble.new_order_count()))
        assert pebble.new_order_count() == 1, pebble.request_lines()
        cert_file = os.path.join(httpd.serverroot, "cert.pem")
        key_file = os.path.join(httpd.serverroot, "key.pem")
        open(cert_file, "w").write(chain)
        open(key_file, "w").write(key)
        httpd.write_config(load_acme=False, vhosts=harness.ssl_vhost(
            "self.test", ["www.self.test"], acme_domain="",
            extra="SSLCertificateFile %s\nSSLCertificateKeyFile %s" % (cert_file, key_file)))
        httpd.graceful()
        for name in ("self.test", "www.self.test"):
            cert = httpd.verified_cert(name)
            print("verified", name, harness.cert_summary(cert))
        try:
            httpd.verified_cert("other.test")
            raise AssertionError("hostname check did not reject other.test")
        except harness.ssl.SSLCertVerificationError as exc:
            print("rejected other.test as expected:", exc.verify_message)
        status, _, body = httpd.https_request("self.test", "/index.html", verify=True)
        assert status == 200 and b"plain docroot" in body, (status, body)
        print("selfcheck OK")
    finally:
        httpd.cleanup()
        pebble.stop()
        dns.stop()
        assert not harness.pids_with_arg(httpd.serverroot)


if __name__ == "__main__":
    main()
