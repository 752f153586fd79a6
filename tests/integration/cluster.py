"""Cluster pieces for the AcmeCluster tests: a real redis-server of the test's
own (free port, own directory, no persistence unless asked), a round-robin TCP
balancer in front of several httpd nodes (the port Pebble validates at), and a
node factory. Nothing is mocked: Pebble, httpd and Redis are the real ones."""
import os
import re
import socket
import threading
import time

import pytest

import harness

from harness import Daemon, HarnessError, Httpd, free_port, make_tree, port_open, private_pebble, run, ssl_vhost, wait_for

REDIS_BIN = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"


class Redis(Daemon):
    """redis-server on 127.0.0.1 and a free port; password optional. With
    tls (a harness.TestCA: its certificate names 127.0.0.1), the port is TLS
    only (tls-port, port 0): a client that speaks plain text gets nothing."""
    name = "redis"

    def __init__(self, workdir, password=None, port=None, tls=None):
        super().__init__(workdir)
        self.port = port or free_port()
        self.password = password
        self.tls = tls

    def start(self, timeout=10):
        if not os.path.exists(REDIS_BIN):
            raise HarnessError("%s not found: apt-get install redis-server (build/deps.sh)" % REDIS_BIN)
        cmd = [REDIS_BIN, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", self.workdir, "--protected-mode", "no"]
        if self.tls:
            cmd += ["--port", "0", "--tls-port", str(self.port),
                    "--tls-cert-file", self.tls.cert_pem, "--tls-key-file", self.tls.key_pem,
                    "--tls-ca-cert-file", self.tls.ca_pem, "--tls-auth-clients", "no"]
        else:
            cmd += ["--port", str(self.port)]
        if self.password:
            cmd += ["--requirepass", self.password]
        self._spawn(cmd)

        def ready():
            self.check_running()
            return self.cli("PING").strip() == "PONG"
        wait_for(ready, timeout, what="redis-server on 127.0.0.1:%d" % self.port)
        return self

    def url(self, db=0):
        auth = ":%s@" % self.password if self.password else ""
        return "%s://%s127.0.0.1:%d%s" % ("rediss" if self.tls else "redis", auth, self.port,
                                          "/%d" % db if db else "")

    def cli(self, *args):
        cmd = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port), "--no-auth-warning"]
        if self.tls:
            cmd += ["--tls", "--cacert", self.tls.ca_pem]
        if self.password:
            cmd += ["-a", self.password]
        return run(cmd + list(args), timeout=10).stdout

    def keys(self, pattern="mod_acme:*"):
        return [k for k in self.cli("--scan", "--pattern", pattern).splitlines() if k]


class Sentinel(Daemon):
    """redis-server --sentinel on a free port, watching master (a Redis) as
    mymaster (quorum 1). Its configuration file is its own: Sentinel rewrites it."""
    name = "sentinel"

    def __init__(self, workdir, master, master_name="mymaster"):
        super().__init__(workdir)
        self.port = free_port()
        self.master = master
        self.master_name = master_name

    def start(self, timeout=10):
        conf = os.path.join(self.workdir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 1\n"
                    % (self.port, self.workdir, self.master_name, self.master.port))
        self._spawn([REDIS_BIN, conf, "--sentinel"])

        def ready():
            self.check_running()
            out = run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port),
                       "SENTINEL", "get-master-addr-by-name", self.master_name], timeout=10).stdout
            return str(self.master.port) in out
        wait_for(ready, timeout, what="redis sentinel on 127.0.0.1:%d" % self.port)
        return self


class Balancer:
    """Round-robin TCP forwarder: each accepted connection goes to the next
    backend port. Counts connections per backend."""

    def __init__(self, backends, port=None):
        self.backends = list(backends)
        self.port = port or free_port()
        self.counts = [0] * len(self.backends)
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._open = threading.Event()    # cleared: new connections wait (hold)
        self._open.set()
        self.held = 0                     # connections waiting at the hold now
        self.avoid = set()                # backend ports passed over (as if down)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _pick(self):
        with self._lock:
            i = self._next
            self._next = (self._next + 1) % len(self.backends)
            self.counts[i] += 1
            return self.backends[i]

    def _serve(self):
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._pipe_pair, args=(client, self._pick()), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _connect(self, port):
        """The backend port, or the next ones when it refuses (not started yet,
        killed): as a load balancer with redispatch does."""
        i = self.backends.index(port)
        for k in range(len(self.backends)):
            if self.backends[(i + k) % len(self.backends)] in self.avoid:
                continue
            try:
                return socket.create_connection(
                    ("127.0.0.1", self.backends[(i + k) % len(self.backends)]), timeout=5)
            except OSError:
                continue
        return None

    def hold(self):
        """New connections wait (accepted, not forwarded) until release():
        a proxy gate that keeps the CA's validation fetch in flight."""
        self._open.clear()

    def release(self):
        self._open.set()

    def _pipe_pair(self, client, port):
        if not self._open.is_set():
            with self._lock:
                self.held += 1
            self._open.wait()
            with self._lock:
                self.held -= 1
        upstream = self._connect(port)
        if upstream is None:
            client.close()
            return
        upstream.settimeout(None)
        client.settimeout(None)
        t = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        t.start()
        self._pump(client, upstream)
        t.join(30)
        client.close()
        upstream.close()

    def close(self):
        self._open.set()
        self._stop.set()
        self._sock.close()
        self._thread.join(2)


