"""A non-recursive primary DNS server for dns-01 delegation tests, on a free
loopback UDP port in the test's own process.

It is authoritative for the CNAMEs it is given (_acme-challenge.NAME ->
a name in another zone) and answers a query for such a name with the CNAME
alone, as a primary of one zone does when the target lies in a zone it does
not serve (the common acme-dns set-up). Every other query is either relayed
to pebble-challtestsrv (forward=True: a server that also holds the other
zone, but does not chase CNAMEs across zones) or refused (forward=False).
"""
import socket
import struct
import threading

import requests

FLAG_QR, FLAG_AA = 0x8000, 0x0400
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
    def __init__(self, upstream_port, forward=True):
        self.upstream_port = upstream_port
        self.forward = forward
        self.cnames = {}
        self.queries = []            # names asked, in order
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

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
                return up.recv(4096)
        header = struct.pack(">HHHHHH", qid, FLAG_QR | (flags & 0x0100) | RCODE_REFUSED, 1, 0, 0, 0)
        return header + packet[12:end]


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
