#!/usr/bin/python3
"""Status page benchmark: GET /acme-status (JSON and HTML) with N managed
domains, each with a status record and (with --live) a live certificate.

The server is scale.py's 'acme' server (CA unreachable): the watchdog writes
status/<name>.json for every domain; with --live the benchmark then links a
live certificate for every domain (domains/<name> -> archive/<name>/bench),
as after N issuances. It waits until N status records exist, then times:
  first     the first GET (nothing rendered yet); its body is then written
            to the server's DocumentRoot as a static file of the same bytes
            (the control: the same size, served by the same httpd)
  warm      median [min-max] of --tries further GETs of the page and as
            many of the control, by this script's client: HTTP/1.1,
            "Connection: close", the head read, then exactly Content-Length
            bytes into one buffer (the time to the last byte, not to the
            close)
  curl      the same GETs by curl (%{time_total}: to the last byte, the body
            thrown away)
  ratio     median page / median control, per client: what the page costs
            beyond sending as many bytes. The GETs of one try go page and
            control, this client and curl, in an order that turns with each
            try, so neither the first GET after a change of the store nor a
            client is always the same one
  restart   the first GET after a graceful restart (new children, the
            rendered page already in the store)
with the 1-minute load average when each row was measured (the machine may
be shared), and the server's CPU time per GET of the page (user+sys of every
child over the warm GETs, minus the same span idle, the control's GETs
included: a static file costs little CPU) where it can be read. On a
loaded machine a body of megabytes takes tens of milliseconds to cross
loopback whatever serves it: read the ratio with the absolute times.
Prints a Markdown table. Needs root. ACME_BUILD_DIR as for tests/bench/run.
"""

import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_common  # noqa: E402
import scale  # noqa: E402


def plant_live(store, names, cert):
    """domains/<name> -> ../archive/<name>/bench, holding a copy of cert."""
    with open(cert) as f:
        pem = f.read()
    for name in names:
        version = os.path.join(store, "archive", name, "bench")
        os.makedirs(version, exist_ok=True)
        with open(os.path.join(version, "cert.pem"), "w") as f:
            f.write(pem)
        link = os.path.join(store, "domains", name)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..", "archive", name, "bench"), link)


def curl_ms(srv, path, accept):
    """Milliseconds curl takes to the last byte of GET path (plain port)."""
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
           "http://127.0.0.1:%d%s" % (srv.http, path)]
    if accept:
        cmd[1:1] = ["-H", "Accept: " + accept]
    code, total = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    if code != "200":
        raise RuntimeError("curl GET %s: %s" % (path, code))
    return float(total) * 1000


def unchunk(data):
    """The body of a chunked transfer coding (RFC 9112 §7.1), no trailers."""
    body, at = bytearray(), 0
    while True:
        eol = data.index(b"\r\n", at)
        size = int(data[at:eol].split(b";")[0], 16)
        if not size:
            return body
        body += data[eol + 2:eol + 2 + size]
        at = eol + 2 + size + 2


def get(srv, path, accept):
    """(milliseconds to the last byte, body) of GET path on the plain port:
    the head read, then exactly Content-Length bytes (or the chunks up to
    the last, empty one) into one buffer. Neither a read until the server
    closes (which comes after httpd's clean-up of the request and its
    lingering close, not part of the answer) nor a new bytes object per
    read (at megabytes, fresh memory per read costs this client page faults
    the server never sees)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.http), timeout=60) as s:
        hdr = "Accept: %s\r\n" % accept if accept else ""
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n"
                   % (path, hdr)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("GET %s: closed in the head: %r" % (path, head[:200]))
            head += chunk
        end = head.index(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("GET %s: %r" % (path, head[:200]))
        fields = head[:end].lower().split(b"\r\n")
        length = [int(f.split(b":", 1)[1]) for f in fields if f.startswith(b"content-length:")]
        chunked = any(f.startswith(b"transfer-encoding:") and b"chunked" in f for f in fields)
        if not length and not chunked:
            raise RuntimeError("GET %s: neither Content-Length nor chunked" % path)
        buf = bytearray(length[0] if length else 16 << 20)
        view = memoryview(buf)
        have = len(head) - end - 4
        view[:have] = head[end + 4:]
        # the end of the chunks looked at in place: a slice of the whole
        # would copy megabytes per read
        while (have < length[0]) if length else buf[max(0, have - 7):have] != b"\r\n0\r\n\r\n":
            if have == len(buf):
                view.release()
                buf.extend(bytes(len(buf)))
                view = memoryview(buf)
            got = s.recv_into(view[have:], len(buf) - have)
            if not got:
                raise RuntimeError("GET %s: closed after %d bytes" % (path, have))
            have += got
        ms = (time.monotonic() - t0) * 1000
        view.release()
        return ms, bytes(buf[:have]) if length else bytes(unchunk(buf[:have]))


def write_control(srv, kind, body):
    """The body as a static file of srv's DocumentRoot; its address."""
    name = "control-%s.%s" % (kind, kind)
    path = os.path.join(srv.root, "htdocs", name)
    with open(path, "wb") as f:
        f.write(body)
    os.chmod(path, 0o644)
    return "/" + name


