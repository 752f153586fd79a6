"""Real components on loopback for mod_acme's integration tests and demo.

Pebble (the ACME test CA), pebble-challtestsrv (its DNS: every name is
127.0.0.1) and Apache httpd with mod_acme, each in its own temporary directory,
on free ports, started and stopped by the caller. Nothing here is mocked.

The build is found through ACME_BUILD_DIR (default: the repository root, where
build/build.sh builds): ACME_BUILD_DIR/.libs/mod_acme.so and ACME_BUILD_DIR/acmectl.
"""
import atexit
import base64
import contextlib
import ctypes
import datetime
import fcntl
import http.client
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import reaper
from reaper import pid_alive, pids_with_arg  # noqa: F401 (the tests' names for them)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
PEBBLE_BIN = "pebble"
CHALLTESTSRV_BIN = "pebble-challtestsrv"
HTTPD_USER = "www-data"
HTTPD_GROUP = "www-data"


_roots_bundle = None


def roots_bundle():
    """One PEM file with the issuing root of every Pebble this process started
    (each generates its own): httpd's AcmeTrustedRootsFile, so a certificate
    from any of them (failover, CA changes) can be activated."""
    global _roots_bundle
    if _roots_bundle is None:
        d = make_tree("it-roots-")
        atexit.register(shutil.rmtree, d, True)
        _roots_bundle = os.path.join(d, "pebble-roots.pem")
        open(_roots_bundle, "a").close()
        os.chmod(_roots_bundle, 0o644)
    return _roots_bundle


class HarnessError(Exception):
    """A fixture could not be set up; the message says why."""


# --------------------------------------------------------------------------
# small helpers

def build_dir():
    return os.path.abspath(os.environ.get("ACME_BUILD_DIR") or REPO_ROOT)


def module_path():
    return os.path.join(build_dir(), ".libs", "mod_acme.so")


def acmectl_path():
    return os.path.join(build_dir(), "acmectl")


def require_build(paths=None):
    """The module (and whatever else is named) must exist; say where they were looked for."""
    missing = [p for p in (paths or [module_path()]) if not os.path.exists(p)]
    if missing:
        raise HarnessError("mod_acme build not found: %s (build it, or set ACME_BUILD_DIR "
                           "to an out-of-tree build directory)" % ", ".join(missing))


# Ports are handed out from a block of their own per test process, below the
# kernel's ephemeral range (32768+), so neither a parallel test process
# (pytest-xdist worker gwN) nor an outgoing connection's local port can take a
# port between the moment it is chosen here and the moment a server binds it.
# Test runs of other checkouts on the same machine have workers of the same
# numbers, hence the same blocks: a port handed out is also locked (one byte
# of _PORT_LOCKS at the port's offset, a POSIX record lock) for as long as the
# process lives, and a port another process holds is never handed out. The
# kernel drops the locks when the process ends, however it ends.
_PORT_BLOCK = 2400
_PORT_BASE = 10000
_PORT_LOCKS = "/tmp/mod_acme-it-ports.lock"
_ports_given = set()
_port_lock_fd = []


def _port_lock(port):
    """Whether port is now this process's alone (see _PORT_LOCKS)."""
    if not _port_lock_fd:
        fd = os.open(_PORT_LOCKS, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            os.fchmod(fd, 0o666)
        except OSError:
            pass                  # another user's file: it is writable already
        _port_lock_fd.append(fd)
    try:
        fcntl.lockf(_port_lock_fd[0], fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except OSError:
        return False
    return True


def _port_block():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    n = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = _PORT_BASE + (n % 9) * _PORT_BLOCK
    return start, start + _PORT_BLOCK


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on, never handed out twice by
    this process nor while it lives by another test process; from the
    process's block first, then the other workers' blocks (all nine:
    _PORT_BASE to _PORT_BASE + 9 * _PORT_BLOCK); raises HarnessError when
    all are used up."""
    lo, hi = _port_block()
    first = random.randrange(lo, hi)
    span = 9 * _PORT_BLOCK
    for i in range(span):
        port = _PORT_BASE + (first - _PORT_BASE + i) % span
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not _port_lock(port):
            continue
        _ports_given.add(port)
        return port
    raise HarnessError("no free port left in %d-%d" % (_PORT_BASE, _PORT_BASE + span))


def closed_port():
    """A port nothing listens on (bound, never listened, then released)."""
    return free_port()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


_deadline_factor = []


def deadline_factor():
    """How many times longer than written the tests wait for anything (every
    wait_for and run timeout): ACME_UNDER_ASAN when set (a number), else 2
    with a sanitized build (ASan+UBSan make mod_acme two to three times
    slower and the whole machine busier), else 1. Only how long a test waits
    changes, never what it asserts."""
    if not _deadline_factor:
        value = os.environ.get("ACME_UNDER_ASAN")
        try:
            factor = float(value) if value else (2.0 if sanitizer_runtime() else 1.0)
        except ValueError:
            raise HarnessError("ACME_UNDER_ASAN=%r: not a number" % value) from None
        _deadline_factor.append(max(factor, 1.0))
    return _deadline_factor[0]


def slow(seconds):
    """A deadline of seconds, widened by deadline_factor()."""
    return seconds * deadline_factor()


def wait_for(predicate, timeout, interval=0.2, what="condition"):
    """Calls predicate until it returns something truthy; returns that value.
    Exceptions from predicate count as 'not yet'; the last one is reported.
    timeout is widened by deadline_factor() (an instrumented build)."""
    timeout = slow(timeout)
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 -- reported below
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise TimeoutError("timed out after %.0fs waiting for %s%s" % (timeout, what, detail))
        time.sleep(interval)


def status_error(httpd, name, timeout=60, interval=0.5):
    """The status page's error for name, once there is one; the assertion
    names the page and the server's diagnostics when none comes in time."""
    def error():
        return httpd.domain_status(name).get("error")
    try:
        return wait_for(error, timeout, interval=interval,
                        what="an error for %s on the status page" % name)
    except TimeoutError as exc:
        raise AssertionError("%s; page: %s\n%s" % (exc, json.dumps(httpd.status(), indent=1),
                                                   httpd.diagnostics())) from None


def make_tree(prefix):
    """A fresh directory under /tmp that httpd's children (www-data) can traverse."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    return path


def tail(path, lines=60):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as exc:
        return "(cannot read %s: %s)" % (path, exc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(value):
    """A time as the status page or acmectl may give it: RFC 3339, an OpenSSL
    style 'Nov 28 22:49:47 2031 GMT', or seconds since the epoch."""
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if not isinstance(value, str) or not value:
        raise ValueError("not a time: %r" % (value,))
    text = value.strip()
    iso = text.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        t = datetime.datetime.fromisoformat(iso)
        return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        pass
    for fmt in ("%b %d %H:%M:%S %Y %Z", "%a, %d %b %Y %H:%M:%S %Z"):
        try:
            return datetime.datetime.strptime(re.sub(r"\s+", " ", text), fmt).replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            pass
    raise ValueError("unrecognised time format: %r" % (value,))


def cert_names(cert):
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    return {n.lower() for n in san.value.get_values_for_type(x509.DNSName)}


def cert_serial_hex(cert):
    return "%x" % cert.serial_number


def cert_summary(cert):
    return "subject=%s issuer=%s serial=%s names=%s not_after=%s" % (
        cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), cert_serial_hex(cert),
        sorted(cert_names(cert)), cert.not_valid_after)


def clean_env(extra=None):
    """The environment a service gets from init: no CA bundle or proxy
    overrides from the caller's shell (with a sanitized build, what the
    sanitizers need: sanitizer_env; a library extra preloads comes after the
    ASan runtime, which must be first)."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    env.update(sanitizer_env())
    extra = dict(extra or {})
    if "LD_PRELOAD" in extra and env.get("LD_PRELOAD"):
        extra["LD_PRELOAD"] = env["LD_PRELOAD"] + " " + extra["LD_PRELOAD"]
        # ASan's allocator reads the monotonic clock (for its release to
        # the OS) while it holds a size class lock; with a preloaded library
        # that wraps clock_gettime (libfaketime) the wrapper's first call
        # allocates through dlsym and waits on that lock forever. Without
        # the release interval the allocator never reads the clock.
        env["ASAN_OPTIONS"] = ":".join(o for o in (env.get("ASAN_OPTIONS"),
                                                   "allocator_release_to_os_interval_ms=-1") if o)
    env.update(extra)
    return env


# --------------------------------------------------------------------------
# a build with AddressSanitizer and UndefinedBehaviorSanitizer (build/sanitize.sh)

_asan_runtime = []


def tool_env(extra=None):
    """clean_env for a tool that is not under test (curl): without the ASan
    runtime a sanitized build preloads, as libcurl's start-up waits forever
    under it."""
    env = clean_env(extra)
    env.pop("LD_PRELOAD", None)
    return env


def sanitizer_runtime():
    """The ASan runtime (path) the module under test links, or None when the
    build is not sanitized. httpd itself is not instrumented, so the runtime
    must be preloaded into it: it has to come first in the library list."""
    if not _asan_runtime:
        found = None
        try:
            # ldd of a process that has the runtime preloaded already (demo.py
            # started by a test) lists it by path alone, without "=>"
            env = dict((k, v) for k, v in os.environ.items() if k != "LD_PRELOAD")
            out = subprocess.run(["ldd", module_path()], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, timeout=30,
                                 env=env).stdout
            m = re.search(r"^\s*libasan\.so[.0-9]* => (\S+)", out, re.M)
            found = m.group(1) if m else None
        except (OSError, subprocess.SubprocessError):
            pass
        _asan_runtime.append(found)
    return _asan_runtime[0]


SANITIZER_SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                      "sanitizer.supp")


