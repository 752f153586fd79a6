"""smallstep's step-ca as a second, independent ACME CA for the integration
tests, with httpd, in a network namespace of the test's own.

step-ca validates http-01 on port 80 and tls-alpn-01 on port 443 only (no
port settings as Pebble has), so the CA and httpd run in a fresh network
namespace ('ip netns add', its own loopback): there httpd listens on
127.0.0.1:80 and :443 and step-ca on 127.0.0.1:9443, and the test names
resolve to 127.0.0.1 through /etc/netns/NAME/hosts, which 'ip netns exec'
puts over /etc/hosts. The test process itself stays outside: it reaches the
namespace's loopback through sockets created inside it (setns(2) in a short
thread; a socket keeps the namespace it was made in).

The PKI (root, intermediate) and ca.json with an ACME provisioner are made
here with python3-cryptography (Debian ships no 'step' CLI); the binary comes
from build/stepca.sh (Debian's Go source, built offline, cached). Needs root.
"""
import ctypes
import datetime
import http.client
import json
import os
import shutil
import socket
import ssl
import threading
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import harness
from harness import HarnessError, run, utcnow, wait_for

CLONE_NEWNET = 0x40000000
STEPCA_PORT = 9443
BUILD_TIMEOUT = 1500  # a first build of step-ca on 2 cores takes minutes

_libc = ctypes.CDLL(None, use_errno=True)


def stepca_binary():
    """Path of the step-ca binary: build/stepca.sh builds it once (offline)
    and prints the cached path afterwards."""
    script = os.path.join(harness.REPO_ROOT, "build", "stepca.sh")
    p = run([script], timeout=BUILD_TIMEOUT)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines or not os.access(lines[-1], os.X_OK):
        raise HarnessError("build/stepca.sh exited %d (run build/deps.sh for the Go packages)\n"
                           "stdout: %s\nstderr: %s" % (p.returncode, p.stdout, tail_text(p.stderr)))
    return lines[-1]


