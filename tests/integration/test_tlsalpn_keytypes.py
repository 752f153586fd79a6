"""Two key types and tls-alpn-01 alone: the EC and the RSA certificate of one
name are two orders, with two authorizations (two key authorizations) for
the same identifier, run side by side. The CA's acme-tls/1 handshake names
the identifier alone (RFC 8737 §3), so only one answer per identifier can be
served at a time: the second order waits until the first one's
authorization is done and its answer withdrawn, and no validation fails."""
import os

import pytest

import harness
from harness import ssl_vhost, wait_for

NAMES = 4


@pytest.fixture(scope="module")
def keytypes_pebble(workdir, challtestsrv):
    """A Pebble of this module's own (its log read by the test), http-01 port closed."""
    yield from harness.started_tls_only_pebble(workdir, challtestsrv.dns_port,
                                               "tlsalpn-keytypes")


def test_two_key_types_by_tls_alpn_validate_each_name_once_at_a_time(httpd_factory,
                                                                      keytypes_pebble, unique):
    pb = keytypes_pebble
    names = [unique("alpn-kt%d" % i) for i in range(NAMES)]
    httpd, acme = harness.tls_only_httpd(httpd_factory, pb)
    acme["AcmeChallenges"] = "tls-alpn-01"
    vhosts = "\n".join(ssl_vhost(n, extra="AcmeKeyType ec-p256 rsa-2048") for n in names)
    httpd.write_config(vhosts=vhosts, acme=acme, extra_global="Protocols http/1.1")
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    stores = [n for n in names] + ["%s+rsa-2048" % n for n in names]
    wait_for(lambda: all(os.path.lexists(os.path.join(httpd.store, "domains", s))
                         for s in stores), 120, what="%s live in the store" % stores)

    log = httpd.error_log_text()
    for n in names:
        assert "answering tls-alpn-01 for %s" % n in log, httpd.diagnostics()
    failed = [line for line in log.splitlines() if "ACME00402" in line]
    assert not failed, "\n".join(failed)
    with open(pb.log_path, errors="replace") as f:
        pebble_log = f.read()
    wrong = [line for line in pebble_log.splitlines()
             if "Incorrect validation certificate" in line]
    assert not wrong, "\n".join(wrong[:10])