def sanitizer_options(logdir):
    """ASAN_OPTIONS and UBSAN_OPTIONS that write every report to
    logdir/asan.<pid> or logdir/ubsan.<pid> (a test's own directory, checked
    when it ends: sanitizer_reports). Leaks are not reported: httpd leaves
    its pools to exit(); a memory error or undefined behaviour stops the
    process (halt_on_error, and the build's -fno-sanitize-recover). The
    suppressions go into logdir too: httpd's children (the server's User)
    may not be able to reach the source tree."""
    supp = os.path.join(logdir, "sanitizer.supp")
    shutil.copyfile(SANITIZER_SUPPRESSIONS, supp)
    os.chmod(supp, 0o644)
    return {
        "ASAN_OPTIONS": ":".join([
            "log_path=%s/asan" % logdir, "detect_leaks=0", "halt_on_error=1",
            "disable_coredump=1", "suppressions=%s" % supp]),
        "UBSAN_OPTIONS": ":".join([
            "log_path=%s/ubsan" % logdir, "print_stacktrace=1", "halt_on_error=1"]),
    }


def sanitizer_env():
    """What a process started from a test needs with a sanitized build: the
    runtime preloaded, and the current test's ASAN_OPTIONS/UBSAN_OPTIONS."""
    runtime = sanitizer_runtime()
    if not runtime:
        return {}
    env = {"LD_PRELOAD": runtime}
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


# How long a process that began a sanitizer report may take to finish it
# (symbolizing the stacks under load) and exit before its report is judged.
SANITIZER_REPORT_WAIT = 90


def sanitizer_logdir():
    """The current test's report directory (from ASAN_OPTIONS's log_path, set
    by the sanitizer_logs fixture), or None."""
    m = re.search(r"(?:^|:)log_path=([^:]*)/asan(?::|$)", os.environ.get("ASAN_OPTIONS", ""))
    return m.group(1) if m else None


def _report_files(logdir):
    """(path, pid) of every report file in logdir: asan.<pid>, ubsan.<pid>."""
    found = []
    for name in sorted(os.listdir(logdir)) if logdir and os.path.isdir(logdir) else []:
        kind, _, pid = name.partition(".")
        if kind in ("asan", "ubsan") and pid.isdigit():
            found.append((os.path.join(logdir, name), int(pid)))
    return found


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def sanitizer_report_complete(text):
    """Whether a report reads as finished: ASan ends a report with
    '==PID==ABORTING', UBSan's last line is its SUMMARY; a file of warnings
    only (no ERROR, no runtime error) is written whole, line by line."""
    if "==ABORTING" in text:
        return True
    if "ERROR: AddressSanitizer" in text:
        return False
    if "runtime error:" in text:
        return bool(re.search(r"^SUMMARY: UndefinedBehaviorSanitizer: .*\n", text, re.M))
    return True


def sanitized_pids(logdir):
    """Live processes that write their reports to logdir (its path is in
    their environment): whatever the test started and is still running."""
    needle = ("log_path=%s/asan" % logdir).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return [pid for pid in found if pid_alive(pid)]


def sanitizer_wait_writers(pids=None, logdir=None, timeout=SANITIZER_REPORT_WAIT):
    """Waits (at most timeout seconds) until every process of pids (None: any)
    that has begun a report in logdir (default: the current test's) has
    finished it and exited: the process is gone, or its report complete. A
    report is judged only then (a process killed or a directory removed in
    the middle of one loses its stacks). Returns the pids still writing."""
    logdir = logdir or sanitizer_logdir()
    if not logdir:
        return []
    deadline = time.monotonic() + timeout
    while True:
        writing = sorted({pid for path, pid in _report_files(logdir)
                          if (pids is None or pid in pids) and pid_alive(pid)
                          and not sanitizer_report_complete(_read(path))})
        if not writing or time.monotonic() >= deadline:
            return writing
        time.sleep(0.2)


def sanitizer_reports(logdir, timeout=SANITIZER_REPORT_WAIT):
    """(file, pid, text) of every sanitizer report written to logdir, each
    read only once its writer finished it (sanitizer_wait_writers); a report
    still unfinished after timeout says so in its text."""
    still = set(sanitizer_wait_writers(None, logdir, timeout))
    reports = []
    for path, pid in _report_files(logdir):
        text = _read(path)
        if not text.strip():
            continue
        if pid in still:
            text += ("\n[harness: report incomplete: process %d still writing it after %d s]\n"
                     % (pid, timeout))
        reports.append((path, pid, text))
    return reports


# What a sanitizer writes where its log_path cannot take it (stderr: an
# httpd error log, a command's output): a report's first lines, or the
# runtime failing to open its log file.
SANITIZER_MARKERS = re.compile(
    r"^.*(?:ERROR: (?:Address|Leak|UndefinedBehavior)Sanitizer|runtime error: |"
    r"AddressSanitizer:DEADLYSIGNAL|==\d+==ABORTING|"
    r"ERROR: Can't open file: .*(?:asan|ubsan)|"
    r"ASan runtime does not come first).*$", re.M)

# logdir -> {name: findings}: sanitizer lines found in the error logs and
# command outputs of the test whose reports go to logdir (sanitizer_note_log,
# sanitizer_note_output), judged with its report files at the test's end.
_sanitizer_findings = {}


def sanitizer_findings_in(text):
    """The lines of text that come from a sanitizer (SANITIZER_MARKERS)."""
    return [m.group(0).strip() for m in SANITIZER_MARKERS.finditer(text or "")]


