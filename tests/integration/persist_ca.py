#!/usr/bin/python3
"""A local CA for dns-persist-01, to try it by hand (docs/dns-persist-local.md):
pebble-challtestsrv (the DNS that holds the TXT record), Pebble, and the test
proxy in front of Pebble that offers and validates dns-persist-01 as
draft-ietf-acme-dns-persist describes (ari_proxy.AcmeProxy.dns_persist, as
tests/integration/test_dns_persist.py uses it; Pebble 2.4 lacks it), all on
127.0.0.1. Prints the directives for httpd and the command that sets a TXT
record, then runs until Ctrl-C (or SIGTERM), and stops all three.

    /usr/bin/python3 tests/integration/persist_ca.py [--draft 1|2] [--issuer NAME]
"""
import argparse
import json
import os
import shutil
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from ari_proxy import AcmeProxy  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draft", type=int, choices=(1, 2), default=2,
                    help="draft-ietf-acme-dns-persist version the CA follows (default 2)")
    ap.add_argument("--issuer", default="pebble.acme.test",
                    help="the CA's issuer domain name (default pebble.acme.test)")
    args = ap.parse_args()

    workdir = harness.make_tree("persist-ca-")
    started = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        dns = harness.ChallTestSrv(workdir).start()
        started.append(dns)
        pebble = harness.Pebble(workdir, dns.dns_port, harness.free_port(),
                                harness.free_port()).start()
        started.append(pebble)
        proxy = AcmeProxy(pebble)
        proxy.ari_enabled = False
        proxy.dns_persist = {"issuer": args.issuer.lower(), "dns_port": dns.dns_port,
                             "mgmt_port": dns.mgmt_port, "draft": args.draft}
        proxy.start()
        started.append(proxy)
        example = json.dumps({"host": "_validation-persist.www.example.org.",
                              "value": "%s; accounturi=..." % args.issuer})
        print("dns-persist-01 CA (draft -%02d) ready; in httpd's configuration:\n\n"
              "    AcmeCA %s\n"
              "    AcmeCACertificateFile %s\n"
              "    AcmeTrustedRootsFile %s\n"
              "    AcmeChallenges dns-persist-01\n"
              "    AcmeDnsResolver 127.0.0.1:%d\n\n"
              "Set the TXT record the status page shows (the value between the quotes):\n\n"
              "    curl -s -d '%s' http://127.0.0.1:%d/set-txt\n\n"
              "Logs in %s. Ctrl-C stops the CA."
              % (args.draft, proxy.directory_url, pebble.ca.ca_pem, pebble.root_pem, dns.dns_port,
                 example, dns.mgmt_port, workdir), flush=True)
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
