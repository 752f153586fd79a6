"""Cluster pieces for the AcmeCluster tests: a real redis-server of the test's
own (free port, own directory, no persistence unless asked), a round-robin TCP
balancer in front of several httpd nodes (the port Pebble validates at), and a
node factory. Nothing is mocked: Pebble, httpd and Redis are the real ones."""
import os
import socket
import threading

from harness import Daemon, HarnessError, Httpd, free_port, make_tree, port_open, run, ssl_vhost, wait_for

REDIS_BIN = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"


class Redis(Daemon):
    """redis-server on 127.0.0.1 and a free port; password optional."""
    name = "redis"

    def __init__(self, workdir, password=None, port=None):
        super().__init__(workdir)
        self.port = port or free_port()
        self.password = password

    def start(self, timeout=10):
        if not os.path.exists(REDIS_BIN):
            raise HarnessError("%s not found: apt-get install redis-server (build/deps.sh)" % REDIS_BIN)
        cmd = [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", self.workdir, "--protected-mode", "no"]
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
        return "redis://%s127.0.0.1:%d%s" % (auth, self.port, "/%d" % db if db else "")

    def cli(self, *args):
        cmd = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port), "--no-auth-warning"]
        if self.password:
            cmd += ["-a", self.password]
        return run(cmd + list(args), timeout=10).stdout

    def keys(self, pattern="mod_acme:*"):
        return [k for k in self.cli("--scan", "--pattern", pattern).splitlines() if k]


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
            try:
                return socket.create_connection(
                    ("127.0.0.1", self.backends[(i + k) % len(self.backends)]), timeout=5)
            except OSError:
                continue
        return None

    def _pipe_pair(self, client, port):
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


def node_config(node, names, redis_url, key, extra_acme=None):
    """One node's configuration: its own ServerRoot, store and ports, the
    shared Redis and key."""
    acme = {"AcmeCluster": redis_url, "AcmeClusterKeyFile": key, "AcmeChallenges": "http-01"}
    acme.update(extra_acme or {})
    vhosts = "".join(ssl_vhost(n) for n in names)
    node.write_config(vhosts=vhosts, acme=acme)
    return node