def sanitizer_watch_log(path):
    """Remembers an error log to scan when the current test ends (sanitized
    build only): a log removed before then is scanned by sanitizer_note_log
    when its server is cleaned up."""
    logdir = sanitizer_logdir()
    if logdir:
        _sanitizer_findings.setdefault(logdir, {}).setdefault(path, None)


def sanitizer_note_log(path):
    """Scans path now (an error log about to be removed) for sanitizer lines."""
    logdir = sanitizer_logdir()
    if logdir:
        _sanitizer_findings.setdefault(logdir, {})[path] = sanitizer_findings_in(_read(path))


def sanitizer_note_output(what, text):
    """Scans a command's output for sanitizer lines (a sanitized build only)."""
    logdir = sanitizer_logdir()
    found = sanitizer_findings_in(text) if logdir else []
    if found:
        _sanitizer_findings.setdefault(logdir, {}).setdefault(what, []).extend(found)


def sanitizer_log_findings(logdir):
    """[(error log or command, [sanitizer lines])] of the test whose reports
    go to logdir: its servers' error logs (scanned now unless removed
    before) and the outputs of its commands; forgets them."""
    found = []
    for name, lines in sorted(_sanitizer_findings.pop(logdir, {}).items()):
        if lines is None:
            lines = sanitizer_findings_in(_read(name))
        if lines:
            found.append((name, lines))
    return found


def sanitizer_report_digest(text, limit=12000):
    """The part of a report worth reading in a test failure: everything up to
    and with its SUMMARY line (ASan's shadow byte map after it is noise)."""
    m = re.search(r"^SUMMARY: .*$", text, re.M)
    head = text[:m.end()] if m else text
    return head if len(head) <= limit else head[:limit] + "\n[... %d more characters]" % (
        len(head) - limit)


def sanitizer_summary(text):
    """The SUMMARY line of a report, or its first ERROR/runtime error line."""
    for pattern in (r"^SUMMARY: .*$", r"^.*ERROR: .*$", r"^.*runtime error: .*$"):
        m = re.search(pattern, text, re.M)
        if m:
            return m.group(0).strip()
    return text.strip().splitlines()[0] if text.strip() else ""


def run(cmd, timeout=60, env=None, check=False):
    """cmd's completed process, its output as text; timeout (seconds, widened
    by deadline_factor()) raises subprocess.TimeoutExpired."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=slow(timeout),
                          env=env, text=True)
    sanitizer_note_output(" ".join(cmd)[:200], (proc.stdout or "") + (proc.stderr or ""))
    if check and proc.returncode != 0:
        raise HarnessError("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc


def kill_pids(pids, grace=3.0):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill9(pids):
    """kill -9 of every pid at once (a crash), then waits until all are gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not any(pid_alive(p) for p in pids), 10, interval=0.05,
             what="killed processes %s to be gone" % sorted(pids))


# --------------------------------------------------------------------------
# a throwaway CA for Pebble's own listener

