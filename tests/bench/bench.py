#!/usr/bin/python3
"""Side-by-side benchmark: mod_acme against Debian's mod_md, on a local Pebble.

For each module and each N, a fresh Pebble, pebble-challtestsrv, ServerRoot and
store are created, httpd is started with N managed SSL vhosts, and the script
measures how long it takes until httpd answers on its plain port, how long until
all N names serve a certificate issued by Pebble, and how many ACME requests
Pebble received per domain.  See docs/benchmarks.md for the meaning of each column.
"""

import argparse
import concurrent.futures
import contextlib
import datetime
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402  (Pebble and pebble-challtestsrv fixtures)

APACHE2 = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
MOD_MD = os.path.join(MODULES, "mod_md.so")
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOMAIN_FMT = "d{:03d}.bench.test"

# mod_md says this once per Managed Domain when its new certificate is staged.
MD_STAGED_RE = re.compile(r"AH10059: The Managed Domain (\S+) has been setup")
# What each module logs when a new certificate is in its store, waiting for activation.
STAGED_LINE_RE = {
    "mod_md": re.compile(r"^\[([^\]]+)\].*AH10059: The Managed Domain"),
    "mod_acme": re.compile(r"^\[([^\]]+)\].*ACME00405: .*new certificate staged"),
}
# httpd's "resuming normal operations" line names its version; mod_md says its own at startup.
HTTPD_VERSION_RE = re.compile(r"AH00489: Apache/(\S+)")
MOD_MD_VERSION_RE = re.compile(r"AH10071: mod_md \(v([^,)]+)\)")
KNOWN_MODULES = ("mod_acme", "mod_md")
# The work directories run_one left in place (failed runs, or keep).
KEPT_DIRS = []


# ---------------------------------------------------------------- signals ---

class Interrupted(BaseException):
    """SIGINT or SIGTERM during a run: not an Exception, so a run's own error
    handling lets it through to its cleanup and to main()."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# The first SIGINT/SIGTERM (its number) and whether a cleanup is under way.
_signal_state = {"received": None, "cleaning": 0}


def on_signal(signum, frame):
    """The first SIGINT or SIGTERM: every further one is ignored, so the
    cleanup it starts runs to its end. Raised at once, or, during a cleanup,
    when that cleanup is over (check_interrupted)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _signal_state["received"] is None:
        _signal_state["received"] = signum
    if not _signal_state["cleaning"]:
        raise Interrupted(signum)


def check_interrupted():
    """Raises Interrupted if a signal came during a cleanup."""
    if _signal_state["received"] is not None:
        raise Interrupted(_signal_state["received"])


@contextlib.contextmanager
def cleaning_up():
    """A cleanup that a signal must not cut short: the signal waits for its end."""
    _signal_state["cleaning"] += 1
    try:
        yield
    finally:
        _signal_state["cleaning"] -= 1


def free_ports(count):
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_for(predicate, deadline, interval=0.02):
    """Poll until predicate() is true; returns False at the deadline."""
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


# ---------------------------------------------------------------- Pebble ---

class CA:
    """Pebble and its DNS (pebble-challtestsrv) from the integration harness,
    counting only the ACME requests made after both are up."""

    def __init__(self, workdir, http_port, https_port):
        self.dns = harness.ChallTestSrv(workdir)
        self.pebble = harness.Pebble(workdir, self.dns.dns_port, http_port, https_port)
        self.directory = self.pebble.directory_url
        self.ca_file = self.pebble.ca.ca_pem
        self.root_path = self.pebble.root_pem
        self.baseline = 0

    def start(self):
        self.dns.start()
        self.pebble.start()
        self.baseline = self.pebble.acme_request_count()

    def request_count(self):
        return self.pebble.acme_request_count() - self.baseline

    def stop(self):
        self.pebble.stop()
        self.dns.stop()


# ---------------------------------------------------------------- httpd ---