def tail_text(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# the network namespace

class Netns:
    """A network namespace with its loopback up and its own /etc/hosts.
    destroy() ends every process in it and removes it and /etc/netns/NAME;
    it is safe to call more than once."""

    def __init__(self, prefix="acmeit"):
        self.name = "%s-%d-%s" % (prefix, os.getpid(), uuid.uuid4().hex[:6])
        self.etc = os.path.join("/etc/netns", self.name)
        self.path = os.path.join("/run/netns", self.name)
        self.names = []

    @staticmethod
    def reap_stale(prefix="acmeit"):
        """Removes namespaces (and /etc/netns entries) that an earlier test
        process, now gone, left behind (killed before its cleanup ran)."""
        p = run(["ip", "netns", "list"], timeout=10)
        listed = [line.split()[0] for line in p.stdout.splitlines() if line.strip()]
        try:
            listed += os.listdir("/etc/netns")
        except OSError:
            pass
        for name in sorted(set(listed)):
            parts = name.split("-")
            if len(parts) != 3 or parts[0] != prefix or not parts[1].isdigit():
                continue
            if int(parts[1]) == os.getpid() or harness.pid_alive(int(parts[1])):
                continue
            stale = Netns(prefix)
            stale.name = name
            stale.etc = os.path.join("/etc/netns", name)
            stale.path = os.path.join("/run/netns", name)
            stale.destroy()

    def create(self, names):
        if os.geteuid() != 0:
            raise HarnessError("network namespaces need root (ip netns add)")
        self.reap_stale()
        run(["ip", "netns", "add", self.name], check=True)
        try:
            run(self.cmd(["ip", "link", "set", "lo", "up"]), check=True)
            os.makedirs(self.etc, mode=0o755, exist_ok=True)
            self.names = list(names)
            with open(os.path.join(self.etc, "hosts"), "w") as f:
                f.write("127.0.0.1 localhost %s\n::1 localhost\n" % " ".join(self.names))
            os.chmod(os.path.join(self.etc, "hosts"), 0o644)
        except Exception:
            self.destroy()
            raise
        return self

    def cmd(self, argv):
        """argv run inside the namespace (with its /etc/hosts)."""
        return ["ip", "netns", "exec", self.name] + list(argv)

    def pids(self):
        p = run(["ip", "netns", "pids", self.name], timeout=10)
        return [int(x) for x in p.stdout.split() if x.isdigit()]

    def inside(self, fn):
        """fn() called in a thread that has entered the namespace; its result
        (e.g. a socket, which stays in the namespace) or its exception."""
        out = {}

        def target():
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, "setns(%s): %s" % (self.path, os.strerror(err)))
                finally:
                    os.close(fd)
                out["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 -- re-raised in the caller
                out["error"] = exc
        t = threading.Thread(target=target, name="netns-" + self.name)
        t.start()
        t.join()
        if "error" in out:
            raise out["error"]
        return out["value"]

    def connect(self, port, host="127.0.0.1", timeout=5):
        """A TCP socket connected to host:port inside the namespace."""
        sock = self.inside(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except OSError:
            sock.close()
            raise
        return sock

    def port_open(self, port, host="127.0.0.1"):
        try:
            self.connect(port, host, timeout=0.5).close()
            return True
        except OSError:
            return False

    def destroy(self):
        if os.path.exists(self.path):
            pids = [p for p in self.pids() if p != os.getpid()]
            if pids:
                harness.kill_pids(pids)
            run(["ip", "netns", "del", self.name], timeout=10)
        shutil.rmtree(self.etc, ignore_errors=True)
        try:
            os.rmdir("/etc/netns")  # only when nothing else is in it
        except OSError:
            pass


# --------------------------------------------------------------------------
# httpd inside the namespace

class NetnsHttpd(harness.Httpd):
    """harness.Httpd run with 'ip netns exec' on 127.0.0.1:80 and :443 of the
    namespace, whose clients (status page, TLS handshakes, acmectl) reach it there."""

    def __init__(self, netns, ca, prefix="it-stepca-httpd-"):
        self.netns = netns
        self.stepca = ca
        super().__init__(pebble=None, http_port=80, https_port=443, ca_file=ca.root_pem,
                         prefix=prefix)

    def default_acme(self):
        acme = super().default_acme()
        acme.update({"AcmeCA": self.stepca.directory_url,
                     "AcmeTrustedRootsFile": self.stepca.root_pem})
        return acme

    def _ctl(self, *args, timeout=60):
        return run(self.netns.cmd([harness.APACHE_BIN, "-d", self.serverroot, "-f",
                                   self.conf_path] + list(args)),
                   timeout=timeout, env=harness.clean_env())

    def _port_open(self, port):
        return self.netns.port_open(port)

    def _connect(self, port, timeout):
        return self.netns.connect(port, timeout=timeout)

    def acmectl(self, *args, timeout=30):
        return run(self.netns.cmd([harness.acmectl_path()] + list(args)), timeout=timeout)

    def verified_cert(self, server_name, port=None):
        """The leaf served for server_name if the served chain verifies to the
        test's step-ca root, hostname included; raises ssl.SSLError otherwise."""
        with self.tls_connect(server_name, verify=True, cafile=self.stepca.root_pem,
                              port=port) as s:
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True))


# --------------------------------------------------------------------------
# step-ca

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mod_acme tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_cert(subject, key, issuer, issuer_key, path_length, days):
    now = utcnow()
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))


