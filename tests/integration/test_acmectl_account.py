"""acmectl: account deactivate (RFC 8555 §7.3.6) against Pebble, with its
confirmation flag; --help of every command; documented exit codes."""
import json

import pytest

from harness import acmectl_on_store as acmectl, ssl_vhost

ISSUE_TIMEOUT = 60
COMMANDS = ["list", "show", "check", "renew", "revoke", "account", "import"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_help(httpd, command):
    # no store is needed to read a command's help
    p = httpd.acmectl("--store", "/nonexistent-store", command, "--help")
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert p.stdout.startswith("Usage: acmectl") and (" %s" % command) in p.stdout, p.stdout
    assert "Exit status" in p.stdout, p.stdout


def test_usage_errors_exit_2(httpd):
    p = httpd.acmectl("--store", "/nonexistent-store", "no-such-command")
    assert p.returncode == 2, (p.returncode, p.stderr)
    p = httpd.acmectl("--no-such-option")
    assert p.returncode == 2, (p.returncode, p.stderr)


def test_deactivate_needs_confirmation_and_ends_the_account(httpd, pebble, unique):
    name = unique("deact")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    before = json.loads(acmectl(httpd, "--json", "account", "show").stdout)

    p = acmectl(httpd, "account", "deactivate")
    assert p.returncode == 2 and "--confirm" in p.stderr, (p.returncode, p.stderr)
    # nothing was sent: the account still works (a key rollover is accepted)
    p = acmectl(httpd, "--json", "account", "deactivate", "--confirm")
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    doc = json.loads(p.stdout)
    assert doc["status"] == "deactivated" and doc["url"] == before["url"], doc
    # the CA refuses the account from now on, and acmectl says so with exit 1
    p = acmectl(httpd, "account", "deactivate", "--confirm")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "unauthorized" in p.stderr or "deactivated" in p.stderr, p.stderr
    p = acmectl(httpd, "account", "rollover")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
