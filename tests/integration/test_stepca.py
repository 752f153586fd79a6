"""mod_acme against a second, independent ACME server: smallstep's step-ca
(Debian's 0.19 source, built by build/stepca.sh), with a root and an
intermediate the test makes. step-ca validates on ports 80 and 443 only, so it
and httpd run in a network namespace of this module's own (stepca.py).

Each certificate is checked as a client sees it: served for its name, issued
by the test's step-ca intermediate, the served chain verifying to the test's
root. Revocation is confirmed by step-ca itself: its /1.0/renew endpoint
refuses a revoked certificate (mTLS with the certificate and its key).
Also an IP address identifier over http-01, and a wildcard over dns-01 from
a second step-ca that asks pebble-challtestsrv (in the namespace) for TXT
records."""
import http.client
import ipaddress
import os
import ssl
import sys
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

import harness
import stepca
from harness import (acmectl_ok as ok, acmectl_on_store as acmectl, cert_serial_hex,
                     ssl_vhost, wait_for)

ISSUE_TIMEOUT = 90
REPLACE_TIMEOUT = 120
LABELS = ("http01", "alpn", "renew", "revoke", "wild")


@pytest.fixture(scope="module")
def ca_env(build, workdir):
    """(netns, StepCA, {label: name}): a namespace whose /etc/hosts maps
    every test name to 127.0.0.1, and step-ca running in it. The namespace,
    its processes and /etc/netns/NAME go away afterwards, also on failure."""
    names = {label: "%s-%s.test" % (label, uuid.uuid4().hex[:8]) for label in LABELS}
    try:
        binary = stepca.stepca_binary()
    except harness.HarnessError as exc:
        pytest.fail("no step-ca binary: %s" % exc)
    ns = stepca.Netns()
    ca = None
    try:
        try:
            ns.create(names.values())
        except (harness.HarnessError, OSError) as exc:
            pytest.fail("cannot make a network namespace for step-ca: %s" % exc)
        d = os.path.join(workdir, "step-ca")
        os.makedirs(d, mode=0o755, exist_ok=True)
        ca = stepca.StepCA(d, ns, binary)
        try:
            ca.start()
        except (harness.HarnessError, TimeoutError, OSError) as exc:
            pytest.fail("step-ca did not start: %s\n%s" % (exc, harness.tail(ca.log_path)))
        yield ns, ca, names
    finally:
        if ca is not None:
            ca.stop()
        ns.destroy()
        assert not os.path.exists(ns.etc) and not os.path.exists(ns.path)


@pytest.fixture(scope="module")
def dns_ca(ca_env, workdir):
    """(StepCA, NetnsChallTestSrv): a second step-ca in the namespace (port
    9444, a PKI of its own) that looks names and TXT records up at
    pebble-challtestsrv there, for dns-01."""
    ns, _ca, _names = ca_env
    d = os.path.join(workdir, "step-ca-dns")
    os.makedirs(d, mode=0o755, exist_ok=True)
    srv = stepca.NetnsChallTestSrv(d, ns)
    ca = stepca.StepCA(d, ns, stepca.stepca_binary(), port=9444,
                       resolver="127.0.0.1:%d" % srv.dns_port)
    try:
        try:
            srv.start()
            ca.start()
        except (harness.HarnessError, TimeoutError, OSError) as exc:
            pytest.fail("step-ca with challtestsrv did not start: %s\n%s\n%s" % (
                exc, harness.tail(srv.log_path), harness.tail(ca.log_path)))
        yield ca, srv
    finally:
        ca.stop()
        srv.stop()


@pytest.fixture
def httpd_for(request, ca_env):
    """Makes the test's httpd in the namespace on ports 80/443 (one at a time),
    using the given step-ca."""
    ns = ca_env[0]
    made = []

    def make(ca):
        made.append((stepca.NetnsHttpd(ns, ca), ca))
        return made[-1][0]
    yield make
    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
    for h, ca in made:
        if failed:
            sys.stdout.write("\n%s\n---- config\n%s\n---- step-ca log (tail)\n%s\n" % (
                h.diagnostics(120), h.conf_text, harness.tail(ca.log_path, 60)))
        h.cleanup()


@pytest.fixture
def httpd(httpd_for, ca_env):
    """A fresh httpd in the namespace on ports 80/443, using the first step-ca."""
    return httpd_for(ca_env[1])


def assert_issued_by_stepca(ca, cert):
    """cert's issuer is the test's intermediate, whose key signed it."""
    assert cert.issuer == ca.intermediate.subject, harness.cert_summary(cert)
    ca.intermediate.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                        ec.ECDSA(cert.signature_hash_algorithm))


def wait_for_stepca_cert(httpd, ca, name, timeout=ISSUE_TIMEOUT, not_serial=None):
    """The certificate served for name once its chain verifies to the test's
    root (with the hostname), if given, its serial is not not_serial, it is
    no staged first certificate awaiting its restart (the children serve it
    before the restart makes it live in the store; its store name may differ
    from name) and no restart is under way."""
    def served():
        c = httpd.verified_cert(name)
        if c.serial_number == not_serial or httpd.served_unsettled(c, name) \
                or httpd.restart_under_way():
            return None
        return c
    try:
        cert = wait_for(served, timeout, interval=0.5,
                        what="%s to serve a step-ca certificate" % name)
    except TimeoutError as exc:
        try:
            now = harness.cert_summary(httpd.served_cert(name))
        except Exception as e2:  # noqa: BLE001
            now = "no TLS handshake: %r" % (e2,)
        raise AssertionError("%s\nserved now: %s\nstatus: %s" % (
            exc, now, harness.store_status(httpd.store, name))) from None
    names = harness.cert_names(cert)
    assert name in names or "*." + name.split(".", 1)[1] in names, harness.cert_summary(cert)
    assert_issued_by_stepca(ca, cert)
    return cert