# What every benchmark httpd has (scale.py adds its own tail).
HTTPD_BASE_CONF = """\
ServerRoot "{root}"
ServerName localhost
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
LogLevel {loglevel}
DefaultRuntimeDir "{root}/run"
Mutex file:{root}/run default
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule ssl_module {modules}/mod_ssl.so
User www-data
Group www-data
Listen 127.0.0.1:{http}
Listen 127.0.0.1:{https}
TypesConfig /etc/mime.types
DocumentRoot "{root}/htdocs"
"""

COMMON_CONF = HTTPD_BASE_CONF + """\
ServerAdmin admin@bench.test
SSLSessionCache none
<Directory />
    Require all granted
</Directory>
"""

MOD_MD_CONF = """\
LoadModule md_module {mod_md}
MDCertificateAuthority {directory}
MDCACertificateFile {ca_file}
MDCertificateAgreement accepted
MDContactEmail admin@bench.test
MDPortMap http:{http} https:{https}
MDStoreDir "{root}/md"
<Location /md-status>
    SetHandler md-status
</Location>
"""

MOD_ACME_CONF = """\
LoadModule acme_module {mod_acme}
AcmeCA {directory}
AcmeCACertificateFile {ca_file}
AcmeTrustedRootsFile {root_pem}
AcmeAgreeToTerms on
AcmeContact admin@bench.test
AcmePortMap http:{http} https:{https}
AcmeStoreDir "{root}/acme"
"""

VHOST_CONF = """\
<VirtualHost 127.0.0.1:{https}>
    ServerName {name}
    SSLEngine on
    {manage}
</VirtualHost>
"""


def loglevel_for(module, loglevel):
    """The LogLevel of one module's run: a level set for the other module
    (acme:... in mod_md's run, md:... in mod_acme's) is dropped, as httpd
    refuses a LogLevel naming a module that is not loaded."""
    other = "md:" if module == "mod_acme" else "acme:"
    return " ".join(t for t in loglevel.split() if not t.startswith(other)) or "info"


