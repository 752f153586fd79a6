"""What a new user meets in acmectl after following the README: a name
typed in any spelling the server accepts (a trailing dot, an IPv6 address
written long or short) is the store's name."""
import json
import os
import subprocess

import pytest

from harness import ssl_vhost, store_status, wait_for
from test_acmectl_store import acmectl, imported_store
from test_import import md_domain

MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "acmectl.1")


def self_signed_ip(workdir, address):
    """A self-signed certificate for the IP address; (cert, key) PEM."""
    key = os.path.join(workdir, "ip-key.pem")
    cert = os.path.join(workdir, "ip-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=ip", "-addext",
                    "subjectAltName=IP:" + address], check=True, capture_output=True, timeout=30)
    with open(cert, "rb") as f, open(key, "rb") as g:
        return f.read(), g.read()


def test_every_spelling_of_a_name_is_the_stores_name(tmp_path, pebble, unique):
    """show, renew, revoke and import --name take a name as AcmeDomain
    does: case folded, one trailing dot (the DNS root's) dropped, an IPv6
    address in any spelling as its canonical one (the store writes its
    ':' as '_'), and the store name itself."""
    name = unique("spell")
    store = imported_store(tmp_path, pebble, name)
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", name + ".json"), "w") as f:
        json.dump({"name": name, "names": [name], "ca_urls": [pebble.directory_url]}, f)
    for typed in (name + ".", name.upper() + "."):
        r = acmectl(store, "show", typed)
        assert r.returncode == 0 and "no domain" not in r.stderr, r.stdout + r.stderr
        assert json.loads(acmectl(store, "--json", "show", typed).stdout)["name"] == name
    r = acmectl(store, "renew", name.upper() + ".")
    assert r.returncode == 0 and "renewal of %s requested" % name in r.stdout, \
        r.stdout + r.stderr
    assert os.path.exists(os.path.join(store, "jobs", name + ".renew"))
    assert not os.path.exists(os.path.join(store, "jobs", name + "..renew"))
    r = acmectl(store, "revoke", name + ".")
    assert "has no live certificate" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "not a domain name" not in r.stderr, r.stderr

    # an IPv6 address: imported under one spelling, found under every other
    cert, key = self_signed_ip(str(tmp_path), "2001:db8::7")
    md = md_domain(str(tmp_path / "md6"), "v6", cert, key, pebble.directory_url)
    r = acmectl(store, "import", "--yes", "--name", "2001:DB8:0:0:0:0:0:7", md)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.islink(os.path.join(store, "domains", "2001_db8__7")), \
        os.listdir(os.path.join(store, "domains"))
    for typed in ("2001:db8::7", "2001:DB8::7", "2001:0db8:0000::0007", "2001:db8:0:0:0:0:0:7",
                  "2001_db8__7"):
        doc = json.loads(acmectl(store, "--json", "show", typed).stdout or "{}")
        assert doc.get("name") == "2001_db8__7", (typed, doc)
    r = acmectl(store, "revoke", "2001:DB8:0::7")
    assert "has no live certificate" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "not a domain name" not in r.stderr, r.stderr


