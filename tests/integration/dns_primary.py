"""A non-recursive primary DNS server for dns-01 delegation tests, on a free
loopback UDP port in the test's own process.

It is authoritative for the CNAMEs it is given (_acme-challenge.NAME ->
a name in another zone) and answers a query for such a name with the CNAME
alone, as a primary of one zone does when the target lies in a zone it does
not serve (the common acme-dns set-up). Every other query is either relayed
to pebble-challtestsrv (forward=True: a server that also holds the other
zone, but does not chase CNAMEs across zones) or refused (forward=False).

system_resolver() puts one on port 53 of a random 127/8 address, answering
as a recursive resolver: the system resolver of an httpd started with its
own resolv.conf (test_dns01.SystemResolverHttpd).
"""
import errno
import random
import socket
import struct
import threading

import requests

FLAG_QR, FLAG_AA, FLAG_RA = 0x8000, 0x0400, 0x0080
RCODE_REFUSED = 5
TYPE_CNAME, CLASS_IN = 5, 1


def encode_name(name):
    return b"".join(bytes([len(label)]) + label.encode()
                    for label in name.rstrip(".").split(".")) + b"\0"


def question(packet):
    """(name lower case without the dot, offset after the question)."""
    labels, at = [], 12
    while packet[at]:
        n = packet[at]
        labels.append(packet[at + 1:at + 1 + n].decode("ascii", "replace"))
        at += 1 + n
    return ".".join(labels).lower(), at + 1 + 4


class DnsPrimary:
    def __init__(self, upstream_port, forward=True, host="127.0.0.1", port=0, recursive=False):
        self.upstream_port = upstream_port
        self.forward = forward
        self.recursive = recursive   # relayed answers say "recursion available"
        self.cnames = {}
        self.queries = []            # names asked, in order
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def add_cname(self, owner, target):
        self.cnames[owner.rstrip(".").lower()] = target.rstrip(".")

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        self.sock.close()
        self._thread.join(timeout=5)

    def _serve(self):
        while not self._stop:
            try:
                packet, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                reply = self._answer(packet)
            except (IndexError, OSError, struct.error):
                continue
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                return

    def _answer(self, packet):
        name, end = question(packet)
        self.queries.append(name)
        qid, flags = struct.unpack(">HH", packet[:4])
        if name in self.cnames:
            target = encode_name(self.cnames[name])
            header = struct.pack(">HHHHHH", qid, FLAG_QR | FLAG_AA | (flags & 0x0100), 1, 1, 0, 0)
            record = (b"\xc0\x0c" + struct.pack(">HHIH", TYPE_CNAME, CLASS_IN, 60, len(target))
                      + target)
            return header + packet[12:end] + record
        if self.forward:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2)
                up.sendto(packet, ("127.0.0.1", self.upstream_port))
                reply = up.recv(4096)
            if self.recursive and len(reply) >= 4:
                # a recursive resolver's answer (RA): glibc takes an empty
                # answer with neither AA nor RA for a lame server and drops it
                reply = reply[:2] + struct.pack(">H", struct.unpack(">H", reply[2:4])[0]
                                                | FLAG_RA) + reply[4:]
            return reply
        header = struct.pack(">HHHHHH", qid, FLAG_QR | (flags & 0x0100) | RCODE_REFUSED, 1, 0, 0, 0)
        return header + packet[12:end]


def system_resolver(upstream_port, attempts=20):
    """A recursive relay to pebble-challtestsrv (forward=True) on port 53 of a random
    127/8 address, as /etc/resolv.conf can name no other port: the system
    resolver of a process whose resolv.conf says "nameserver <host>"
    (SystemResolverHttpd). Binding port 53 needs root."""
    for _ in range(attempts):
        host = "127.%d.%d.%d" % (random.randint(16, 250), random.randint(0, 255),
                                 random.randint(2, 254))
        try:
            return DnsPrimary(upstream_port, forward=True, host=host, port=53, recursive=True)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, "no free 127/8 address for port 53")


def set_cname(challtestsrv, owner, target):
    """The same CNAME at pebble-challtestsrv, which Pebble's validation asks."""
    challtestsrv_post(challtestsrv, "/set-cname",
                      {"host": owner.rstrip(".") + ".", "target": target.rstrip(".") + "."})


def set_txt(challtestsrv, name, value):
    challtestsrv_post(challtestsrv, "/set-txt", {"host": name.rstrip(".") + ".", "value": value})


def challtestsrv_post(challtestsrv, path, body):
    r = requests.post("http://127.0.0.1:%d%s" % (challtestsrv.mgmt_port, path), json=body,
                      timeout=10)
    r.raise_for_status()
