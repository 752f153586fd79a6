#!/usr/bin/python3
"""Idle cost benchmark: CPU of httpd (parent + children) with N managed
domains that all have a valid certificate, over a window of --minutes.

The server is scale.py's 'acme' server (CA unreachable: nothing is due, so
the CA is never asked). Before httpd starts, every domain gets a live
certificate in the store (domains/<name> -> ../archive/<name>/bench: one
EC P-256 key, a certificate for exactly that name from a bench CA, valid
90 days, so no renewal is due for about 60 days). The benchmark
waits until the watchdog has written N status records and the parent has
made the N certificate keys root keeps (unless --with-keys), and --settle
seconds more, then reads user+sys of the parent, of every live child and of the
children the parent reaped (cutime/cstime) from /proc every --sample
seconds for --minutes. It prints the average over the window in percent of
one core, the busiest sample interval, the watchdog's runs in the window
(ACME00711, logged at debug) and the 1-minute load average (the machine may
be shared: a busy machine stretches wall time, not this CPU time).

With --plain the same N vhosts with one static certificate and no mod_acme
are measured the same way, for what httpd itself costs idle.

Needs root. ACME_BUILD_DIR as for tests/bench/run.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_common  # noqa: E402
import scale  # noqa: E402
from bench_common import cpu_seconds  # noqa: E402


def plant(store, names):
    """A live version for every name, as the parent's activation leaves it:
    one EC P-256 key, and per name a certificate for exactly that name from
    a bench CA, valid for 90 days from an hour ago (no renewal is due for
    about 60 days)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    key = ec.generate_private_key(ec.SECP256R1())
    kpem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    for d in (store, os.path.join(store, "archive"), os.path.join(store, "domains")):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
    for name in names:
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=90))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(ca_key, hashes.SHA256()))
        version = os.path.join(store, "archive", name, "bench")
        os.makedirs(version, mode=0o755, exist_ok=True)
        os.chmod(os.path.join(store, "archive", name), 0o755)
        with open(os.path.join(version, "cert.pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        fd = os.open(os.path.join(version, "privkey.pem"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(kpem)
        os.symlink(os.path.join("..", "archive", name, "bench"),
                   os.path.join(store, "domains", name))


def count_entries(path):
    try:
        return len(os.listdir(path))
    except OSError:
        return 0


def log_lines(path, tag):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if tag in line)
    except OSError:
        return 0


def tag_counts(path, start):
    """{tag: lines} of mod_acme's messages from byte offset start on."""
    import re
    counts = {}
    try:
        with open(path, "rb") as f:
            f.seek(start)
            for line in f:
                m = re.search(rb"ACME\d{5}", line)
                if m:
                    tag = m.group(0).decode()
                    counts[tag] = counts.get(tag, 0) + 1
    except OSError:
        pass
    return counts


def measure(srv, args):
    """(average % of one core, busiest sample %, watchdog runs, load)."""
    log = os.path.join(srv.root, "error.log")
    runs0, lines0 = log_lines(log, "ACME00711"), log_lines(log, "[acme:")
    try:
        offset0 = os.path.getsize(log)
    except OSError:
        offset0 = 0
    parent = srv.pid()
    t0, c0 = time.monotonic(), cpu_seconds(parent)
    end = t0 + args.minutes * 60
    busiest, last_t, last_c = 0.0, t0, c0
    while time.monotonic() < end:
        time.sleep(min(args.sample, max(0.1, end - time.monotonic())))
        t, c = time.monotonic(), cpu_seconds(parent)
        busiest = max(busiest, (c - last_c) * 100 / (t - last_t))
        last_t, last_c = t, c
    avg = (last_c - c0) * 100 / (last_t - t0)
    print("# %d mod_acme log lines in the window (debug)" % (log_lines(log, "[acme:") - lines0),
          flush=True)
    tags = sorted(tag_counts(log, offset0).items(), key=lambda kv: -kv[1])
    print("# by tag: " + (", ".join("%s %d" % kv for kv in tags[:12]) or "none"), flush=True)
    return avg, busiest, log_lines(log, "ACME00711") - runs0, os.getloadavg()[0]


def run_acme(args, so, workdir, n):
    with bench_common.server(workdir, "acme", n, so, scale.static_cert(workdir), keep=args.keep,
                             acme_extra="LogLevel warn acme:debug") as srv:
        store = os.path.join(srv.root, "acme")
        plant(store, srv.names)
        t0 = time.monotonic()
        srv.start(args.timeout + n * 0.05)
        bench_common.wait_records(store, n, args.timeout + n * 0.05, pause=1)
        ready = time.monotonic() - t0
        print("# N=%d: %d records %.0f s after start" % (n, n, ready), flush=True)
        if not args.with_keys:
            # the parent makes the certificate keys root keeps (keys/<name>/)
            # in the background, 200 ms per second of its maintenance loop:
            # at 10,000 names that lasts half an hour after a first start
            deadline = time.monotonic() + args.timeout + n * 0.5
            while count_entries(os.path.join(store, "keys")) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError("%d of %d certificate keys" % (
                        count_entries(os.path.join(store, "keys")), n))
                time.sleep(5)
            print("# N=%d: %d certificate keys %.0f s after start"
                  % (n, n, time.monotonic() - t0), flush=True)
        print("# settling %d s" % args.settle, flush=True)
        time.sleep(args.settle)
        states = {}
        for name in srv.names[:50]:
            try:
                with open(os.path.join(store, "status", name + ".json")) as f:
                    st = __import__("json").load(f).get("state")
            except (OSError, ValueError):
                st = "?"
            states[st] = states.get(st, 0) + 1
        got = measure(srv, args)
        return got + (states,)


def run_plain(args, so, workdir, n):
    with bench_common.server(workdir, "plain", n, so, scale.static_cert(workdir)) as srv:
        srv.start(args.timeout + n * 0.05)
        time.sleep(args.settle)
        return measure(srv, args) + ({},)


def main():
    ap = bench_common.arguments(__doc__, "10000", 0.05)
    ap.add_argument("--minutes", type=float, default=10, help="measuring window [10]")
    ap.add_argument("--settle", type=float, default=60,
                    help="seconds after the last status record before measuring [60]")
    ap.add_argument("--sample", type=float, default=10, help="sample interval, s [10]")
    ap.add_argument("--plain", action="store_true", help="also measure without mod_acme")
    ap.add_argument("--keep", action="store_true", help="keep the server's directory")
    ap.add_argument("--with-keys", action="store_true",
                    help="measure while the parent still makes certificate keys (a first "
                         "start), not after")
    args = ap.parse_args()
    rows = []

    def measure_all(so, workdir):
        for n in bench_common.counts(args):
            modes = (("mod_acme", run_acme), ("without mod_acme", run_plain)) if args.plain \
                else (("mod_acme", run_acme),)
            for label, fn in modes:
                avg, busiest, runs, load, states = fn(args, so, workdir, n)
                rows.append((label, n, avg, busiest, runs, load, states))
                print("# N=%d %s: %.3f %% of one core, busiest %.1f %%, %d watchdog runs, "
                      "load %.1f, states of the first 50 %s"
                      % (n, label, avg, busiest, runs, load, states), flush=True)

    where, _ = bench_common.run("acme-idle-bench-", measure_all)
    print("| idle cost | N | CPU, average over %.0f min | busiest %.0f s | watchdog runs "
          "| load (1 min) | target |" % (args.minutes, args.sample))
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, n, avg, busiest, runs, load, _ in rows:
        print("| %s | %s | %.2f %% of one core | %.1f %% | %s | %.1f | ≤ 1 %% |"
              % (label, "{:,}".format(n), avg, busiest, runs if label == "mod_acme" else "—",
                 load))
    print()
    print("Valid certificates planted, CA unreachable. Machine: %s." % where)


if __name__ == "__main__":
    main()