def key_file(directory, content=None, mode=0o600):
    """An AcmeClusterKeyFile (32 random bytes unless content is given)."""
    path = os.path.join(directory, "cluster.key")
    with open(path, "wb") as f:
        f.write(content if content is not None else os.urandom(32))
    os.chmod(path, mode)
    return path


def order_held_at_authz(cluster, proxy, name):
    """Starts the cluster for name with proxy as its CA and waits until the
    first order's authorization fetch is held at proxy's gate (one order
    at Pebble); returns the gate."""
    cluster.configure([name], extra_acme={"AcmeCA": proxy.directory_url})
    gate = proxy.gate("POST", r"^/authZ/", timeout=600)
    cluster.start()
    wait_for(gate.held.is_set, 180, what="the authorization fetch at the proxy gate")
    assert cluster.pebble.new_order_count() == 1
    return gate


def node_config(node, names, redis_url, key, extra_acme=None):
    """One node's configuration: its own ServerRoot, store and ports, the
    shared Redis and key."""
    acme = {"AcmeCluster": redis_url, "AcmeClusterKeyFile": key, "AcmeChallenges": "http-01"}
    acme.update(extra_acme or {})
    vhosts = "".join(ssl_vhost(n) for n in names)
    node.write_config(vhosts=vhosts, acme=acme)
    return node


# ---- fixtures and checks shared by the test_cluster*.py files ---------------

def log_lines(nodes, pattern):
    """The error log lines of nodes that match pattern (a regex)."""
    rx = re.compile(pattern)
    return [l for n in nodes for l in n.error_log_text().splitlines() if rx.search(l)]


@pytest.fixture
def redis(workdir):
    with harness.started(Redis(harness.make_tree("it-redis-")), "redis-server") as r:
        yield r


@pytest.fixture
def redis_tls(workdir):
    """redis-server on a TLS-only port, its certificate from a CA of its own
    (.tls.ca_pem, for AcmeClusterCACertificateFile)."""
    d = harness.make_tree("it-redis-tls-")
    with harness.started(Redis(d, tls=harness.TestCA(d)), "redis-server (TLS)") as r:
        yield r


class Cluster:
    def __init__(self, workdir, challtestsrv, httpd_factory, redis, n=3, label="cl"):
        self.ports = [free_port() for _ in range(n)]
        self.balancer = Balancer(self.ports)
        # PEBBLE_AUTHZREUSE=0: Pebble 2.4 reuses a valid authorization for
        # half of the new orders of an account by default (makeAuthorizations
        # in its wfe/wfe.go), and a renewal with a reused one has no
        # validation fetch for the tests to route past the ordering node.
        self.pebble = private_pebble(workdir, challtestsrv.dns_port, label + harness.free_port().__str__(),
                                     http_port=self.balancer.port, env={"PEBBLE_AUTHZREUSE": "0"})
        self.key_dir = harness.make_tree("it-cluster-key-")
        self.key = key_file(self.key_dir)
        self.redis = redis
        self.nodes = [httpd_factory(pebble=self.pebble, http_port=p, https_port=free_port(),
                                    prefix="it-cluster-n%d-" % i)
                      for i, p in enumerate(self.ports)]

    def configure(self, names, extra_acme=None, url=None):
        for node in self.nodes:
            node_config(node, names, url or self.redis.url(), self.key, extra_acme)

    def start(self):
        for node in self.nodes:
            node.start()

    def close(self):
        self.balancer.close()
        self.pebble.stop()


@pytest.fixture
def cluster3(workdir, challtestsrv, httpd_factory, redis):
    c = Cluster(workdir, challtestsrv, httpd_factory, redis)
    yield c
    c.close()


@pytest.fixture
def cluster2(workdir, challtestsrv, httpd_factory, redis):
    c = Cluster(workdir, challtestsrv, httpd_factory, redis, n=2, label="c2-")
    yield c
    c.close()


