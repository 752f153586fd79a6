#!/usr/bin/python3
"""Scale benchmark: mod_acme with N AcmeDomain vhosts against the same N SSL
vhosts with one static certificate and no mod_acme, side by side on this machine.

Rows (each run alternates mod_acme and plain, so load drifts hit both):
  configtest        `apache2 -t` wall time and CPU time (user+sys of the process)
  start -> serving  from `apache2 -k start` until the plain port answers; with
                    two runs or more also the median [min-max] of each run's
                    ratio to the plain start beside it (less moved by drift
                    between runs than the ratio of the two medians)
  graceful restart  from `apache2 -k graceful` until the parent logs that it
                    resumes (AH00489): the new configuration read, every
                    post_config hook run
  PSS               parent + its two oldest children (the MPM is held at two:
                    StartServers 2, spare threads within what two give), from
                    /proc/PID/smaps_rollup, 3 s after serving, and again after
                    the status page requests; a further child the MPM started
                    anyway is left out of the sum and shown in its count
  status page       GET /acme-status as JSON and HTML, median of 5
  static req/s      wrk on a small static file, mod_acme loaded vs not loaded
  http-01 answers/s wrk on a pending challenge token vs the same static file
                    (Pebble behind the test proxy, the challenge POST held so the
                    answer stays published)
  mod_md            start -> all served and ACME requests per domain, from bench.py

mod_acme's CA is unreachable in the scale rows (a closed port), as a new user's
first start with the CA down: nothing is issued, every vhost serves the shared
fallback certificate. Prints a Markdown table: medians with [min-max] of --runs.
--archive V plants a store as after V renewals of every domain (V archived
versions, the newest live, keys/<name>/ with its key), so startup walks what a
long-running server's store holds.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from bench import HTTPD_BASE_CONF, filesystem  # noqa: E402

APACHE2 = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NAME_FMT = "d{:05d}.bench.test"

COMMON = HTTPD_BASE_CONF + """\
SSLSessionCache none
StartServers 2
ThreadsPerChild 25
MinSpareThreads 25
MaxSpareThreads 75
<Directory />
    Require all granted
</Directory>
"""

ACME = """\
LoadModule acme_module {so}
AcmeCA {ca}
AcmeAgreeToTerms on
AcmeContact admin@bench.test
AcmePortMap http:{http} https:{https}
AcmeStoreDir "{root}/acme"
{extra}
<Location /acme-status>
    SetHandler acme-status