def test_a_stray_directory_in_keys_is_one_line_with_one_fix(tmp_path, pebble, unique):
    """keys/NAME/stray/ (with a file in it, its mode 0755 as mkdir leaves
    it): one check line, whose one fix is to remove it, never a second
    line asking to chmod what the first says to remove."""
    name = unique("straydir")
    store = imported_store(tmp_path, pebble, name)
    keys = os.path.join(store, "keys", name)
    os.makedirs(keys, mode=0o700, exist_ok=True)
    os.chmod(os.path.join(store, "keys"), 0o700)
    os.chmod(keys, 0o700)
    stray = os.path.join(keys, "stray")
    os.mkdir(stray)
    os.chmod(stray, 0o755)
    with open(os.path.join(stray, "note"), "w") as f:
        f.write("x\n")
    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    about = [l for l in r.stdout.splitlines() if "/stray" in l]
    assert len(about) == 1, r.stdout
    assert about[0].count("(fix") == 1 and "rm -r '%s'" % stray in about[0], about[0]
    assert "chmod" not in about[0], about[0]
    doc = json.loads(acmectl(store, "--json", "check").stdout)
    assert len([p for p in doc["problems"] if "/stray" in p]) == 1, doc
    # owned by another user: httpd refuses to start over it (ACME01508),
    # which check says, with no fix but the removal
    os.chown(stray, 65534, 65534)
    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    about = [l for l in r.stdout.splitlines() if "/stray" in l]
    assert len(about) == 2 and "rm -r '%s'" % stray in about[0], r.stdout
    assert "owned by uid 65534" in about[1] and "does not start" in about[1], about[1]
    assert not any("chown" in l or "chmod" in l for l in about), about
    assert "sets it back" not in r.stdout and "sets them back" not in r.stdout, r.stdout


def test_check_ends_with_a_summary_that_agrees_with_its_lines(tmp_path, pebble, unique):
    """An abandoned order and a failing certificate are notices (exit 0:
    the server deals with them, nothing is to fix in the store), listed
    before the summary, which comes last and counts them; with a problem
    too, the summary counts both and the exit status is 1. Teardowns a
    stop cut short (jobs/.teardowns.json) are a notice saying what runs at
    the next start."""
    name, gone = unique("summary"), unique("abandoned")
    store = imported_store(tmp_path, pebble, name)
    os.makedirs(os.path.join(store, "jobs"), exist_ok=True)
    with open(os.path.join(store, "jobs", gone + ".json"), "w") as f:
        json.dump({"name": gone, "fingerprint": "f", "step": "authorize",
                   "ca": pebble.directory_url, "order": pebble.directory_url + "/order/1",
                   "started": 1790000000}, f)
    # a removed AcmeDomain's: its config/ stays
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", gone + ".json"), "w") as f:
        json.dump({"name": gone, "names": [gone]}, f)
    with open(os.path.join(store, "configured.json"), "w") as f:
        json.dump({"servers": {"s": {"names": [name], "since": "2026-12-01T00:00:00Z"}}}, f)
    r = acmectl(store, "check")
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(l.startswith("notice: abandoned order: %s" % gone) for l in lines), r.stdout
    assert lines[-1] == "%s: no problems found, 1 notice (above: nothing in the store to fix)" % store, \
        r.stdout
    assert not any("problem" in l for l in lines[:-1]), r.stdout

    # the teardowns a stop cut short
    with open(os.path.join(store, "jobs", ".teardowns.json"), "w") as f:
        json.dump({"dns01": [{"program": "/usr/local/bin/dns-hook", "identifier": "*." + name,
                              "name": "_acme-challenge." + name, "value": "v" * 43}]}, f)
    r = acmectl(store, "check")
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    tear = [l for l in lines if l.startswith("notice: jobs/.teardowns.json: ")]
    assert len(tear) == 1, r.stdout
    assert "1 dns-01 teardown" in tear[0] and "next start" in tear[0], tear[0]
    assert "_acme-challenge." + name in tear[0] and "/usr/local/bin/dns-hook" in tear[0], tear[0]
    assert lines[-1] == "%s: no problems found, 2 notices (above: nothing in the store to fix)" % store, \
        r.stdout
    doc = json.loads(acmectl(store, "--json", "check").stdout)
    assert doc["ok"] and len(doc["notices"]) == 2, doc
    assert any("teardown" in n for n in doc["notices"]), doc

    # a problem too: the summary counts both, exit 1
    with open(os.path.join(store, "activation.json"), "w") as f:
        f.write("[]")
    r = acmectl(store, "check")
    lines = r.stdout.splitlines()
    assert r.returncode == 1, r.stdout + r.stderr
    assert lines[-1] == "%s: 1 problem (fix it as its line says), 2 notices" % store, r.stdout
    assert [l for l in lines if l.startswith("problem: ")] and \
        lines.index([l for l in lines if l.startswith("problem: ")][-1]) < \
        lines.index(tear[0]), r.stdout

    # a teardowns file the server cannot read either: it sets it aside and
    # runs none of them (ACME00929), so it is a problem, with the hand fix
    os.unlink(os.path.join(store, "activation.json"))
    with open(os.path.join(store, "jobs", ".teardowns.json"), "w") as f:
        f.write("{not json")
    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    bad = [l for l in r.stdout.splitlines() if l.startswith("problem: ") and
           ".teardowns.json" in l]
    assert len(bad) == 1 and "runs none of them" in bad[0] and "by hand" in bad[0], r.stdout
    assert not any(l.startswith("notice: ") and ".teardowns.json" in l
                   for l in r.stdout.splitlines()), r.stdout