def ratio(page, control):
    """median(page) / median(control), or None."""
    if not page or not control or not scale.med(control):
        return None
    return scale.med(page) / scale.med(control)


def children_cpu(srv):
    """user+sys seconds of every child of srv's parent, from /proc."""
    return bench_common.cpu_seconds(srv.pid(), own=False)


def graceful(srv, timeout):
    subprocess.run(srv.cmd("-k", "graceful"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=srv.env(), check=True)
    time.sleep(2)
    deadline = time.monotonic() + timeout
    while not srv.http_ok() and time.monotonic() < deadline:
        time.sleep(0.05)


def warm_gets(srv, tries, path, accept, control):
    """{client: {"page": [ms], "control": [ms]}} of tries rounds, each GET
    of the page and of the control by both clients, the order turned per
    round."""
    gets = [(client, what) for client in ("own", "curl") for what in ("page", "control")]
    times = {client: {"page": [], "control": []} for client in ("own", "curl")}
    for t in range(tries):
        k = t % len(gets)
        for client, what in (gets[k:] + gets[:k])[::-1 if t % 2 else 1]:
            url, acc = (path, accept) if what == "page" else (control, None)
            ms = get(srv, url, acc)[0] if client == "own" else curl_ms(srv, url, acc)
            times[client][what].append(ms)
    return times


def run_one(args, so, workdir, cert, n):
    with bench_common.server(workdir, "acme", n, so, cert) as srv:
        srv.start(args.timeout + n * 0.02)
        store = os.path.join(srv.root, "acme")
        bench_common.wait_records(store, n, args.timeout + n * 0.05)
        if args.live:
            plant_live(store, srv.names, cert[0])
        time.sleep(1.5)        # let the store settle (writes within a second are never trusted)
        out = {}
        pages = (("json", "/acme-status?format=json", None), ("html", "/acme-status", "text/html"))
        for kind, path, accept in pages:
            first, body = get(srv, path, accept)
            control = write_control(srv, kind, body)
            t0, c0 = time.monotonic(), children_cpu(srv)
            times = warm_gets(srv, args.tries, path, accept, control)
            busy, span = children_cpu(srv) - c0, time.monotonic() - t0
            c0 = children_cpu(srv)
            time.sleep(span)
            idle = children_cpu(srv) - c0
            out[kind] = dict(first=first, times=times, size=len(body),
                             cpu=(busy - idle) * 1000 / (2 * args.tries),
                             load=os.getloadavg()[0])
        graceful(srv, args.timeout)
        for kind, path, accept in pages:
            out[kind]["restart"] = get(srv, path, accept)[0]
        return out


def main():
    ap = bench_common.arguments(__doc__, "1000,10000", 0.02)
    ap.add_argument("--tries", type=int, default=10, help="warm GETs per page [10]")
    ap.add_argument("--live", action="store_true", help="give every domain a live certificate")
    args = ap.parse_args()
    rows = []

    def measure_all(so, workdir):
        cert = scale.static_cert(workdir)
        for n in bench_common.counts(args):
            got = run_one(args, so, workdir, cert, n)
            for kind in ("json", "html"):
                g = got[kind]
                cells = [kind.upper(), n, ("%.1f MB" % (g["size"] / 1e6) if g["size"] >= 1e5
                                                  else "%.0f KB" % (g["size"] / 1e3)), "%.1f ms" % g["first"]]
                for client in ("own", "curl"):
                    t = g["times"][client]
                    r = ratio(t["page"], t["control"])
                    cells += [scale.median_spread(t["page"], "%.1f ms"),
                              scale.median_spread(t["control"], "%.1f ms"),
                              "%.2f" % r if r is not None else "—"]
                cells += ["%.1f ms" % g["cpu"], "%.1f ms" % g["restart"], "%.1f" % g["load"]]
                rows.append(cells)
                print("# N=%d %s: %s" % (n, kind, " | ".join(str(c) for c in cells[2:])),
                      flush=True)

    where, _ = bench_common.run("acme-status-bench-", measure_all)
    print("| status page | N | size | first GET | warm GET, median [min–max] "
          "| same-size static file | ratio | by curl | static file by curl | ratio "
          "| server CPU per warm GET | first GET after a graceful restart | load (1 min) "
          "| target |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print("| %s | %s | %s | ≤ 100 ms |"
              % (r[0], "{:,}".format(r[1]), " | ".join(r[2:])))
    print()
    print("%s live certificates. Machine: %s." % ("With" if args.live else "Without", where))


if __name__ == "__main__":
    main()