class Httpd:
    def __init__(self, module, workdir, n, http_port, https_port, pebble, mod_acme_path,
                 loglevel="info"):
        self.module = module
        self.root = os.path.join(workdir, "httpd")
        self.http_port, self.https_port = http_port, https_port
        self.names = [DOMAIN_FMT.format(i + 1) for i in range(n)]
        for sub in ("", "run", "htdocs"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        for d in (workdir, self.root, os.path.join(self.root, "htdocs")):
            os.chmod(d, 0o755)
        with open(os.path.join(self.root, "htdocs", "index.html"), "w") as f:
            f.write("bench\n")
        os.chmod(os.path.join(self.root, "htdocs", "index.html"), 0o644)
        fields = dict(root=self.root, modules=MODULES, http=http_port, https=https_port,
                      directory=pebble.directory, ca_file=pebble.ca_file, mod_md=MOD_MD,
                      root_pem=pebble.root_path,
                      mod_acme=mod_acme_path, loglevel=loglevel_for(module, loglevel))
        conf = COMMON_CONF.format(**fields)
        if module == "mod_md":
            conf += MOD_MD_CONF.format(**fields)
            manage = lambda name: ""
            conf += "".join("MDomain %s\n" % name for name in self.names)
        else:
            conf += MOD_ACME_CONF.format(**fields)
            manage = lambda name: "AcmeDomain"
        conf += "<VirtualHost 127.0.0.1:{http}>\n    ServerName localhost\n</VirtualHost>\n".format(
            http=http_port)
        for name in self.names:
            conf += VHOST_CONF.format(https=https_port, name=name, manage=manage(name))
        self.conf_path = os.path.join(self.root, "httpd.conf")
        with open(self.conf_path, "w") as f:
            f.write(conf)
        self.error_log = os.path.join(self.root, "error.log")

    def apachectl(self, *args, check=True, timeout=120):
        return subprocess.run([APACHE2, "-d", self.root, "-f", self.conf_path] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                              check=check)

    def configtest(self):
        r = self.apachectl("-t", check=False)
        if r.returncode != 0:
            raise RuntimeError("configtest failed: " + r.stdout.decode("utf-8", "replace"))

    def start(self, timeout=120):
        """apache2 -k start; it returns once the parent has run post_config
        and detached, which for mod_md at 1,000 domains (an RSA-2048 fallback
        key made per domain first) takes minutes: timeout in seconds."""
        r = self.apachectl("-k", "start", check=False, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("httpd start failed: " + r.stdout.decode("utf-8", "replace"))

    def graceful(self):
        self.apachectl("-k", "graceful", check=False)

    def parent_pid(self):
        try:
            with open(os.path.join(self.root, "httpd.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        pid = self.parent_pid()
        self.apachectl("-k", "stop", check=False)
        if pid is None:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill_leftovers(self):
        """Children of a parent that did not stop, found by this run's unique ServerRoot."""
        harness.kill_pids(harness.pids_with_arg(self.root))

    def http_ok(self):
        try:
            with socket.create_connection(("127.0.0.1", self.http_port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def error_log_text(self):
        try:
            with open(self.error_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def serves_pebble_cert(name, port, ctx):
    """True if NAME on PORT presents a chain that verifies to Pebble's root."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname=name):
                return True
    except (OSError, ssl.SSLError):
        return False


def last_staged_after(module, log_text, wall_t0):
    """Seconds from wall_t0 to the last 'certificate staged' line of the error log."""
    last = None
    for line in log_text.splitlines():
        m = STAGED_LINE_RE[module].match(line)
        if m:
            try:
                stamp = datetime.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S.%f %Y")
            except ValueError:
                continue
            last = (stamp - wall_t0).total_seconds()
    return last


# Handshakes the probe makes at once once the first pending name is served:
# one after the other, N handshakes of the benchmark's own (50 at N = 50,
# about a second on a loaded machine) counted against the server.
PROBE_THREADS = 16


def still_pending(pending, port, ctx):
    """The names not yet served with a Pebble certificate. The first one is
    asked alone: while nothing is live yet, one handshake per poll keeps the
    benchmark's own load off the machine. Once it is served, the others are
    asked PROBE_THREADS at a time, in their order, until a batch finds none
    of its names served. A restart that makes many names live at once is
    still seen in one poll; a server that serves each name as soon as it is
    issued (in about the configuration's order) is asked per poll about as
    many names as it served since the last, plus one batch. Asking every
    pending name in every poll made thousands of the benchmark's handshakes
    a second at 1,000 names, which took the CPU the issuance needed."""
    if not pending or not serves_pebble_cert(pending[0], port, ctx):
        return pending
    rest = pending[1:]
    left = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        i = 0
        while i < len(rest):
            batch = rest[i:i + PROBE_THREADS]
            served = list(pool.map(lambda name: serves_pebble_cert(name, port, ctx), batch))
            left.extend(name for name, ok in zip(batch, served) if not ok)
            i += len(batch)
            if not any(served):
                left.extend(rest[i:])
                break
    return left


# ---------------------------------------------------------------- one run ---

def run_one(module, n, timeout, mod_acme_path, keep, loglevel="info"):
    """One run in a fresh work directory (removed when the run is ok and not
    keep). An Interrupted (SIGINT/SIGTERM) still stops httpd, Pebble and
    pebble-challtestsrv and removes the directory before it goes on."""
    pebble = httpd = None
    result = {"module": module, "n": n, "serving": None, "all_certs": None, "issued": None,
              "restarts": None,
              "requests": None, "status": "ok", "workdir": None}
    try:
        with cleaning_up():  # the directory is known before a signal is let through
            result["workdir"] = workdir = tempfile.mkdtemp(prefix="bench-%s-%d-" % (module, n))
        check_interrupted()
        os.chmod(workdir, 0o755)
        http_port, https_port = free_ports(2)
        pebble = CA(workdir, http_port, https_port)
        pebble.start()
        httpd = Httpd(module, workdir, n, http_port, https_port, pebble, mod_acme_path, loglevel)
        httpd.configtest()
        ctx = ssl.create_default_context(cafile=pebble.root_path)
        pending = list(httpd.names)
        restarted = module != "mod_md"

        wall_t0 = datetime.datetime.now()
        t0 = time.monotonic()
        deadline = t0 + timeout
        httpd.start(timeout=max(120, timeout))
        if not wait_for(httpd.http_ok, deadline, 0.005):
            result["status"] = "timeout"
            return result
        result["serving"] = time.monotonic() - t0

        while pending and time.monotonic() < deadline:
            if not restarted:
                staged = set(MD_STAGED_RE.findall(httpd.error_log_text()))
                if set(httpd.names) <= staged:
                    httpd.graceful()
                    restarted = True
            if restarted:
                pending = still_pending(pending, https_port, ctx)
            if pending:
                time.sleep(0.05)
        if pending:
            # still_pending stops when the first name is missed: count every
            # name once here, so a timeout reports how many are served
            unserved = sum(1 for name in pending if not serves_pebble_cert(name, https_port, ctx))
            result["status"] = "timeout (%d of %d names served%s)" % (
                n - unserved, n, "" if restarted else
                ", mod_md staged %d" % len(set(MD_STAGED_RE.findall(httpd.error_log_text()))))
        else:
            result["all_certs"] = time.monotonic() - t0
        result["requests"] = pebble.request_count() / n
        log_text = httpd.error_log_text()
        result["issued"] = last_staged_after(module, log_text, wall_t0)
        result["restarts"] = log_text.count("SIGUSR1 received.  Doing graceful restart")
        return result
    except Exception as e:  # a failed run is reported, the others still run
        result["status"] = "error: %s" % " ".join(str(e).split())[:240]
        return result
    finally:
        with cleaning_up():
            if httpd is not None:
                httpd.stop()
                httpd.kill_leftovers()
                log_text = httpd.error_log_text()
                for key, pattern in (("httpd_version", HTTPD_VERSION_RE),
                                     ("mod_md_version", MOD_MD_VERSION_RE)):
                    m = pattern.search(log_text)
                    if m:
                        result[key] = m.group(1)
            if pebble is not None:
                pebble.stop()
            if result["workdir"]:  # what a signal left half-started, by the directory's name
                harness.kill_pids(harness.pids_with_arg(result["workdir"]))
            if result["status"] != "ok" and httpd is not None:
                tail = httpd.error_log_text().splitlines()[-15:]
                result["log_tail"] = "\n".join("    " + line[:200] for line in tail)
            if not keep and result["status"] == "ok" and result["workdir"]:
                shutil.rmtree(result["workdir"], ignore_errors=True)
            elif result["workdir"]:
                KEPT_DIRS.append(result["workdir"])


# ---------------------------------------------------------------- report ---

def fmt_seconds(v):
    return "%.2f s" % v if v is not None else "—"


def render(results):
    lines = ["| module | N | start → serving | start → last certificate issued "
             "| start → all certificates served | ACME requests per domain | graceful restarts | status |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        req = "%.1f" % r["requests"] if r["requests"] is not None else "—"
        restarts = "%g" % r["restarts"] if r["restarts"] is not None else "—"
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            r["module"], r["n"], fmt_seconds(r["serving"]), fmt_seconds(r["issued"]),
            fmt_seconds(r["all_certs"]), req, restarts, r["status"].replace("|", "\\|")))
    by = {(r["module"], r["n"]): r for r in results}
    ns = sorted({r["n"] for r in results})
    lines.append("")
    if len(ns) >= 2:
        lo, hi = ns[0], ns[-1]
        for module in ("mod_acme", "mod_md"):
            a, b = by.get((module, lo)), by.get((module, hi))
            if a and b and a["serving"] is not None and b["serving"] is not None:
                target = " (target ≤ 0.20 s)" if module == "mod_acme" else ""
                lines.append("- %s httpd start time, N=%d minus N=%d: %+.2f s%s" % (
                    module, hi, lo, b["serving"] - a["serving"], target))
    lo = ns[0] if ns else None
    a, m = by.get(("mod_acme", lo)), by.get(("mod_md", lo))
    if a and m and a["all_certs"] and m["all_certs"]:
        # the target is N=1's: one certificate, where only the ACME exchange counts
        lines.append("- time to a served certificate at N=%d, mod_acme / mod_md: %.2f%s" % (
            lo, a["all_certs"] / m["all_certs"], " (target ≤ 0.50)" if lo == 1 else ""))
    for n in ns:
        a, m = by.get(("mod_acme", n)), by.get(("mod_md", n))
        if a and m and a["all_certs"] and m["all_certs"]:
            lines.append("- N=%d: mod_acme is %.1f× faster to all served than mod_md "
                         "(mod_md / mod_acme of the medians)" % (n, m["all_certs"] / a["all_certs"]))
    return "\n".join(lines)


def domain_counts(text):
    """--n: a comma-separated list of integers >= 1."""
    try:
        counts = [int(item) for item in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(
            "%r: want a comma-separated list of integers >= 1, e.g. 1,10,50" % text)
    return counts


def module_names(text):
    """--modules: a non-empty comma-separated list of KNOWN_MODULES."""
    items = [item.strip() for item in text.split(",")]
    if not all(item in KNOWN_MODULES for item in items):
        raise argparse.ArgumentTypeError(
            "%r: want a comma-separated list of %s" % (text, ", ".join(KNOWN_MODULES)))
    return items


def at_least_one(text):
    """--repeat: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("%r: want an integer >= 1" % text)
    return value


def positive_seconds(text):
    """--timeout: seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("%r: want seconds > 0" % text)
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=domain_counts, default=[1, 10, 50],
                        help="comma-separated domain counts, each >= 1 [1,10,50]")
    parser.add_argument("--modules", type=module_names, default=list(KNOWN_MODULES),
                        help="which modules to run, of mod_acme and mod_md [mod_acme,mod_md]")
    parser.add_argument("--timeout", type=positive_seconds, default=None,
                        help="seconds per run, > 0 (0 is refused; leave the option out for "
                             "the default) [60 + 2.4 per domain, 180 at N=50]")
    parser.add_argument("--repeat", type=at_least_one, default=1,
                        help="runs per cell, >= 1; the table shows the median [1]")
    parser.add_argument("--keep", action="store_true", help="keep the work directories of every run")
    parser.add_argument("--loglevel", default="info",
                        help="httpd LogLevel, e.g. 'info acme:debug' to profile with --keep (a module's "
                             "own level applies only to its runs) [info]")
    return parser.parse_args(argv)


def git_commit(directory):
    """Short commit of the checkout at directory, "+changes" if tracked files
    differ from it; "unknown" when it is no git checkout."""
    def git(*args):
        return subprocess.run(["git", "-c", "safe.directory=*", "-C", directory] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              timeout=30)
    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.returncode != 0 or dirty.stdout.strip() else "")


def filesystem(path):
    """The file system under path, as "ext4 (/dev/vda), no journal": on ext4
    without a journal, every new inode skips those freed in the last seconds
    (the kernel's recently_deleted check), which grows with the files an
    issuance creates and removes, so figures on such a disk run slower than
    on a journaled one or tmpfs."""
    path = os.path.realpath(path)
    best = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, right = line.split(" - ", 1)
                mnt = left.split()[4].replace("\\040", " ")
                fstype, source = right.split()[:2]
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and (
                        best is None or len(mnt) >= len(best[0])):
                    best = (mnt, fstype, source)
    except (OSError, ValueError, IndexError):
        return "?"
    if not best:
        return "?"
    mnt, fstype, source = best
    text = "%s (%s)" % (fstype, source)
    if fstype == "ext4":
        dev = os.path.basename(source)
        try:
            journaled = any(e.startswith(dev + "-") for e in os.listdir("/proc/fs/jbd2"))
        except OSError:
            journaled = False
        text += ", journal" if journaled else ", no journal"
    return text


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


def context_lines(results, build_dir, started, load_start):
    """What the figures were measured on: times, build, host, versions."""
    lines = ["- start %s, end %s" % (started, utc_now()),
             "- build: %s, commit %s" % (build_dir, git_commit(build_dir)),
             "- host: %d CPUs, load average (1, 5, 15 min) at start %s, at end %s" % (
                 os.cpu_count() or 0, load_start, loadavg()),
             "- work directories (store, Pebble): %s on %s" % (
                 tempfile.gettempdir(), filesystem(tempfile.gettempdir()))]
    versions = []
    for key, label in (("httpd_version", "httpd"), ("mod_md_version", "mod_md")):
        found = sorted({r[key] for r in results if r.get(key)})
        if found:
            versions.append("%s %s" % (label, ", ".join(found)))
    if versions:
        lines.append("- versions: " + "; ".join(versions))
    return lines


def kept_line():
    """How many run directories this run left (KEPT_DIRS), and how to remove them."""
    if not KEPT_DIRS:
        return "- run directories kept: none"
    return ("- run directories kept: %d (failed runs always, every run with --keep); "
            "remove them with: rm -rf %s" % (len(KEPT_DIRS),
                                              os.path.join(tempfile.gettempdir(), "bench-*")))


def main():
    args = parse_args()
    build_dir = os.environ.get("ACME_BUILD_DIR", REPO_ROOT)
    mod_acme_path = os.path.join(build_dir, ".libs", "mod_acme.so")
    modules, ns = args.modules, args.n
    if os.geteuid() != 0:
        sys.exit("bench.py must run as root (httpd binds and switches to www-data)")
    if "mod_acme" in modules and not os.path.exists(mod_acme_path):
        sys.exit("%s not found: build it and set ACME_BUILD_DIR" % mod_acme_path)

    started, load_start = utc_now(), loadavg()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    results, all_runs, runs, note = [], [], [], None
    try:
        for n in ns:
            for module in modules:
                timeout = args.timeout or (60 + 2.4 * n)
                runs = []
                for _ in range(args.repeat):
                    r = run_one(module, n, timeout, mod_acme_path, args.keep, args.loglevel)
                    runs.append(r)
                    all_runs.append(r)
                    report_run(r, args.keep)
                    check_interrupted()
                with cleaning_up():  # the cell is in results, or still in runs
                    results.append(median_result(runs))
                    runs = []
                check_interrupted()
    except Interrupted as e:
        name = signal.Signals(e.signum).name
        if runs:  # the cell under way, from the runs it finished
            row = median_result(runs)
            if len(runs) < args.repeat:
                row["status"] += ", %d of %d runs" % (len(runs), args.repeat)
            results.append(row)
        note = "partial: interrupted by %s, only the rows finished before it" % name
    if note:
        print("(%s)\n" % note)
    print(render(results))
    print("\n".join(context_lines(all_runs, build_dir, started, load_start)))
    print(kept_line())
    if note:
        sys.stdout.flush()
        sys.exit(128 + _signal_state["received"])


def report_run(r, keep):
    print("# %s N=%d: serving %s, all certificates %s, %s requests/domain, %s%s" % (
        r["module"], r["n"], fmt_seconds(r["serving"]), fmt_seconds(r["all_certs"]),
        "%.1f" % r["requests"] if r["requests"] is not None else "—", r["status"],
        "" if r["status"] == "ok" and not keep else " (kept %s)" % r["workdir"]),
        file=sys.stderr, flush=True)
    if r.get("log_tail"):
        print(r["log_tail"], file=sys.stderr, flush=True)


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def median_result(runs):
    """One row per cell: medians over the runs that completed, worst status otherwise."""
    ok = [r for r in runs if r["status"] == "ok"]
    row = dict(runs[0])
    if not ok:
        return row
    for key in ("serving", "all_certs", "requests", "issued", "restarts"):
        row[key] = median([r[key] for r in ok])
    failed = len(runs) - len(ok)
    row["status"] = "ok" if not failed else "ok (%d of %d runs failed)" % (failed, len(runs))
    if len(runs) > 1:
        row["status"] += ", median of %d" % len(ok)
    return row


if __name__ == "__main__":
    main()