def test_renew_under_manual_activation_says_graceful_makes_it_live(tmp_path, pebble, unique):
    """The server last started with AcmeActivation manual
    (activation-mode.json, as show reads it): renew says the new
    certificate is staged and 'apachectl graceful' makes it live, never
    that the server activates it by itself; the same when a renewal was
    requested already. With AcmeActivation auto it says the server does."""
    name = unique("manualrenew")
    store = imported_store(tmp_path, pebble, name)
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", name + ".json"), "w") as f:
        json.dump({"name": name, "names": [name], "ca_urls": [pebble.directory_url]}, f)
    with open(os.path.join(store, "activation-mode.json"), "w") as f:
        json.dump({"activation": "manual"}, f)
    for args in (["renew", name], ["renew", name], ["renew", "--force", name]):
        r = acmectl(store, *args)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "by itself" not in r.stdout, (args, r.stdout)
        assert "stage" in r.stdout and "'apachectl graceful'" in r.stdout, (args, r.stdout)
        assert "AcmeActivation manual" in r.stdout, (args, r.stdout)
    with open(os.path.join(store, "activation-mode.json"), "w") as f:
        json.dump({"activation": "auto"}, f)
    r = acmectl(store, "renew", "--force", name)
    assert "activates it by itself" in r.stdout and "graceful" not in r.stdout, r.stdout
    # no record of the server's mode (it never started on this store, or
    # the file is gone): both ways are said, neither promised
    os.unlink(os.path.join(store, "activation-mode.json"))
    r = acmectl(store, "renew", "--force", name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "AcmeActivation auto" in r.stdout and "AcmeActivation manual" in r.stdout, r.stdout


def staged_first(httpd, name):
    """httpd under AcmeActivation manual with name's first certificate
    staged (nothing live yet); the status page's entry of name."""
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeActivation": "manual"})
    httpd.start()
    wait_for(lambda: store_status(httpd.store, name).get("state") == "staged", 90,
             what="the first certificate staged")
    page = [d for d in httpd.status()["domains"] if d["name"] == name][0]
    assert page["cert"] is None and page["staged"], page
    return page


def test_renew_now_of_a_staged_certificate_says_it_ended_nothing(httpd, unique):
    """renew --now while a new certificate is staged orders nothing (as
    renew does) and says that --now ended nothing, in text and in JSON,
    instead of passing over the option in silence."""
    name = unique("nowstaged")
    staged_first(httpd, name)
    r = httpd.acmectl("--store", httpd.store, "renew", name, "--now")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "is staged" in r.stdout and "no other one is ordered" in r.stdout, r.stdout
    assert "--now ended nothing" in r.stdout, r.stdout
    r = httpd.acmectl("--store", httpd.store, "--json", "renew", name, "--now")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["staged"] and not doc["ordered"] and doc["backoff_ended"] is False, doc
    assert not os.path.exists(os.path.join(httpd.store, "jobs", name + ".now"))
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert "--now" not in r.stdout.replace("--force", ""), r.stdout


def test_list_shows_a_staged_first_certificates_dates_and_issuer(httpd, unique):
    """A first certificate staged under AcmeActivation manual: list gives
    its not-after and issuer, read from staging as the status page and show
    read them, each marked staged, not "-"."""
    name = unique("liststaged")
    page = staged_first(httpd, name)
    r = httpd.acmectl("--store", httpd.store, "list")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    header, row = lines[0], [l for l in lines if l.startswith(name + " ")][0]
    at = header.index("NOT AFTER")
    assert row[at:].startswith(page["staged"]["not_after"] + " (staged)"), r.stdout
    assert 'issuer="%s (staged)"' % page["staged"]["issuer"] in row, r.stdout
    show = httpd.acmectl("--store", httpd.store, "show", name).stdout
    assert page["staged"]["not_after"] in show, show


def test_show_json_has_the_status_pages_staged_and_next_action_text(httpd, unique):
    """acmectl --json show (and list) carry the status page's staged, the
    first certificate's {issuer, not_before, not_after, serial} (null
    otherwise), and next_action_text, the same words; the manual page
    documents both and the change of staged."""
    name = unique("jsonstaged")
    page = staged_first(httpd, name)
    doc = json.loads(httpd.acmectl("--store", httpd.store, "--json", "show", name).stdout)
    # served: the page asks the children, acmectl reads their mark in
    # staging/ (none under AcmeActivation manual: nothing is served early)
    assert page["staged"]["served"] is False, page["staged"]
    assert doc["staged"] == page["staged"], (doc["staged"], page["staged"])
    assert doc["next_action_text"] == page["next_action_text"] and \
        doc["next_action_text"], (doc["next_action_text"], page["next_action_text"])
    listed = json.loads(httpd.acmectl("--store", httpd.store, "--json", "list").stdout)
    row = [d for d in listed if d["name"] == name][0]
    assert row["staged"] == page["staged"] and \
        row["next_action_text"] == page["next_action_text"], row
    with open(MAN) as f:
        man = f.read()
    assert "next_action_text" in man and "not_before" in man, "docs/acmectl.1"


def test_show_json_staged_is_null_for_a_live_certificate(tmp_path, pebble, unique):
    """A live certificate, nothing staged: staged and next_action_text are
    null, as on the status page."""
    name = unique("jsonlive")
    store = imported_store(tmp_path, pebble, name)
    doc = json.loads(acmectl(store, "--json", "show", name).stdout)
    assert doc["staged"] is None and doc["next_action_text"] is None, doc


def test_check_as_another_user_than_the_stores_owner_says_to_run_it_as_root(tmp_path, pebble,
                                                                            unique):
    """acmectl check run by a user who cannot read the store's keys and
    records (www-data, nobody) would report each missing, with renew as the
    fix; it says to run it as root instead, and reports nothing."""
    import pwd
    import shutil
    from harness import acmectl_path
    name = unique("asnobody")
    store = imported_store(tmp_path, pebble, name)
    shared = "/tmp/acmectl-nobody-%s" % name
    shutil.rmtree(shared, ignore_errors=True)
    shutil.copytree(store, shared, symlinks=True)
    os.chmod(shared, 0o755)
    nobody = pwd.getpwnam("nobody").pw_uid

    def as_nobody():
        os.setgid(nobody)
        os.setuid(nobody)
    try:
        r = subprocess.run([acmectl_path(), "--store", shared, "check"], capture_output=True,
                           text=True, timeout=30, preexec_fn=as_nobody)
    except PermissionError as e:
        shutil.rmtree(shared, ignore_errors=True)
        pytest.skip("acmectl cannot be run as nobody from this build directory: %s" % e)
    shutil.rmtree(shared, ignore_errors=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "run it as root" in r.stderr and "uid 0" in r.stderr, r.stderr
    assert "renew" not in r.stdout and "problem" not in r.stdout, r.stdout