class StepCA(harness.Daemon):
    """step-ca with a root and an intermediate made here, one ACME provisioner
    ('acme'), a badger database, listening on 127.0.0.1:STEPCA_PORT of netns.
    root_pem is the trust anchor of its TLS listener and of what it issues."""
    name = "step-ca"

    def __init__(self, workdir, netns, binary, port=STEPCA_PORT, resolver=None):
        super().__init__(workdir)
        self.netns = netns
        self.binary = binary
        self.port = port
        self.resolver = resolver  # host:port of the DNS server it asks instead of the system's
        self.directory_url = "https://127.0.0.1:%d/acme/acme/directory" % self.port
        tag = uuid.uuid4().hex[:8]
        self.root_pem = os.path.join(workdir, "root_ca.crt")
        self.intermediate_pem = os.path.join(workdir, "intermediate_ca.crt")
        self.intermediate_key = os.path.join(workdir, "intermediate_ca.key")
        self.config_path = os.path.join(workdir, "ca.json")
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name("mod_acme test step-ca root " + tag)
        self.root = _ca_cert(root_name, root_key, root_name, root_key, 1, 30)
        inter_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = _ca_cert(_name("mod_acme test step-ca intermediate " + tag),
                                     inter_key, root_name, root_key, 0, 30)
        for path, cert in ((self.root_pem, self.root), (self.intermediate_pem, self.intermediate)):
            with open(path, "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
            os.chmod(path, 0o644)
        with open(self.intermediate_key, "wb") as f:
            f.write(inter_key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.TraditionalOpenSSL,
                                            serialization.NoEncryption()))
        os.chmod(self.intermediate_key, 0o600)
        config = {
            "root": self.root_pem,
            "crt": self.intermediate_pem,
            "key": self.intermediate_key,
            "address": "127.0.0.1:%d" % self.port,
            "dnsNames": ["127.0.0.1", "localhost"],
            "logger": {"format": "text"},
            "db": {"type": "badgerv2", "dataSource": os.path.join(workdir, "db")},
            "authority": {"provisioners": [{"type": "ACME", "name": "acme"}]},
            "tls": {"minVersion": 1.2, "maxVersion": 1.3, "renegotiation": False},
        }
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)

    def start(self, timeout=30):
        cmd = [self.binary]
        if self.resolver:  # flags before the config file (urfave/cli)
            cmd += ["--resolver", self.resolver]
        cmd.append(self.config_path)
        self._spawn(self.netns.cmd(cmd), env={"STEPPATH": self.workdir})

        def ready():
            self.check_running()
            status, body = self.get("/health")
            return status == 200 and b"ok" in body
        wait_for(ready, timeout, what="step-ca /health at 127.0.0.1:%d" % self.port)
        return self

    def get(self, path, timeout=5):
        """(status, body) of a GET over TLS to the CA, verified against root_pem."""
        ctx = ssl.create_default_context(cafile=self.root_pem)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        conn.sock = ctx.wrap_socket(self.netns.connect(self.port, timeout=timeout),
                                    server_hostname="127.0.0.1")
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()


class NetnsChallTestSrv(harness.Daemon):
    """pebble-challtestsrv in the namespace as a DNS server (127.0.0.1:DNS_PORT,
    every A query answered with 127.0.0.1, TXT records set through its
    management API at 127.0.0.1:MGMT_PORT), for dns-01 with step-ca --resolver."""
    name = "challtestsrv"
    DNS_PORT = 8053
    MGMT_PORT = 8055

    def __init__(self, workdir, netns):
        super().__init__(workdir)
        self.netns = netns
        self.dns_port = self.DNS_PORT
        self.mgmt_port = self.MGMT_PORT

    def start(self, timeout=10):
        self._spawn(self.netns.cmd([
            harness.CHALLTESTSRV_BIN, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            "-dns01", "127.0.0.1:%d" % self.dns_port, "-http01", "", "-https01", "",
            "-tlsalpn01", "", "-management", "127.0.0.1:%d" % self.mgmt_port]))

        def ready():
            self.check_running()
            return self.netns.port_open(self.mgmt_port) and self.netns.port_open(self.dns_port)
        wait_for(ready, timeout, what="pebble-challtestsrv in %s" % self.netns.name)
        return self
