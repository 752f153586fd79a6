"""Certificates from Pebble, served by httpd without anyone restarting it."""
import json
import os
import time

import harness
from harness import cert_names, cert_serial_hex, parse_time, ssl_vhost, utcnow, wait_for

ISSUE_TIMEOUT = 60


def normalize_serial(value):
    """'0A:1b', '0a1b', 2587 -> 'a1b'."""
    if isinstance(value, int):
        return "%x" % value
    return str(value).replace(":", "").strip().lower().lstrip("0") or "0"


def issuer_is_pebble(cert):
    return "Pebble" in cert.issuer.rfc4514_string()


def test_first_issuance_needs_no_manual_restart(httpd, unique):
    name = unique("one")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    parent = httpd.pid()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    assert issuer_is_pebble(cert), cert.issuer.rfc4514_string()
    assert name in cert_names(cert)
    # the module made it live by itself: a graceful restart of the same parent
    assert httpd.pid() == parent, "httpd parent changed: was %s, now %s" % (parent, httpd.pid())
    assert httpd.generation_count() >= 2, \
        "no graceful restart in error.log:\n" + httpd.diagnostics()
    status, _, body = httpd.https_request(name, "/index.html", verify=True)
    assert status == 200 and b"plain docroot" in body, (status, body[:300])


def test_server_name_and_aliases_share_one_certificate(httpd, unique):
    main = unique("two")
    aliases = ["www." + main, "alt." + main]
    httpd.write_config(vhosts=ssl_vhost(main, aliases))
    httpd.start()
    cert = httpd.wait_for_pebble_cert(main, ISSUE_TIMEOUT)
    assert cert_names(cert) == {main} | set(aliases), sorted(cert_names(cert))
    for name in aliases:
        served = httpd.verified_cert(name)
        assert served.serial_number == cert.serial_number, \
            "%s served serial %x, %s serial %x" % (name, served.serial_number, main,
                                                   cert.serial_number)


def test_restart_reuses_stored_certificate(httpd, pebble, unique):
    name = unique("reuse")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    httpd.stop()
    orders_before = pebble.new_order_count()

    httpd.start()
    # the stored certificate is served from the first request on
    again = httpd.verified_cert(name)
    assert again.serial_number == first.serial_number, \
        "after restart serial %s, before %s" % (cert_serial_hex(again), cert_serial_hex(first))
    # give the watchdog time to look at the domain; it must find nothing to do
    time.sleep(5)
    assert httpd.running(), httpd.diagnostics()
    orders = pebble.request_lines("POST", "/order-plz")[orders_before:]
    assert not orders, "new order(s) after restart: %s" % orders
    assert httpd.verified_cert(name).serial_number == first.serial_number


def test_status_page_after_issuance(httpd, unique):
    name = unique("status")
    httpd.write_config(vhosts=ssl_vhost(name, ["www." + name]))
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)

    def valid():
        d = httpd.domain_status(name)
        return d if d.get("state") == "valid" and d.get("cert") else None
    try:
        domain = wait_for(valid, 20, what="state 'valid' on the status page")
    except TimeoutError as exc:
        raise AssertionError("%s; page: %s" % (exc, json.dumps(httpd.status(), indent=1)))
    assert domain["name"] == name
    assert set(domain["names"]) == {name, "www." + name}, domain["names"]
    not_after = parse_time(domain["cert"]["not_after"])
    assert not_after > utcnow(), domain["cert"]
    assert abs((not_after - cert.not_valid_after.replace(tzinfo=not_after.tzinfo)).total_seconds()) < 2, \
        "status not_after %s, served certificate %s" % (not_after, cert.not_valid_after)
    assert "Pebble" in domain["cert"]["issuer"], domain["cert"]
    assert normalize_serial(domain["cert"]["serial"]) == cert_serial_hex(cert), \
        (domain["cert"]["serial"], cert_serial_hex(cert))
    assert not domain.get("error"), domain["error"]
    assert domain.get("next_action"), domain
    parse_time(domain["next_action"])
    # the page shows no key material
    text = json.dumps(httpd.status())
    assert "PRIVATE KEY" not in text


def test_acmectl_lists_and_checks_the_store(httpd, unique, build):
    harness.require_build([harness.acmectl_path()])
    name = unique("ctl")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)

    v = httpd.acmectl("--version")
    assert v.returncode == 0, (v.returncode, v.stdout, v.stderr)
    assert "acmectl" in (v.stdout + v.stderr).lower() and any(c.isdigit() for c in v.stdout), \
        (v.stdout, v.stderr)

    lst = httpd.acmectl("--store", httpd.store, "list")
    assert lst.returncode == 0, (lst.returncode, lst.stdout, lst.stderr)
    assert name in lst.stdout, "acmectl list does not show %s:\n%s%s" % (name, lst.stdout, lst.stderr)

    # after the activation the new child's first run rewrites status/ and jobs/
    httpd.wait_idle()
    chk = httpd.acmectl("--store", httpd.store, "check")
    assert chk.returncode == 0, "acmectl check failed (%d):\n%s%s" % (
        chk.returncode, chk.stdout, chk.stderr)

    # directory modes: keys/ and its directories 0700, nothing writable by others
    keys = os.path.join(httpd.store, "keys")
    key_dir = os.path.join(keys, sorted(os.listdir(keys))[0])
    staging = os.path.join(httpd.store, "staging")
    modes = {p: os.stat(p).st_mode & 0o7777 for p in (keys, key_dir, staging)}
    try:
        for path, mode in ((keys, 0o711), (key_dir, 0o755), (staging, 0o777)):
            os.chmod(path, mode)
        chk = httpd.acmectl("--store", httpd.store, "check")
        out = chk.stdout + chk.stderr
        assert chk.returncode != 0, out
        assert "%s: key directory has mode 0711, must be 0700" % keys in out, out
        assert "%s: key directory has mode 0755, must be 0700" % key_dir in out, out
        assert "%s: directory has mode 0777, writable by other users" % staging in out, out
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    chk = httpd.acmectl("--store", httpd.store, "check")
    assert chk.returncode == 0, chk.stdout + chk.stderr


def test_server_level_domain_is_served_by_its_vhost(httpd, unique):
    """AcmeDomain with names at server level: the SSL vhost of those names
    gets the certificate."""
    name = unique("global")
    httpd.write_config(vhosts=ssl_vhost(name, ["www." + name], acme_domain=""),
                       extra_global="AcmeDomain %s www.%s" % (name, name))
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    cert = httpd.wait_for_pebble_cert("www." + name, ISSUE_TIMEOUT)
    assert cert_names(cert) == {name, "www." + name}, sorted(cert_names(cert))


def test_ssl_vhost_on_another_port_gets_its_certificate(httpd, unique):
    """'Every SSL vhost whose names are covered gets this certificate': also
    one on a second TLS port (an admin console, say), next to the main one."""
    main, admin = unique("main"), unique("admin")
    port = harness.free_port()
    httpd.write_config(vhosts=ssl_vhost(main) + ssl_vhost(admin, port=port),
                       extra_global="Listen 127.0.0.1:%d https" % port)
    rc, out = httpd.configtest()
    assert rc == 0, out
    httpd.start()
    cert = httpd.wait_for_pebble_cert(admin, ISSUE_TIMEOUT, port=port)
    assert cert_names(cert) == {admin}