class TestCA:
    """CA + server certificate for 127.0.0.1 and localhost: Pebble's HTTPS
    listener presents it; ca_pem is what httpd gets as AcmeCACertificateFile.
    Both valid from `age` ago for `age` + `days` (a clock-jump test wants a
    listener certificate as long-lived as a real CA's may be); rsa_bits: an
    RSA listener key of that size instead of P-256."""

    def __init__(self, directory, age=datetime.timedelta(hours=1), days=7, rsa_bits=None):
        self.dir = directory
        self.ca_pem = os.path.join(directory, "test-ca.pem")
        self.cert_pem = os.path.join(directory, "pebble-listener.pem")
        self.key_pem = os.path.join(directory, "pebble-listener.key")
        now = utcnow()
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mod_acme test listener CA")])
        ca = (x509.CertificateBuilder()
              .subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - age)
              .not_valid_after(now + datetime.timedelta(days=days))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False,
                                           encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
        # rsa_bits: the listener's key is RSA of that size (a level test), else P-256
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits) if rsa_bits \
            else ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - age)
                .not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        with open(self.ca_pem, "wb") as f:
            f.write(ca.public_bytes(serialization.Encoding.PEM))
        with open(self.cert_pem, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(self.key_pem, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.chmod(self.key_pem, 0o600)
        for p in (self.ca_pem, self.cert_pem):
            os.chmod(p, 0o644)


# --------------------------------------------------------------------------
# background processes with a log file

class Daemon:
    name = "process"

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.log_path = os.path.join(workdir, self.name + ".log")
        self._log = None

    def _spawn(self, cmd, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir, env=full_env,
                                         start_new_session=True)
        except FileNotFoundError as exc:
            raise HarnessError("cannot run %s: %s (Debian package 'pebble' installed?)"
                               % (cmd[0], exc))
        reaper.track_group(self.proc.pid)    # its own session: its group is its pid

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def check_running(self):
        if self.proc is None or self.proc.poll() is not None:
            raise HarnessError("%s exited (rc=%s); log:\n%s" % (
                self.name, None if self.proc is None else self.proc.returncode, tail(self.log_path)))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc is not None:
            reaper.untrack_group(self.proc.pid)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def started(server, what):
    """A fixture's server, started: yields server once its start() returned,
    stops it when the block ends. When start() fails (HarnessError, a
    timeout, OSError), stops what did start and fails the test with the
    error and the tail of the server's log, "<what> did not start: ..."."""
    import pytest  # only the tests' fixtures come here, never the demo
    try:
        server.start()
    except (HarnessError, TimeoutError, OSError) as exc:
        server.stop()
        pytest.fail("%s did not start: %s\n%s" % (what, exc, tail(server.log_path)))
    try:
        yield server
    finally:
        server.stop()


class ChallTestSrv(Daemon):
    """Pebble's DNS: answers A queries for every name with 127.0.0.1."""
    name = "challtestsrv"

    def __init__(self, workdir):
        super().__init__(workdir)
        self.dns_port = free_port()
        self.mgmt_port = free_port()

    def start(self, timeout=10):
        self._spawn([CHALLTESTSRV_BIN, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                     "-dns01", "127.0.0.1:%d" % self.dns_port, "-http01", "", "-https01", "",
                     "-tlsalpn01", "", "-management", "127.0.0.1:%d" % self.mgmt_port])

        def ready():
            self.check_running()
            return port_open(self.mgmt_port) and port_open(self.dns_port)
        wait_for(ready, timeout, what="pebble-challtestsrv on 127.0.0.1:%d" % self.dns_port)
        return self


class Pebble(Daemon):
    """The ACME test CA. http_port/tls_port are where it validates challenges:
    httpd's plain and TLS ports."""
    name = "pebble"

    def __init__(self, workdir, dns_port, http_port, tls_port, env=None, extra_config=None,
                 listener=None):
        super().__init__(workdir)
        self.extra_config = dict(extra_config or {})  # more members of the "pebble" object
        self.dns_port = dns_port
        self.http_port = http_port
        self.tls_port = tls_port
        self.port = free_port()
        self.mgmt_port = free_port()
        self.env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        self.env.update(env or {})
        self.ca = TestCA(workdir, **(listener or {}))  # TestCA's age, days
        self.config_path = os.path.join(workdir, "pebble-config.json")
        self.root_pem = os.path.join(workdir, "pebble-root.pem")
        self.directory_url = "https://127.0.0.1:%d/dir" % self.port

    def start(self, timeout=20):
        config = {"pebble": {
            "listenAddress": "127.0.0.1:%d" % self.port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
            "certificate": self.ca.cert_pem,
            "privateKey": self.ca.key_pem,
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}
        config["pebble"].update(self.extra_config)
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        self._spawn([PEBBLE_BIN, "-config", self.config_path,
                     "-dnsserver", "127.0.0.1:%d" % self.dns_port], env=self.env)

        def ready():
            self.check_running()
            r = requests.get(self.directory_url, verify=self.ca.ca_pem, timeout=2)
            return r.status_code == 200 and "newOrder" in r.json()
        wait_for(ready, timeout, what="Pebble directory at %s" % self.directory_url)
        self.fetch_root()
        return self

    def fetch_root(self):
        """Pebble's issuing root (generated at each start): the trust anchor for
        certificates it issues."""
        r = requests.get("https://127.0.0.1:%d/roots/0" % self.mgmt_port,
                         verify=self.ca.ca_pem, timeout=5)
        r.raise_for_status()
        with open(self.root_pem, "w") as f:
            f.write(r.text)
        os.chmod(self.root_pem, 0o644)
        with open(roots_bundle(), "a") as f:
            f.write(r.text if r.text.endswith("\n") else r.text + "\n")
        return self.root_pem

    def root_cert(self):
        with open(self.root_pem, "rb") as f:
            return x509.load_pem_x509_certificate(f.read())

    # Pebble logs one "<METHOD> <path> -> calling handler()" line per request.
    def request_lines(self, method="POST", path="/order-plz"):
        pat = re.compile(r"\b%s %s\b" % (re.escape(method), re.escape(path)))
        return [l for l in self.log().splitlines() if pat.search(l)]

    def new_order_count(self):
        return len(self.request_lines("POST", "/order-plz"))

    def cert_status(self, cert):
        """Pebble's own view of a certificate it issued (management API:
        Status, Reason, ...)."""
        r = requests.get("https://127.0.0.1:%d/cert-status-by-serial/%s"
                         % (self.mgmt_port, cert_serial_hex(cert)),
                         verify=self.ca.ca_pem, timeout=5)
        r.raise_for_status()
        return r.json()

    def new_account_count(self):
        return len(self.request_lines("POST", "/sign-me-up"))

    def acme_request_count(self):
        return len([l for l in self.log().splitlines() if "-> calling handler()" in l])


# --------------------------------------------------------------------------
# httpd

BASE_MODULES = ["mpm_event", "authz_core", "authz_host", "mime", "dir", "unixd", "log_config",
                "ssl", "watchdog", "alias", "rewrite", "headers"]


_builtin_modules = None


def builtin_modules():
    """Modules compiled into Debian's apache2 (LoadModule of those is an error)."""
    global _builtin_modules
    if _builtin_modules is None:
        out = run([APACHE_BIN, "-l"], timeout=10).stdout
        _builtin_modules = set(re.findall(r"mod_(\w+)\.c", out))
    return _builtin_modules


def ssl_vhost(server_name, aliases=(), acme_domain="AcmeDomain", extra="", port="{https_port}"):
    """An SSL vhost on the TLS port (or port); acme_domain is the AcmeDomain line (or '')."""
    lines = ["<VirtualHost *:%s>" % port,
             "    ServerName %s" % server_name]
    if aliases:
        lines.append("    ServerAlias %s" % " ".join(aliases))
    lines += ["    DocumentRoot \"{docroot}\"",
              "    SSLEngine on"]
    if extra:
        lines += ["    " + l for l in extra.strip("\n").splitlines()]
    if acme_domain:
        lines.append("    " + acme_domain)
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def configtest_fails(httpd, words):
    """configtest of httpd's configuration fails and says each of words (exact
    text); its output."""
    rc, out = httpd.configtest()
    assert rc != 0, "configtest passed:\n%s\nconfig:\n%s" % (out, httpd.conf_text)
    for w in words:
        assert w in out, "%r not in:\n%s" % (w, out)
    return out


def staged_check_pids(serverroot, skip=()):
    """The processes running the parent's configuration test before an
    automatic restart (a command line with ACME_STAGED_CHECK, -t and
    serverroot: other servers of the suite run their own), read from /proc;
    the pids in skip are not read again."""
    needle = serverroot.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"ACME_STAGED_CHECK" in args and b"-t" in args and any(needle in a for a in args):
            found.append(int(entry))
    return found


def names_place(out, where):
    """Whether out names the config line where ("FILE:LINE", Httpd.where) as
    mod_acme does, or as httpd does ("line LINE of FILE")."""
    path, line = where.rsplit(":", 1)
    return where in out or "line %s of %s" % (line, path) in out


class Httpd:
    """One httpd instance in its own ServerRoot under /tmp.

    acme: dict of server-level mod_acme directives (name -> value or None to
    leave the directive out); defaults point at the given Pebble. vhosts: text
    with {https_port}/{http_port}/{docroot}/{serverroot} placeholders."""

    def __init__(self, pebble=None, http_port=None, https_port=None, ca_file=None, prefix="it-httpd-"):
        self.pebble = pebble
        self.serverroot = make_tree(prefix)
        self.http_port = http_port or (pebble.http_port if pebble else free_port())
        self.https_port = https_port or (pebble.tls_port if pebble else free_port())
        self.docroot = os.path.join(self.serverroot, "htdocs")
        self.logs = os.path.join(self.serverroot, "logs")
        self.rundir = os.path.join(self.serverroot, "run")
        self.store = os.path.join(self.serverroot, "acme")
        self.conf_path = os.path.join(self.serverroot, "httpd.conf")
        self.error_log = os.path.join(self.logs, "error.log")
        self.access_log = os.path.join(self.logs, "access.log")
        self.pid_file = os.path.join(self.rundir, "httpd.pid")
        for d in (self.docroot, self.logs, self.rundir):
            os.makedirs(d, mode=0o755, exist_ok=True)
            os.chmod(d, 0o755)
        with open(os.path.join(self.docroot, "index.html"), "w") as f:
            f.write("plain docroot index\n")
        self.ca_file = ca_file or (pebble.ca.ca_pem if pebble else None)
        self.conf_text = ""
        self.started = False
        # added to the environment of apache2 (configtest, start, graceful)
        self.extra_env = {}
        sanitizer_watch_log(self.error_log)

    # -- configuration ---------------------------------------------------
    def default_acme(self):
        return {
            "AcmeCA": self.pebble.directory_url if self.pebble else None,
            "AcmeCACertificateFile": self.ca_file,
            "AcmeAgreeToTerms": "on",
            "AcmeContact": "admin@example.test",
            "AcmePortMap": "http:%d https:%d" % (self.http_port, self.https_port),
            "AcmeStoreDir": self.store,
            # Pebble's issuing roots: activation verifies every chain to a trusted root.
            "AcmeTrustedRootsFile": roots_bundle() if self.pebble else None,
        }

    def write_config(self, vhosts="", acme=None, extra_global="", load_acme=True,
                     status_location=True, plain_vhost_extra=""):
        settings = self.default_acme()
        settings.update(acme or {})
        fmt = {"https_port": self.https_port, "http_port": self.http_port,
               "docroot": self.docroot, "serverroot": self.serverroot}
        sr = self.serverroot
        lines = [
            "# generated by tests/integration/harness.py",
            "ServerRoot \"%s\"" % sr,
            "DefaultRuntimeDir \"%s\"" % self.rundir,
            "PidFile \"%s\"" % self.pid_file,
            "Mutex file:%s default" % self.rundir,
            "ErrorLog \"%s\"" % self.error_log,
        ]
        lines += ["LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m)
                  for m in BASE_MODULES if m not in builtin_modules()]
        if load_acme:
            lines.append("LoadModule acme_module %s" % module_path())
        lines.append("LogLevel info ssl:warn" + (" acme:debug" if load_acme else ""))
        lines += [
            "User %s" % HTTPD_USER,
            "Group %s" % HTTPD_GROUP,
            "ServerName localhost",
            "ServerAdmin webmaster@example.test",
            "Listen 127.0.0.1:%d" % self.http_port,
            "Listen 127.0.0.1:%d" % self.https_port,
            "TypesConfig /etc/mime.types",
            "StartServers 1",
            "ServerLimit 2",
            "ThreadsPerChild 16",
            "MaxRequestWorkers 32",
            "MinSpareThreads 4",
            "MaxSpareThreads 32",
            "KeepAlive On",
            "KeepAliveTimeout 10",
            "GracefulShutdownTimeout 5",
            "LogFormat \"%h %{local}p \\\"%r\\\" %>s %b keepalive=%k conn=%{c}L pid=%P\" it",
            "CustomLog \"%s\" it" % self.access_log,
            "DocumentRoot \"%s\"" % self.docroot,
            "<Directory />",
            "    Require all denied",
            "    AllowOverride None",
            "</Directory>",
            "<Directory \"%s\">" % self.docroot,
            "    Require all granted",
            "</Directory>",
        ]
        for name, value in settings.items():
            if value is not None and load_acme:
                lines.append("%s %s" % (name, value))
        if extra_global:
            lines += extra_global.format(**fmt).strip("\n").splitlines()
        lines += [
            "<VirtualHost *:%d>" % self.http_port,
            "    ServerName localhost",
            "    DocumentRoot \"%s\"" % self.docroot,
        ]
        if status_location and load_acme:
            lines += ["    <Location /acme-status>",
                      "        SetHandler acme-status",
                      "    </Location>"]
        if plain_vhost_extra:
            lines += ["    " + l for l in plain_vhost_extra.format(**fmt).strip("\n").splitlines()]
        lines.append("</VirtualHost>")
        if vhosts:
            lines += vhosts.format(**fmt).strip("\n").splitlines()
        self.conf_text = "\n".join(lines) + "\n"
        # whole or not at all: mod_acme's configuration test before an
        # automatic restart may read it while a running server is rewritten
        with open(self.conf_path + ".new", "w") as f:
            f.write(self.conf_text)
        os.chmod(self.conf_path + ".new", 0o644)
        os.replace(self.conf_path + ".new", self.conf_path)
        return self.conf_path

    def line_of(self, fragment):
        """1-based line number of the first config line containing fragment."""
        for i, line in enumerate(self.conf_text.splitlines(), 1):
            if fragment in line:
                return i
        raise KeyError("%r not in %s" % (fragment, self.conf_path))

    def where(self, fragment, below=0):
        """"FILE:LINE" of the first config line containing fragment (or of the
        line that many below it), as configtest's messages name a line."""
        return "%s:%d" % (self.conf_path, self.line_of(fragment) + below)

    # -- control ---------------------------------------------------------
    # Where the test reaches httpd's ports (a subclass may put httpd elsewhere,
    # e.g. in a network namespace: tests/integration/stepca.py).
    def _port_open(self, port):
        return port_open(port)

    def _connect(self, port, timeout):
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def _ctl(self, *args, timeout=60):
        return run([APACHE_BIN, "-d", self.serverroot, "-f", self.conf_path] + list(args),
                   timeout=timeout, env=clean_env(self.extra_env))

    def configtest(self):
        """(exit code, stderr+stdout) of apache2 -t."""
        p = self._ctl("-t")
        return p.returncode, p.stderr + p.stdout

    def pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def running(self):
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def start(self, timeout=20):
        # every process of this server names its ServerRoot: the parent, its
        # children, hooks and notify programs kept in it
        reaper.track_needle(self.serverroot)
        before = self.generation_count()
        p = self._ctl("-k", "start")
        if p.returncode != 0:
            raise HarnessError("apache2 -k start exited %d: %s\nerror.log:\n%s" % (
                p.returncode, p.stderr + p.stdout, tail(self.error_log)))
        self.started = True

        # The pid file and the ports are there before the detached parent
        # says "resuming normal operations" (notice: logged at every
        # LogLevel): a test that counts generations from here would count
        # that line as a restart.
        def up():
            if not self.running():
                return False
            return (self.generation_count() > before and self._port_open(self.http_port)
                    and self._port_open(self.https_port))
        try:
            wait_for(up, timeout, what="httpd started (resuming normal operations) and listening "
                     "on %d/%d" % (self.http_port, self.https_port))
        except TimeoutError as exc:
            raise HarnessError("%s\nerror.log:\n%s" % (exc, tail(self.error_log)))
        return self

    def graceful(self, timeout=20):
        before = self.generation_count()
        p = self._ctl("-k", "graceful")
        if p.returncode != 0:
            raise HarnessError("apache2 -k graceful exited %d: %s" % (p.returncode, p.stderr))
        wait_for(lambda: self.generation_count() > before and self._port_open(self.https_port), timeout,
                 what="graceful restart to complete")

    def generation_count(self):
        """How many times the parent has (re)started: 'resuming normal operations' lines."""
        try:
            with open(self.error_log, errors="replace") as f:
                return sum(1 for l in f if "resuming normal operations" in l)
        except OSError:
            return 0

    def wait_idle(self, timeout=30, quiet=3.0):
        """Waits until no process of this server writes to the store for at
        least `quiet` seconds, and returns the seconds left of that quiet time.

        Writers are the parent (post_config, before 'resuming normal
        operations') and the issuance watchdog child of each generation, whose
        every run (status/, jobs/, with a temp file per write) ends with an
        ACME00711 line that says when the next run is. Idle means: no restart
        under way; the current generation's watchdog (ACME00708 with the
        generation of the last ACME00608, logged after it) has ended a run whose next one is at
        least `quiet` seconds away; every older watchdog child has exited.
        Right after a restart the new child's first run rewrites the store, so
        a check of temp files before this races that run."""
        def idle():
            text = self.error_log_text()
            restarts = [m.start() for m in re.finditer(r"resuming normal operations", text)]
            requested = [m.start() for m in re.finditer(
                r"SIGUSR1 received|SIGHUP received|Graceful restart requested", text)]
            if not restarts or (requested and requested[-1] > restarts[-1]):
                return None
            gens = list(re.finditer(r"ACME00608: .*configuration generation (\d+)",
                                    text[:restarts[-1]]))
            if not gens:
                return None
            # (pid, generation, of the last configuration?); a stop and start
            # begins the generations anew, hence both tests. The children
            # are forked before the parent logs 'resuming normal operations',
            # so on a loaded machine the watchdog's ACME00708 may come first:
            # it counts from the parent's last ACME00608 (its post_config).
            configured = gens[-1].start()
            gens = [m.group(1) for m in gens]
            watchdogs = [(int(m.group(1)), int(m.group(2)), m.start() > configured)
                         for m in re.finditer(r"ACME00708: .* in process (\d+), "
                                              r"configuration generation (\d+)", text)]
            current = [pid for pid, gen, recent in watchdogs if recent and gen == int(gens[-1])]
            if len(current) != 1 or any(pid_alive(pid) for pid, _gen, _recent in watchdogs
                                        if pid != current[0]):
                return None
            runs = re.findall(r"^\[([^\]]+)\] \[acme:[a-z0-9]+\] \[pid %d:tid \d+\] "
                              r"(?:[^ ]+ )?ACME00711: .* in (\d+) ms" % current[0], text, re.M)
            if not runs:
                return None
            ended = datetime.datetime.strptime(runs[-1][0], "%a %b %d %H:%M:%S.%f %Y")
            left = ended.timestamp() + int(runs[-1][1]) / 1000.0 - time.time()
            return left if left >= quiet else None
        try:
            return wait_for(idle, timeout, interval=0.1, what="the server to be idle")
        except TimeoutError as exc:
            raise AssertionError("%s\n%s" % (exc, self.diagnostics(60))) from None

    def stop(self, timeout=15):
        pid = self.pid()
        if self.started and pid and pid_alive(pid):
            self._ctl("-k", "stop", timeout=timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and pid_alive(pid):
                time.sleep(0.1)
        self.kill_leftovers()
        reaper.untrack_needle(self.serverroot)
        self.started = False
        wait_for(lambda: not self._port_open(self.http_port) and not self._port_open(self.https_port), 10,
                 what="httpd ports %d/%d to close" % (self.http_port, self.https_port))

    def kill_leftovers(self):
        pids = [p for p in pids_with_arg(self.serverroot) if p != os.getpid()]
        pid = self.pid()
        if pid and pid_alive(pid) and pid not in pids:
            pids.append(pid)
        if pids:
            # a process in the middle of a sanitizer report finishes it first
            sanitizer_wait_writers(pids)
            kill_pids(pids)
        return pids

    def cleanup(self, keep=False):
        self.stop()
        sanitizer_note_log(self.error_log)
        if not keep:
            shutil.rmtree(self.serverroot, ignore_errors=True)

    def error_log_text(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def diagnostics(self, lines=80):
        return "---- %s (last %d lines)\n%s" % (self.error_log, lines, tail(self.error_log, lines))

    # -- clients ---------------------------------------------------------
    def tls_connect(self, server_name, verify=True, cafile=None, timeout=5, port=None):
        """A TLS socket to the TLS port with SNI server_name. verify: check the
        chain against Pebble's root (or cafile) and the hostname."""
        if verify:
            ctx = ssl.create_default_context(cafile=cafile or self.pebble.root_pem)
            ctx.check_hostname = True
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        raw = self._connect(port or self.https_port, timeout)
        try:
            return ctx.wrap_socket(raw, server_hostname=server_name)
        except Exception:
            raw.close()
            raise

    def served_cert(self, server_name, verify=False, port=None):
        """The leaf certificate served for server_name (cryptography x509)."""
        with self.tls_connect(server_name, verify=verify, port=port) as s:
            der = s.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)

    def verified_cert(self, server_name, port=None):
        """The leaf served for server_name if it verifies against Pebble's root
        with hostname check; raises ssl.SSLError otherwise."""
        return self.served_cert(server_name, verify=True, port=port)

    def staged_unsettled(self, server_name):
        """Does the store hold a staged first certificate of server_name that
        no restart has made live yet? With AcmeActivation auto the running
        children serve a first certificate as soon as it is staged (never a
        renewal); its restart links domains/<name> when it makes it live."""
        return (os.path.exists(os.path.join(self.store, "staging", server_name, "ready"))
                and not os.path.lexists(os.path.join(self.store, "domains", server_name)))

    def served_unsettled(self, cert, server_name):
        """Is cert, served for server_name, a staged first certificate that no
        restart has made live yet? Its store name may differ from server_name
        (an alias or a wildcard of the domain, "__1" for ::1): the staged
        entries no restart has linked are compared by serial number."""
        if self.staged_unsettled(server_name):
            return True
        staging = os.path.join(self.store, "staging")
        try:
            entries = os.listdir(staging)
        except OSError:
            return False
        for entry in entries:
            if entry == server_name or not self.staged_unsettled(entry):
                continue
            try:
                with open(os.path.join(staging, entry, "cert.pem"), "rb") as f:
                    staged = x509.load_pem_x509_certificate(f.read())
            except (OSError, ValueError):
                continue
            if staged.serial_number == cert.serial_number:
                return True
        return False

    def restart_under_way(self):
        """Has a restart been signalled (mod_acme's automatic one, or the
        administrator's) that has not resumed normal operations yet? The
        parent links domains/<name> in its configuration pass, before the
        new generation runs (and before generation_count() counts it)."""
        text = self.error_log_text()
        requested = max(text.rfind(w) for w in ("SIGUSR1 received", "SIGHUP received",
                                                "Graceful restart requested"))
        return requested > text.rfind("resuming normal operations")

    def wait_live(self, store_name, timeout=60):
        """Wait until no staged first certificate of store_name (the store's
        name: "__1" for ::1, "<name>+ec-p256" for a second key type) awaits
        the restart that links domains/<store_name>, and that restart has
        resumed normal operations. A certificate the children already serve
        early may be staged only; assertions on the store, on the status
        page's "valid" or on the count of restarts need it live."""
        wait_for(lambda: not self.staged_unsettled(store_name) and not self.restart_under_way(),
                 timeout, interval=0.3,
                 what="the staged certificate of %s to become live" % store_name)

    def wait_for_pebble_cert(self, server_name, timeout=60, port=None, live=True):
        """The Pebble-issued leaf served for server_name. live: also wait until
        the certificate served is no staged first certificate awaiting its
        restart (whatever its store name) and no restart is under way, so that
        the one served is live in the store (not only served early by the
        children) and its restart has resumed normal operations."""
        def served():
            cert = self.verified_cert(server_name, port=port)
            if live and (self.served_unsettled(cert, server_name) or self.restart_under_way()):
                return None
            return cert
        try:
            return wait_for(served, timeout, interval=0.3,
                            what="%s to serve a Pebble-issued certificate%s" % (
                                server_name, " live in the store" if live else ""))
        except TimeoutError as exc:
            try:
                now = cert_summary(self.served_cert(server_name, port=port))
            except Exception as e2:  # noqa: BLE001
                now = "no TLS handshake: %r" % (e2,)
            raise AssertionError("%s\nserved now: %s\n%s" % (exc, now, self.diagnostics())) from None

    def https_request(self, server_name, path="/", verify=False, headers=None, timeout=5):
        """(status, headers, body) of a GET over TLS with SNI and Host server_name."""
        conn = http.client.HTTPConnection("127.0.0.1", self.https_port, timeout=timeout)
        conn.sock = self.tls_connect(server_name, verify=verify, timeout=timeout)
        try:
            h = {"Host": server_name}
            h.update(headers or {})
            conn.request("GET", path, headers=h)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def http_request(self, path, host="localhost", headers=None, method="GET", timeout=5):
        """(status, headers, body) of a plain HTTP request; path is sent as is."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            h = {"Host": host}
            h.update(headers or {})
            conn.sock = self._connect(self.http_port, timeout)
            conn.request(method, path, headers=h)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def status(self, timeout=5):
        """The status page as JSON (Accept: application/json)."""
        status, headers, body = self.http_request("/acme-status",
                                                  headers={"Accept": "application/json"},
                                                  timeout=timeout)
        if status != 200:
            raise AssertionError("GET /acme-status -> %d: %r" % (status, body[:500]))
        try:
            return json.loads(body)
        except ValueError as exc:
            raise AssertionError("status page is not JSON (%s): %r" % (exc, body[:500]))

    def domain_status(self, name):
        doc = self.status()
        for d in doc.get("domains", []):
            if d.get("name") == name or name in (d.get("names") or []):
                return d
        raise AssertionError("domain %s not in status page: %s" % (name, json.dumps(doc)[:2000]))

    def acmectl(self, *args, timeout=30):
        return run([acmectl_path()] + list(args), timeout=timeout)



FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def need_faketime():
    """Fails the calling test (with the reason) where libfaketime is missing."""
    if not os.path.exists(FAKETIME_LIB):
        import pytest
        pytest.fail("%s missing: Debian package libfaketime (build/deps.sh installs faketime)"
                    % FAKETIME_LIB)


# struct ft_shared_s of libfaketime 0.9.10 as ft_shm_create() sets it: no
# ticks, no file index, the start times (real, monotonic, raw; boot) unset
FAKETIME_SHM_INIT = struct.pack("=QQ" + "qq" * 4, 0, 0, 0, -1, 0, -1, 0, -1, 0, 0)


def faketime_shared(tag):
    """A semaphore and a shared memory object for libfaketime, named after tag,
    that the caller owns until faketime_unshare: FAKETIME_SHARED's value.

    Without it the first process under libfaketime makes its own, named
    after its pid, and unlinks them when it exits (so does any process
    forked from it, at exit()): "apache2 -k start" exits after forking the
    daemon, and a configuration test the daemon runs later inherits a stale
    name; it makes its own then, unless an object of a killed process with
    its pid is left in /dev/shm, and then fails ("libfaketime: In
    ft_shm_init(), sem_open failed and recreation attempts failed")."""
    sem, shm = "/faketime_sem_it_%s" % tag, "/faketime_shm_it_%s" % tag
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sem_open.restype = ctypes.c_void_p
    handle = libc.sem_open(sem.encode(), os.O_CREAT | os.O_EXCL, 0o600, 1)
    if not handle:
        raise HarnessError("sem_open %s: %s" % (sem, os.strerror(ctypes.get_errno())))
    libc.sem_close(ctypes.c_void_p(handle))
    fd = os.open("/dev/shm" + shm, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(FAKETIME_SHM_INIT)
    return "%s %s" % (sem, shm)


def faketime_unshare(shared):
    """Removes what faketime_shared made (shared: its value)."""
    sem, shm = shared.split()
    for path in ("/dev/shm/sem." + sem[1:], "/dev/shm" + shm):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class FakeClockHttpd(Httpd):
    """httpd under libfaketime: its wall clock is whatever the spec in
    clock_file says ("+0", "+365d", "-1d", "+150" seconds), re-read every
    second; the monotonic clock stays real, as after a real clock jump.
    Every process of it shares one libfaketime semaphore the test owns
    (faketime_shared), so none of them makes or removes one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock_file = os.path.join(self.serverroot, "faketime.rc")
        self.set_clock("+0")
        self.faketime_shared = faketime_shared(os.path.basename(self.serverroot))
        self.extra_env.update({"LD_PRELOAD": FAKETIME_LIB,
                               "FAKETIME_TIMESTAMP_FILE": self.clock_file,
                               "FAKETIME_CACHE_DURATION": "1",
                               "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                               "FAKETIME_SHARED": self.faketime_shared})

    def cleanup(self, keep=False):
        try:
            super().cleanup(keep)
        finally:
            faketime_unshare(self.faketime_shared)

    def set_clock(self, spec):
        with open(self.clock_file + ".tmp", "w") as f:
            f.write(spec + "\n")
        os.replace(self.clock_file + ".tmp", self.clock_file)

def private_pebble(workdir, dns_port, label, http_port=None, tls_port=None, env=None,
                   extra_config=None, listener=None):
    """A started Pebble of a test's own (own directory, own ports unless given),
    e.g. with other env knobs or config, or one the test may stop and start."""
    d = os.path.join(workdir, "pebble-%s" % label)
    os.makedirs(d, exist_ok=True)
    pb = Pebble(d, dns_port, http_port or free_port(), tls_port or free_port(), env=env,
                extra_config=extra_config, listener=listener)
    try:
        pb.start()
    except (HarnessError, TimeoutError, OSError) as exc:
        pb.stop()
        raise HarnessError("Pebble (%s) did not start: %s\n%s" % (label, exc, tail(pb.log_path)))
    return pb



def alt_roots_pebble(workdir, dns_port, label, alternates, extra_config=None):
    """A private Pebble that offers, beside its default chain, `alternates`
    more chains (RFC 8555 §7.4.2 Link rel="alternate"; PEBBLE_ALTERNATE_ROOTS),
    each to its own root. .root_cns: the roots' common names, the default
    chain's first; every root goes into roots_bundle(), so any chain verifies
    at activation."""
    pb = private_pebble(workdir, dns_port, label,
                        env={"PEBBLE_ALTERNATE_ROOTS": str(alternates)},
                        extra_config=extra_config)
    cns, pems = [], []
    for i in range(alternates + 1):
        r = requests.get("https://127.0.0.1:%d/roots/%d" % (pb.mgmt_port, i),
                         verify=pb.ca.ca_pem, timeout=5)
        r.raise_for_status()
        root = x509.load_pem_x509_certificate(r.text.encode())
        cns.append(root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        pems.append(r.text if r.text.endswith("\n") else r.text + "\n")
    if len(set(cns)) != alternates + 1:
        pb.stop()
        raise HarnessError("Pebble (%s) roots are not distinct: %s" % (label, cns))
    with open(roots_bundle(), "a") as f:
        f.write("".join(pems))
    # the test's trust anchors for this Pebble's certificates: every root
    pb.root_pem = os.path.join(os.path.dirname(pb.root_pem), "pebble-roots-all.pem")
    with open(pb.root_pem, "w") as f:
        f.write("".join(pems))
    os.chmod(pb.root_pem, 0o644)
    pb.root_cns = cns
    return pb

def new_eab_key():
    """A fresh EAB MAC key (48 random bytes, base64url without padding)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()


def started_private_pebble(workdir, dns_port, label, make=None, **kwargs):
    """For a fixture (`yield from`): private_pebble(workdir, dns_port, label,
    **kwargs) (or make(...) with the same arguments, e.g. alt_roots_pebble),
    stopped afterwards. A Pebble that does not start fails the test."""
    import pytest
    try:
        pb = (make or private_pebble)(workdir, dns_port, label, **kwargs)
    except HarnessError as exc:
        pytest.fail(str(exc))
    try:
        yield pb
    finally:
        pb.stop()


def started_tls_only_pebble(workdir, dns_port, label):
    """For a fixture (`yield from`): a private Pebble whose http-01 port is
    closed, so only tls-alpn-01 (or dns-01) can pass; stopped afterwards."""
    yield from started_private_pebble(workdir, dns_port, label, http_port=closed_port())


def tls_only_httpd(httpd_factory, pb):
    """httpd on the TLS port pb validates tls-alpn-01 at; its plain port (status
    page) is not the one AcmePortMap maps public port 80 to, and nothing
    listens there. (httpd, its AcmePortMap as an `acme` dict for write_config)."""
    h = httpd_factory(pebble=pb, http_port=free_port(), https_port=pb.tls_port)
    return h, {"AcmePortMap": "http:%d https:%d" % (pb.http_port, pb.tls_port)}


def started_eab_pebble(workdir, dns_port, label, kid, key):
    """For a fixture (`yield from`): a private Pebble that requires external
    account binding with the one MAC key kid/key, stopped afterwards. A Pebble
    that does not start fails the test."""
    yield from started_private_pebble(workdir, dns_port, label, extra_config={
        "externalAccountBindingRequired": True,
        "externalAccountMACKeys": {kid: key}})


# --------------------------------------------------------------------------
# programs the module runs: AcmeNotifyCmd, AcmeDnsCmd hooks

# A notify program's body (for notify_script) that appends one line a call.
NOTIFY_RECORDING = ('echo "args=$* event=$ACME_EVENT domain=$ACME_DOMAIN uid=$(id -u) '
                    'detail=$ACME_DETAIL" >> "$OUT"')


def notify_script(httpd, body, directory=None):
    """An executable shell script notify.sh, root's unless changed, in
    directory (default: the ServerRoot, where the harness's cleanup finds
    anything it leaves running); body sees its output file, script + '.out',
    as $OUT. Returns (script, output file)."""
    directory = directory or httpd.serverroot
    path = os.path.join(directory, "notify.sh")
    out = path + ".out"
    with open(path, "w") as f:
        f.write("#!/bin/sh\nOUT=%s\n%s\n" % (out, body))
    os.chmod(path, 0o755)
    return path, out


# An AcmeDnsCmd hook (for write_hook, with mgmt=the management port of a
# pebble-challtestsrv) that publishes the TXT record there and logs each call.
DNS_HOOK = """#!/usr/bin/python3
import json, sys, urllib.request
action, name, value = sys.argv[1:4]
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if action == "setup":
    path, body = "/set-txt", {{"host": name + ".", "value": value}}
else:
    path, body = "/clear-txt", {{"host": name + "."}}
req = urllib.request.Request("http://127.0.0.1:{mgmt}" + path, method="POST",
                             data=json.dumps(body).encode())
urllib.request.urlopen(req, timeout=10).read()
print("%s done for %s" % (action, name))
"""


def write_hook(httpd, label, template, **values):
    """A hook program made from template (formatted with log= its call log
    and values) and its call log, writable by the server's User, in the
    server's tree, which the children can reach. Returns (program, log)."""
    log = os.path.join(httpd.serverroot, label + ".log")
    with open(log, "w"):
        pass
    os.chmod(log, 0o666)
    path = os.path.join(httpd.serverroot, label)
    with open(path, "w") as f:
        f.write(template.format(log=log, **values))
    os.chmod(path, 0o755)
    return path, log


def dns_settings(hook, dns_server):
    """AcmeDnsCmd hook, AcmeDnsResolver at the DNS port of dns_server."""
    return {"AcmeDnsCmd": hook, "AcmeDnsResolver": "127.0.0.1:%d" % dns_server.dns_port}


# --------------------------------------------------------------------------
# the store, as the renewal and crash tests look at it

TEMP_NAME = re.compile(r"\.tmp\.")


PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def load_chain(path):
    """Every certificate of a PEM file, in order."""
    with open(path, "rb") as f:
        return [x509.load_pem_x509_certificate(m.group(0)) for m in PEM_CERT.finditer(f.read())]


def public_der(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def archive_versions(store, name):
    """archive/<name>/<version> directories, oldest first (by the leaf's
    notBefore, then by when cert.pem was written)."""
    base = os.path.join(store, "archive", name)
    try:
        entries = [os.path.join(base, v) for v in os.listdir(base)
                   if os.path.isdir(os.path.join(base, v)) and not v.startswith(".")]
    except FileNotFoundError:
        return []

    def key(path):
        cert = os.path.join(path, "cert.pem")
        try:
            return (load_chain(cert)[0].not_valid_before, os.stat(cert).st_mtime_ns, path)
        except (OSError, ValueError, IndexError):
            return (datetime.datetime.min, 0, path)
    return sorted(entries, key=key)


def live_version(store, name):
    """The archive directory domains/<name> points to, or None."""
    link = os.path.join(store, "domains", name)
    if not os.path.lexists(link):
        return None
    return os.path.realpath(link)


def version_leaf(version_dir):
    return load_chain(os.path.join(version_dir, "cert.pem"))[0]


def store_status(store, name):
    """status/<name>.json as the driver wrote it ({} when missing)."""
    try:
        with open(os.path.join(store, "status", name + ".json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def store_problems(store, temp_files=True):
    """What is wrong with the store, as a list of sentences (empty = fine):
    temp files left behind (unless temp_files is false: right after a crash
    they may be), archive versions without cert.pem/privkey.pem, a key that
    does not match its certificate, a key readable by others, a domains/ link
    that leads nowhere."""
    problems = []
    for root, dirs, files in os.walk(store):
        for f in files + dirs:
            if temp_files and TEMP_NAME.search(f):
                problems.append("temp file left: %s" % os.path.join(root, f))
    archive = os.path.join(store, "archive")
    for name in sorted(os.listdir(archive)) if os.path.isdir(archive) else []:
        for version in archive_versions(store, name):
            cert_path = os.path.join(version, "cert.pem")
            key_path = os.path.join(version, "privkey.pem")
            if not os.path.isfile(cert_path) or not os.path.isfile(key_path):
                problems.append("%s lacks cert.pem or privkey.pem: %s" % (version,
                                                                         os.listdir(version)))
                continue
            mode = os.stat(key_path).st_mode & 0o777
            if mode != 0o600:
                problems.append("%s has mode %o, not 600" % (key_path, mode))
            try:
                with open(key_path, "rb") as f:
                    key = serialization.load_pem_private_key(f.read(), None)
                leaf = load_chain(cert_path)[0]
            except (ValueError, IndexError) as exc:
                problems.append("%s unreadable: %s" % (version, exc))
                continue
            if public_der(key.public_key()) != public_der(leaf.public_key()):
                problems.append("%s: privkey.pem does not match cert.pem" % version)
    domains = os.path.join(store, "domains")
    for name in sorted(os.listdir(domains)) if os.path.isdir(domains) else []:
        target = live_version(store, name)
        if not target or not os.path.isfile(os.path.join(target, "cert.pem")):
            problems.append("domains/%s leads to %s, which has no cert.pem" % (name, target))
    return problems



def served_chain(httpd, name):
    """Every certificate httpd sends for SNI name (openssl s_client -showcerts),
    leaf first."""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % httpd.https_port,
                          "-servername", name, "-showcerts"], input=b"", capture_output=True,
                         timeout=20).stdout
    return [x509.load_pem_x509_certificate(m.group(0)) for m in PEM_CERT.finditer(out)]


def top_issuer_cn(chain):
    """The common name of the issuer of a chain's last certificate."""
    return chain[-1].issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value

def acmectl_on_store(httpd, *args):
    """acmectl --store <httpd's store> args (at most 60 s), run as httpd runs
    its programs (stepca.py: inside the test's network namespace)."""
    return httpd.acmectl("--store", httpd.store, *args, timeout=60)


def acmectl_ok(proc):
    """proc, once it is certain acmectl exited 0 (else its output fails the test)."""
    assert proc.returncode == 0, "acmectl exited %d\nstdout: %s\nstderr: %s" % (
        proc.returncode, proc.stdout, proc.stderr)
    return proc


def wait_for_status_error(httpd, name, timeout=30):
    """name's entry of the status page once it shows an error; on timeout an
    AssertionError with the whole page and httpd's diagnostics."""
    def has_error():
        d = httpd.domain_status(name)
        return d if d.get("error") else None
    try:
        return wait_for(has_error, timeout, what="an error for %s on the status page" % name)
    except TimeoutError as exc:
        raise AssertionError("%s; page: %s\n%s" % (exc, json.dumps(httpd.status(), indent=1),
                                                   httpd.diagnostics())) from None


def wait_for_new_cert(httpd, name, old_serial, timeout, port=None):
    """The first Pebble-issued certificate for name whose serial is not
    old_serial; on timeout an AssertionError with the status file and logs."""
    def renewed():
        c = httpd.verified_cert(name, port=port)
        return c if c.serial_number != old_serial else None
    try:
        return wait_for(renewed, timeout, interval=0.3, what="a new certificate for %s" % name)
    except TimeoutError as exc:
        raise AssertionError("%s; still serial %x\nstatus/%s.json: %s\n%s" % (
            exc, old_serial, name, json.dumps(store_status(httpd.store, name), indent=1),
            httpd.diagnostics(120))) from None