</Location>
"""


def median_spread(values, fmt):
    """'median [min-max]' of the numbers, or '—'."""
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt % med
    return "%s [%s–%s]" % (fmt % med, fmt % min(values), fmt % max(values))


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return ("%s, %d CPUs (%s), %.0f GiB RAM, kernel %s, work directories on %s, "
            "load %.1f at start") % (
        platform.node(), os.cpu_count(), cpu, mem, platform.release(),
        filesystem(tempfile.gettempdir()), os.getloadavg()[0])


def static_cert(workdir):
    key, cert = os.path.join(workdir, "static.key"), os.path.join(workdir, "static.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=bench.test"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o644)
    return cert, key


class Server:
    """One httpd: mode 'acme' (AcmeDomain in every SSL vhost, fallback
    certificate) or 'plain' (one static certificate, mod_acme not loaded)."""

    def __init__(self, workdir, mode, n, so, cert, ca="", acme_extra="", names=None, ports=None):
        self.mode, self.n = mode, n
        self.root = tempfile.mkdtemp(prefix="%s-%d-" % (mode, n), dir=workdir)
        os.chmod(self.root, 0o755)
        for sub in ("run", "htdocs"):
            os.makedirs(os.path.join(self.root, sub))
        os.chmod(os.path.join(self.root, "htdocs"), 0o755)
        with open(os.path.join(self.root, "htdocs", "small.txt"), "w") as f:
            f.write("x" * 87 + "\n")     # about the size of a key authorization
        self.http, self.https = ports or (harness.free_port(), harness.free_port())
        self.names = names or [NAME_FMT.format(i) for i in range(n)]
        f = dict(root=self.root, modules=MODULES, http=self.http, https=self.https, so=so,
                 ca=ca or "https://127.0.0.1:%d/dir" % harness.closed_port(), extra=acme_extra,
                 loglevel="warn")
        parts = [COMMON.format(**f)]
        if mode == "acme":
            parts.append(ACME.format(**f))
        parts.append("<VirtualHost 127.0.0.1:%d>\n    ServerName localhost\n</VirtualHost>\n"
                     % self.http)
        inner = "    AcmeDomain\n" if mode == "acme" else \
            "    SSLCertificateFile %s\n    SSLCertificateKeyFile %s\n" % cert
        for name in self.names:
            parts.append("<VirtualHost 127.0.0.1:%d>\n    ServerName %s\n    SSLEngine on\n%s"
                         "</VirtualHost>\n" % (self.https, name, inner))
        self.conf = os.path.join(self.root, "httpd.conf")
        with open(self.conf, "w") as fh:
            fh.write("".join(parts))

    @staticmethod
    def env():
        """httpd's environment: this one, with what a sanitized build of
        mod_acme needs (the ASan runtime preloaded, in both modes alike)."""
        return dict(os.environ, **harness.sanitizer_env())

    def cmd(self, *args):
        return [APACHE2, "-d", self.root, "-f", self.conf] + list(args)

    def configtest(self):
        """(wall seconds, CPU seconds) of apache2 -t."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        r = subprocess.run(self.cmd("-t"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self.env())
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise RuntimeError("%s configtest failed: %s" % (self.mode, r.stdout[-2000:].decode()))
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def http_ok(self, path="/small.txt"):
        try:
            with socket.create_connection(("127.0.0.1", self.http), timeout=1) as s:
                s.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % path).encode())
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def start(self, timeout):
        """Seconds from apache2 -k start until the plain port answers."""
        t0 = time.monotonic()
        r = subprocess.run(self.cmd("-k", "start"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=self.env())
        if r.returncode != 0:
            raise RuntimeError("%s start failed: %s" % (self.mode, r.stdout[-2000:].decode()))
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.http_ok():
                return time.monotonic() - t0
            time.sleep(0.005)
        raise RuntimeError("%s: not serving after %.0f s" % (self.mode, timeout))

    def pid(self):
        try:
            with open(os.path.join(self.root, "httpd.pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    CHILDREN = 2     # the MPM's children counted (COMMON holds it there)

    def pss_kib(self):
        """PSS of the parent and its CHILDREN oldest children, KiB; sets
        self.procs to the number of children seen and self.pss_parent,
        self.pss_children to the parts."""
        parent = self.pid()
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    if int(fields[1]) == parent:
                        children.append((int(fields[19]), int(entry)))   # starttime
                except (OSError, ValueError, IndexError):
                    pass
        children.sort()
        self.procs = len(children)

        def pss(pid):
            try:
                with open("/proc/%d/smaps_rollup" % pid) as f:
                    return sum(int(l.split()[1]) for l in f if l.startswith("Pss:"))
            except OSError:
                return 0
        self.pss_parent = pss(parent)
        self.pss_children = [pss(pid) for _, pid in children[:self.CHILDREN]]
        return self.pss_parent + sum(self.pss_children)

    def graceful(self, timeout):
        """Seconds from apache2 -k graceful until the parent resumes (AH00489)."""
        log = os.path.join(self.root, "error.log")

        def resumed():
            with open(log, errors="replace") as f:
                return f.read().count("AH00489")
        before = resumed()
        t0 = time.monotonic()
        r = subprocess.run(self.cmd("-k", "graceful"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=self.env())
        if r.returncode != 0:
            raise RuntimeError("%s graceful failed: %s" % (self.mode, r.stdout[-2000:].decode()))
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if resumed() > before:
                return time.monotonic() - t0
            time.sleep(0.005)
        raise RuntimeError("%s: no AH00489 %.0f s after graceful" % (self.mode, timeout))

    def plant_store(self, versions, cert):
        """The store after `versions` renewals of every domain: archive/<name>/
        <version>/ (cert.pem, chain.pem, privkey.pem 0600), domains/<name> to
        the newest, keys/<name>/ 0700 with its key. Each name gets a
        certificate of its own for the static key (self-signed, valid now),
        so the live version is served as a renewed one would be."""
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID
        store = os.path.join(self.root, "acme")
        with open(cert[1], "rb") as f:
            key = f.read()
        signer = serialization.load_pem_private_key(key, None)
        now = datetime.datetime.now(datetime.timezone.utc)
        for sub, mode in (("archive", 0o755), ("domains", 0o755), ("keys", 0o700)):
            os.makedirs(os.path.join(store, sub), exist_ok=True)
            os.chmod(os.path.join(store, sub), mode)
        os.chmod(store, 0o755)
        for name in self.names:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
            pem = x509.CertificateBuilder().subject_name(subject).issuer_name(subject) \
                .public_key(signer.public_key()).serial_number(x509.random_serial_number()) \
                .not_valid_before(now - datetime.timedelta(days=1)) \
                .not_valid_after(now + datetime.timedelta(days=60)) \
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False) \
                .sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
            for v in range(versions):
                d = os.path.join(store, "archive", name, "%04d" % v)
                os.makedirs(d)
                for f, data, mode in (("cert.pem", pem, 0o644), ("chain.pem", pem, 0o644),
                                      ("privkey.pem", key, 0o600)):
                    fd = os.open(os.path.join(d, f), os.O_WRONLY | os.O_CREAT, mode)
                    os.write(fd, data)
                    os.close(fd)
            os.symlink("../archive/%s/%04d" % (name, versions - 1),
                       os.path.join(store, "domains", name))
            k = os.path.join(store, "keys", name)
            os.makedirs(k, mode=0o700)
            fd = os.open(os.path.join(k, "planted.key"), os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, key)
            os.close(fd)

    def get_ms(self, path, accept=None, tries=5):
        """Median milliseconds of GET path on the plain port (full body read)."""
        times = []
        for _ in range(tries):
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", self.http), timeout=30) as s:
                hdr = "Accept: %s\r\n" % accept if accept else ""
                s.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n%s\r\n" % (path, hdr)).encode())
                # a list, not bytes +=: appending to one bytes object copies
                # it each time, which at 10,000 domains (MBs of page) cost
                # this client more than the server's answer
                chunks = []
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
                data = b"".join(chunks)
            times.append((time.monotonic() - t0) * 1000)
            if not data.startswith(b"HTTP/1.1 200"):
                raise RuntimeError("GET %s: %r" % (path, data[:200]))
        return statistics.median(times)

    def stop(self):
        pid = self.pid()
        subprocess.run(self.cmd("-k", "stop"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=self.env())
        deadline = time.monotonic() + 30
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        harness.kill_pids(harness.pids_with_arg(self.root))


def wrk_rps(port, path, host, seconds):
    """Requests/s of wrk (1 thread, 8 keep-alive connections) on path."""
    r = subprocess.run(["wrk", "-t1", "-c8", "-d%ds" % seconds, "-H", "Host: " + host,
                        "http://127.0.0.1:%d%s" % (port, path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 30)
    out = r.stdout.decode()
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m or re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError("wrk on %s: %s" % (path, out[-400:]))
    return float(m.group(1))


# ---------------------------------------------------------------- rows ---

def scale_rows(args, so, workdir, cert):
    rows = []
    added = {}     # N -> KiB mod_acme adds (median PSS difference)
    for n in args.ns:
        res = {m: {"ct": [], "cpu": [], "start": [], "pss": [], "json": [], "html": [],
                   "rps": [], "pss_status": [], "graceful": [], "procs": [], "parent": [],
                   "child": []} for m in ("acme", "plain")}
        first_row, loads = len(rows), []
        for run in range(args.runs):
            for mode in ("acme", "plain") if run % 2 == 0 else ("plain", "acme"):
                loads.append(os.getloadavg()[0])
                srv = Server(workdir, mode, n, so, cert)
                r = res[mode]
                if mode == "acme" and args.archive:
                    srv.plant_store(args.archive, cert)
                try:
                    wall, cpu = srv.configtest()
                    r["ct"].append(wall)
                    r["cpu"].append(cpu)
                    if args.configtest_only:
                        continue
                    r["start"].append(srv.start(args.timeout + n * 0.02))
                    time.sleep(3)
                    r["pss"].append(srv.pss_kib())
                    r["procs"].append(srv.procs)
                    r["parent"].append(srv.pss_parent)
                    r["child"].extend(srv.pss_children)
                    if mode == "acme":
                        r["json"].append(srv.get_ms("/acme-status?format=json"))
                        r["html"].append(srv.get_ms("/acme-status", "text/html"))
                        # the children that answered keep the overview's text
                        r["pss_status"].append(srv.pss_kib())
                    if n <= args.static_max_n and args.wrk_seconds:
                        r["rps"].append(wrk_rps(srv.http, "/small.txt", "localhost",
                                                args.wrk_seconds))
                    r["graceful"].append(srv.graceful(args.timeout + n * 0.02))
                finally:
                    srv.stop()
                    shutil.rmtree(srv.root, ignore_errors=True)
        a, p = res["acme"], res["plain"]
        ratio = lambda x, y: "%.2f" % (med(x) / med(y)) if med(x) and med(y) else "—"
        rows.append(("`apache2 -t` wall", n, median_spread(a["ct"], "%.2f s"),
                     median_spread(p["ct"], "%.2f s"), ratio(a["ct"], p["ct"]), "≤ 1.1"))
        rows.append(("`apache2 -t` CPU (user+sys)", n, median_spread(a["cpu"], "%.2f s"),
                     median_spread(p["cpu"], "%.2f s"), ratio(a["cpu"], p["cpu"]), "≤ 1.1"))
        if args.configtest_only:
            continue
        rows.append(("start → serving", n, median_spread(a["start"], "%.2f s"),
                     median_spread(p["start"], "%.2f s"), ratio(a["start"], p["start"]), "≤ 1.1"))
        if len(a["start"]) == len(p["start"]) > 1 and all(p["start"]):
            # the runs alternate (acme, plain / plain, acme): each pair saw
            # the machine alike, where the medians of either side may come
            # from runs minutes apart
            rows.append(("start → serving, each run's ratio to the plain start beside it", n,
                         "", "", median_spread([x / y for x, y in zip(a["start"], p["start"])],
                                               "%.2f"), "≤ 1.1"))
        rows.append(("graceful restart → resumed", n, median_spread(a["graceful"], "%.2f s"),
                     median_spread(p["graceful"], "%.2f s"), ratio(a["graceful"], p["graceful"]),
                     ""))
        procs = lambda x: "/".join(str(c) for c in sorted(set(x)))
        rows.append(("PSS parent + %d children (children seen: %s / %s)"
                     % (Server.CHILDREN, procs(a["procs"]), procs(p["procs"])), n,
                     median_spread([v / 1024 for v in a["pss"]], "%.1f MiB"),
                     median_spread([v / 1024 for v in p["pss"]], "%.1f MiB"),
                     ratio(a["pss"], p["pss"]), ""))
        rows.append(("PSS parent", n, median_spread([v / 1024 for v in a["parent"]], "%.1f MiB"),
                     median_spread([v / 1024 for v in p["parent"]], "%.1f MiB"),
                     ratio(a["parent"], p["parent"]), ""))
        rows.append(("PSS per child", n, median_spread([v / 1024 for v in a["child"]], "%.1f MiB"),
                     median_spread([v / 1024 for v in p["child"]], "%.1f MiB"),
                     ratio(a["child"], p["child"]), ""))
        if med(a["pss"]) and med(p["pss"]):
            added[n] = med(a["pss"]) - med(p["pss"])
            rows.append(("memory added per domain", n, "%.1f KiB" % ((med(a["pss"]) - med(p["pss"])) / n),
                         "", "", "≤ 4 KiB"))
        if med(a["pss_status"]) and med(p["pss"]):
            rows.append(("memory added per domain, after 10 status page requests", n,
                         "%.1f KiB" % ((med(a["pss_status"]) - med(p["pss"])) / n),
                         "", "", "≤ 4 KiB"))
        rows.append(("status page JSON", n, median_spread(a["json"], "%.1f ms"), "", "", "≤ 100 ms"))
        rows.append(("status page HTML", n, median_spread(a["html"], "%.1f ms"), "", "", "≤ 100 ms"))
        if a["rps"] and p["rps"]:
            rows.append(("static file req/s (wrk), module loaded vs not", n,
                         median_spread(a["rps"], "%.0f"), median_spread(p["rps"], "%.0f"),
                         ratio(a["rps"], p["rps"]), "within noise"))
        loads.append(os.getloadavg()[0])
        rows[first_row:] = [r + (median_spread(loads, "%.1f"),) for r in rows[first_row:]]
    # the slope between the smallest and the largest N: fixed costs (the
    # watchdog child, the store) cancel out
    if len(args.ns) >= 2 and not args.configtest_only:
        lo, hi = args.ns[0], args.ns[-1]
        if lo in added and hi in added and hi != lo:
            rows.append(("memory added per domain, slope N=%d→%d" % (lo, hi), hi,
                         "%.1f KiB" % ((added[hi] - added[lo]) / (hi - lo)), "", "", "≤ 4 KiB"))
    return rows


def http01_rows(args, so, workdir):
    """wrk on a pending http-01 token against the same server's static file."""
    from ari_proxy import AcmeProxy
    dns = harness.ChallTestSrv(workdir)
    srv_holder = {}
    name = "http01.bench.test"
    rows = []
    http, https = harness.free_port(), harness.free_port()
    pebble = harness.Pebble(workdir, dns.dns_port, http, https)
    proxy = None
    try:
        dns.start()
        pebble.start()
        proxy = AcmeProxy(pebble).start()
        # mod_acme publishes the answer, then POSTs the challenge: held at
        # the proxy, the answer stays published while wrk asks for it
        gate = proxy.gate("POST", r"^/chalZ/", timeout=600)
        srv = Server(workdir, "acme", 1, so, None, ca=proxy.directory_url, names=[name],
                     ports=(http, https),
                     acme_extra="AcmeCACertificateFile %s\nAcmeChallenges http-01"
                     % pebble.ca.ca_pem)
        srv_holder["srv"] = srv
        srv.start(60)
        if not gate.held.wait(120):
            raise RuntimeError("no challenge POST reached the proxy")
        token = proxy.http01_tokens()[0]
        path = "/.well-known/acme-challenge/" + token
        ans, static = [], []
        for _ in range(args.runs):
            ans.append(wrk_rps(srv.http, path, name, args.wrk_seconds))
            static.append(wrk_rps(srv.http, "/small.txt", name, args.wrk_seconds))
        rows.append(("http-01 answers/s vs static file (wrk)", 1, median_spread(ans, "%.0f"),
                     median_spread(static, "%.0f"),
                     "%.2f" % (med(ans) / med(static)), "≥ 0.9"))
    finally:
        if proxy:
            proxy.stop()
        if "srv" in srv_holder:
            srv_holder["srv"].stop()
        pebble.stop()
        dns.stop()
    return rows


def mod_md_rows(args, so):
    """start → all served and requests per domain, mod_acme vs mod_md (bench.py)."""
    import bench
    rows = []
    for n in args.md_ns:
        got = {}
        for module in ("mod_acme", "mod_md"):
            runs = [bench.run_one(module, n, 60 + 2.4 * n, so, False) for _ in range(args.runs)]
            got[module] = runs
            bad = [r["status"] for r in runs if r["status"] != "ok"]
            if bad:
                print("%s N=%d: %s" % (module, n, bad), file=sys.stderr)
        a = [r["all_certs"] for r in got["mod_acme"]]
        m = [r["all_certs"] for r in got["mod_md"]]
        rows.append(("start → all served (mod_md: + its graceful)", n, median_spread(a, "%.2f s"),
                     "mod_md " + median_spread(m, "%.2f s"),
                     "%.1f× faster" % (med(m) / med(a)) if med(a) and med(m) else "—",
                     "≥ 15× (50), ≥ 30× (1,000)"))
        rows.append(("ACME requests per domain", n,
                     median_spread([r["requests"] for r in got["mod_acme"]], "%.1f"),
                     "mod_md " + median_spread([r["requests"] for r in got["mod_md"]], "%.1f"),
                     "", "≤ 7"))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="1000,10000", help="domain counts for the scale rows [1000,10000]")
    ap.add_argument("--runs", type=int, default=3, help="runs per cell; medians and [min–max] [3]")
    ap.add_argument("--md", default="50", help="domain counts against mod_md; '' for none [50]")
    ap.add_argument("--no-http01", action="store_true", help="skip the http-01 answers/s row")
    ap.add_argument("--configtest-only", action="store_true", help="only the configtest rows")
    ap.add_argument("--wrk-seconds", type=int, default=5, help="seconds per wrk run; 0 skips [5]")
    ap.add_argument("--static-max-n", type=int, default=1000,
                    help="largest N with the static req/s row [1000]")
    ap.add_argument("--timeout", type=float, default=120, help="start timeout, + 0.02 s per domain")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    ap.add_argument("--archive", type=int, default=0,
                    help="plant V archived versions per domain in mod_acme's store [0]")
    args = ap.parse_args()
    args.ns = [int(x) for x in args.n.split(",") if x.strip()]
    args.md_ns = [int(x) for x in args.md.split(",") if x.strip()]
    if os.geteuid() != 0:
        sys.exit("tests/bench/run must run as root (httpd binds and switches to www-data)")
    so = os.path.join(os.environ.get("ACME_BUILD_DIR", REPO_ROOT), ".libs", "mod_acme.so")
    if not os.path.exists(so):
        sys.exit("%s not found: build it (build/build.sh) or set ACME_BUILD_DIR" % so)
    if args.wrk_seconds and not shutil.which("wrk"):
        sys.exit("wrk not found (apt-get install wrk), or pass --wrk-seconds 0")
    where = machine()
    workdir = tempfile.mkdtemp(prefix="acme-bench-")
    os.chmod(workdir, 0o755)
    rows = []
    try:
        cert = static_cert(workdir)
        rows += scale_rows(args, so, workdir, cert)
        if not args.configtest_only and not args.no_http01 and args.wrk_seconds:
            rows += http01_rows(args, so, workdir)
        if not args.configtest_only and args.md_ns:
            rows += mod_md_rows(args, so)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("| metric | N | mod_acme | without mod_acme | ratio | target | load (1 min) |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for r in rows:
        r = tuple(r) + (() if len(r) > 6 else ("%.1f" % os.getloadavg()[0],))
        print("| %s | %s | %s | %s | %s | %s | %s |" % (r[0], "{:,}".format(r[1]), *r[2:]))
    print()
    print("Medians of %d runs, [min–max]. Machine: %s." % (args.runs, where))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": where, "runs": args.runs, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