def issue(httpd, ca, name, acme=None):
    httpd.write_config(vhosts=ssl_vhost(name), acme=acme)
    httpd.start()
    return wait_for_stepca_cert(httpd, ca, name)


def stepca_renew_status(ca, version_dir):
    """HTTP status of step-ca's POST /1.0/renew authenticated (mTLS) with the
    certificate and key of an archive version: 201 for a certificate step-ca
    considers good, 401 for one it has revoked."""
    ctx = ssl.create_default_context(cafile=ca.root_pem)
    ctx.load_cert_chain(os.path.join(version_dir, "cert.pem"),
                        os.path.join(version_dir, "privkey.pem"))
    conn = http.client.HTTPSConnection("127.0.0.1", ca.port, timeout=10, context=ctx)
    conn.sock = ctx.wrap_socket(ca.netns.connect(ca.port, timeout=10),
                                server_hostname="127.0.0.1")
    try:
        conn.request("POST", "/1.0/renew", body=b"")
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def test_http01_first_issuance(httpd, ca_env):
    _ns, ca, names = ca_env
    name = names["http01"]
    issue(httpd, ca, name, acme={"AcmeChallenges": "http-01"})
    log = httpd.error_log_text()
    assert "answering http-01 for %s" % name in log, httpd.diagnostics()
    assert "answering tls-alpn-01 for %s" % name not in log
    httpd.wait_idle()  # temp files are only a problem once nothing writes
    problems = harness.store_problems(httpd.store)
    assert not problems, problems


def test_tlsalpn01_first_issuance(httpd, ca_env):
    _ns, ca, names = ca_env
    name = names["alpn"]
    issue(httpd, ca, name, acme={"AcmeChallenges": "tls-alpn-01"})
    log = httpd.error_log_text()
    assert "answering tls-alpn-01 for %s" % name in log, httpd.diagnostics()
    assert "answering http-01 for %s" % name not in log


def test_acmectl_renew_gets_a_new_certificate(httpd, ca_env):
    _ns, ca, names = ca_env
    name = names["renew"]
    first = issue(httpd, ca, name)
    out = ok(acmectl(httpd, "renew", name)).stdout
    assert "renewal of %s requested" % name in out, out
    second = wait_for_stepca_cert(httpd, ca, name, REPLACE_TIMEOUT, not_serial=first.serial_number)
    assert second.not_valid_before >= first.not_valid_before
    versions = harness.archive_versions(httpd.store, name)
    assert len(versions) == 2, versions
    assert harness.version_leaf(harness.live_version(httpd.store, name)).serial_number == \
        second.serial_number
    # renewing did not revoke: step-ca still takes the old certificate as good
    assert stepca_renew_status(ca, versions[0]) == 201


def test_acmectl_revoke_is_confirmed_by_stepca(httpd, ca_env):
    _ns, ca, names = ca_env
    name = names["revoke"]
    first = issue(httpd, ca, name)
    version = harness.live_version(httpd.store, name)
    out = ok(acmectl(httpd, "revoke", name, "--reason", "keyCompromise")).stdout
    assert cert_serial_hex(first) in out.replace(":", "").lower(), out
    # step-ca's own word: it refuses to renew the revoked certificate
    assert stepca_renew_status(ca, version) == 401
    assert "certificate has been revoked" in ca.log(), harness.tail(ca.log_path)
    # and the module replaces it without a restart
    second = wait_for_stepca_cert(httpd, ca, name, REPLACE_TIMEOUT, not_serial=first.serial_number)
    new_version = harness.live_version(httpd.store, name)
    assert new_version != version
    assert stepca_renew_status(ca, new_version) == 201
    assert second.serial_number != first.serial_number


def test_ip_identifier_over_http01(httpd, ca_env):
    """An IP address identifier (RFC 8738): step-ca validates http://127.0.0.1/."""
    _ns, ca, _names = ca_env
    httpd.write_config(vhosts=ssl_vhost("127.0.0.1", extra="AcmeChallenges http-01"))
    httpd.start()
    # no SNI for an address: the hostname check is against the IP SAN
    cert = wait_for(lambda: httpd.verified_cert("127.0.0.1"), ISSUE_TIMEOUT, interval=0.5,
                    what="a step-ca certificate for 127.0.0.1")
    assert_issued_by_stepca(ca, cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")], san
    assert "answering http-01 for 127.0.0.1" in httpd.error_log_text(), httpd.diagnostics()


def test_wildcard_over_dns01(httpd_for, ca_env, dns_ca):
    """NAME and *.NAME in one certificate: the wildcard through dns-01 (TXT
    published by an AcmeDnsCmd hook in challtestsrv, which step-ca asks)."""
    _ns, _ca, names = ca_env
    ca, srv = dns_ca
    name = names["wild"]
    httpd = httpd_for(ca)
    hook, log = harness.write_hook(httpd, "dns-hook", harness.DNS_HOOK, mgmt=srv.mgmt_port)
    httpd.write_config(vhosts=ssl_vhost(name, ["*." + name]),
                       acme=harness.dns_settings(hook, srv))
    code, out = httpd.configtest()
    assert code == 0, out
    httpd.start()
    cert = wait_for_stepca_cert(httpd, ca, "foo." + name)
    assert harness.cert_names(cert) == {name, "*." + name}, sorted(harness.cert_names(cert))
    assert httpd.verified_cert(name).serial_number == cert.serial_number
    with open(log) as f:
        calls = [line.split() for line in f if line.strip()]
    assert ["setup", "_acme-challenge." + name] == calls[0][:2], calls