@pytest.fixture
def ca_proxy(cluster3):
    """An ACME proxy over the cluster's Pebble (ARI off: Pebble as it is),
    for holding an order at a gate."""
    from ari_proxy import AcmeProxy
    p = AcmeProxy(cluster3.pebble)
    p.ari_enabled = False
    p.start()
    yield p
    p.stop()


def assert_cluster_served(cluster, names, timeout):
    """Every node serves every name a certificate verified against Pebble's
    root (with the hostname check); returns {name: {serials}}."""
    serials = {}
    for node in cluster.nodes:
        for name in names:
            cert = node.wait_for_pebble_cert(name, timeout=timeout)
            assert name in harness.cert_names(cert)
            serials.setdefault(name, set()).add(cert.serial_number)
    return serials


def assert_one_order_each(cluster, names, timeout):
    """Exactly one order per certificate at Pebble, one publisher per name,
    the two other nodes each take it in from Redis, and every node serves the
    same certificate. Prints the time from start to served everywhere."""
    t0 = time.monotonic()
    cluster.start()
    serials = assert_cluster_served(cluster, names, timeout)
    elapsed = time.monotonic() - t0
    print("cluster: %d name(s) served on all %d nodes %.1f s after start"
          % (len(names), len(cluster.nodes), elapsed))
    assert all(len(v) == 1 for v in serials.values()), serials
    assert cluster.pebble.new_order_count() == len(names), cluster.pebble.request_lines()
    logs = [n.error_log_text() for n in cluster.nodes]
    for name in names:
        published = [i for i, t in enumerate(logs)
                     if re.search(r"ACME01017: %s: certificate published" % re.escape(name), t)]
        assert len(published) == 1, (name, published)
        taken = sum(len(re.findall(r"ACME01023: %s: certificate" % re.escape(name), t))
                    for t in logs)
        assert taken == len(cluster.nodes) - 1, (name, taken)
    # Which node answered the CA's fetch is up to the balancer (its counts
    # include connections that are not validations); one order each shows
    # every fetch was answered. Printed for the record.
    print("cluster: balancer connections %s, answers served from Redis %d"
          % (cluster.balancer.counts, sum(t.count("ACME01013") for t in logs)))
    # In Redis only sealed values: no key authorization, chain or key in clear.
    for k in cluster.redis.keys("mod_acme:chal:*") + cluster.redis.keys("mod_acme:cert:*") \
            + cluster.redis.keys("mod_acme:key:*"):
        assert cluster.redis.cli("GETRANGE", k, "0", "3").strip() == "mac1", k
    assert len(cluster.redis.keys("mod_acme:key:*")) >= len(names)
    assert cluster.redis.keys("mod_acme:lock:*") == [], "claim not released"
    return serials


# ---- a node killed while it orders (test_cluster_takeover*.py) -------------

def kill9_server(node):
    """kill -9 of the node's parent and every child, all at once."""
    pids = set(p for p in harness.pids_with_arg(node.serverroot) if p != os.getpid())
    if node.pid():
        pids.add(node.pid())
    harness.kill9(pids)
    wait_for(lambda: not port_open(node.http_port), 10, what="the killed node's port to close")


def the_orderer(cluster, name):
    """The one node that claimed name's order (ACME01015)."""
    claim = re.compile(r"ACME01015: %s: this node orders it" % re.escape(name))
    orderers = [n for n in cluster.nodes if claim.search(n.error_log_text())]
    assert len(orderers) == 1, [n.serverroot for n in orderers]
    return orderers[0]


def take_over(cluster, victim, name, release, timeout):
    """kill -9 of victim (the orderer), then release() of what the test held
    back; waits until every other node serves name verified against
    Pebble's root. Returns (survivors, their serials, when victim died)."""
    kill9_server(victim)
    victim.started = False
    killed_at = time.monotonic()
    release()
    survivors = [n for n in cluster.nodes if n is not victim]
    serials = set()
    for node in survivors:
        serials.add(node.wait_for_pebble_cert(name, timeout=timeout).serial_number)
    return survivors, serials, killed_at


def taken_over_once(survivors, name):
    """The error log of the one survivor that took name's order over
    (ACME01029), and every survivor's log."""
    logs = [n.error_log_text() for n in survivors]
    took = [t for t in logs if re.search(r"ACME01029: %s: taking over order \S+ from cluster node"
                                         % re.escape(name), t)]
    assert len(took) == 1, "no (or more than one) survivor took the order over"
    return took[0], logs


def assert_published_once(logs, name):
    assert len(re.findall(r"ACME01017: %s: certificate published" % re.escape(name),
                          "".join(logs))) == 1


def wait_order_state_gone(cluster):
    wait_for(lambda: not cluster.redis.keys("mod_acme:job:*")
             and not cluster.redis.keys("mod_acme:lock:*"), 30,
             what="order state and claim to leave Redis")
