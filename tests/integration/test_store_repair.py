"""The certificate store as a fresh user may find it: a live link
(domains/NAME) that is not mod_acme's is set aside and pointed at the newest
usable archived version (no new order), or only set aside when none is
usable; and acmectl check names, each with its fix, everything mod_acme never
makes in keys/, archive/ and domains/."""
import json
import os
import shutil
import time

import pytest

import harness
from harness import ssl_vhost
from test_acmectl_store import acmectl, imported_store

ISSUE_TIMEOUT = 90


def issued(httpd, name):
    """httpd serving name's first certificate; the version directory it is in."""
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    httpd.wait_idle()
    version = harness.live_version(httpd.store, name)
    assert version and harness.version_leaf(version).serial_number == cert.serial_number
    return version


def unusable_newer_versions(store, name, version):
    """Two entries of archive/NAME/ newer than any version: one whose
    certificate is garbage (a start proves it unusable), one empty."""
    bad = os.path.join(store, "archive", name, "29990101T000000Z-0bad0bad")
    os.makedirs(bad)
    with open(os.path.join(bad, "cert.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    shutil.copy(os.path.join(version, "privkey.pem"), bad)
    os.makedirs(os.path.join(store, "archive", name, "29990102T000000Z-0e0e0e0e"))


def break_link(store, name, how, tmp_path, version):
    """Puts something other than mod_acme's link at domains/NAME; what it is
    (the file's bytes, or the link's target)."""
    link = os.path.join(store, "domains", name)
    os.remove(link)
    if how == "file":
        with open(link, "w") as f:
            f.write("replaced by a restore\n")
        return "replaced by a restore\n"
    if how == "directory":
        # what a copy that follows links (cp -rL, rsync -L) leaves
        shutil.copytree(version, link)
        return link
    if how == "dangling":
        target = "../archive/%s/20200101T000000Z-00000000" % name
    elif how == "other-name":
        other = os.path.join(store, "archive", "other.test", "20200101T000000Z-00000001")
        shutil.copytree(version, other)
        target = "../archive/other.test/20200101T000000Z-00000001"
    else:
        # a copy of the very version outside archive/NAME/: served before
        # without a word
        target = str(tmp_path / "elsewhere")
        shutil.copytree(version, target)
    os.symlink(target, link)
    return target


def junk_at_the_link(httpd, pebble, name, change):
    """name issued, httpd stopped, change(version) done to its version, then
    a file in place of the live link. Returns (version, the link's path,
    the CA's order count then)."""
    version = issued(httpd, name)
    httpd.stop()
    change(version)
    link = os.path.join(httpd.store, "domains", name)
    os.remove(link)
    with open(link, "w") as f:
        f.write("junk")
    return version, link, pebble.new_order_count()


def aside_entries(store, name):
    return sorted(e for e in os.listdir(os.path.join(store, "domains"))
                  if e.startswith(name + ".broken-"))


@pytest.mark.parametrize("how", ["file", "directory", "dangling", "outside", "other-name"])
def test_a_broken_live_link_is_set_aside_and_the_newest_usable_version_served(
        httpd, pebble, unique, tmp_path, how):
    name = unique("repair-" + how)
    version = issued(httpd, name)
    httpd.stop()
    unusable_newer_versions(httpd.store, name, version)
    what = break_link(httpd.store, name, how, tmp_path, version)
    orders = pebble.new_order_count()

    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, 20)
    httpd.wait_idle()
    link = os.path.join(httpd.store, "domains", name)
    log = httpd.error_log_text()
    lines = [l for l in log.splitlines() if "ACME01511" in l and link in l]
    assert lines and "[acme:warn]" in lines[0], httpd.diagnostics()
    assert os.path.basename(version) in lines[0] and "kept as" in lines[0], lines[0]
    # the newest usable version, in one rename; no order for it
    assert os.readlink(link) == "../archive/%s/%s" % (name, os.path.basename(version))
    assert harness.version_leaf(version).serial_number == cert.serial_number
    assert pebble.new_order_count() == orders, httpd.diagnostics()
    # what was there kept aside, as it was
    aside = aside_entries(httpd.store, name)
    assert len(aside) == 1, aside
    kept = os.path.join(httpd.store, "domains", aside[0])
    if how == "file":
        with open(kept) as f:
            assert f.read() == what
    elif how == "directory":
        assert sorted(os.listdir(kept)) == sorted(os.listdir(version)), os.listdir(kept)
    else:
        assert os.readlink(kept) == what
    assert os.path.join(httpd.store, "domains", aside[0]) in lines[0], lines[0]
    # acmectl: no domain of the aside entry; check names it with its fix
    r = acmectl(httpd.store, "--json", "list", "--all")
    assert [d["name"] for d in json.loads(r.stdout)] == [name], r.stdout
    r = acmectl(httpd.store, "check")
    line = [l for l in r.stdout.splitlines() if l.startswith("problem: domains/%s" % aside[0])]
    assert line and "(fix: look at it, then remove it: rm -r '%s')" % kept in line[0], r.stdout


def test_with_no_usable_version_the_link_is_set_aside_and_a_certificate_ordered(
        httpd, pebble, unique):
    name = unique("repair-none")

    def no_usable_version(version):
        unusable_newer_versions(httpd.store, name, version)
        shutil.rmtree(version)

    _, link, orders = junk_at_the_link(httpd, pebble, name, no_usable_version)

    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    lines = [l for l in httpd.error_log_text().splitlines() if "ACME01512" in l]
    assert lines and link in lines[0] and "[acme:warn]" in lines[0], httpd.diagnostics()
    assert pebble.new_order_count() > orders
    aside = aside_entries(httpd.store, name)
    assert len(aside) == 1 and aside[0] in lines[0], (aside, lines[0])
    with open(os.path.join(httpd.store, "domains", aside[0])) as f:
        assert f.read() == "junk"
    live = harness.live_version(httpd.store, name)
    assert live and harness.version_leaf(live).serial_number == cert.serial_number


@pytest.mark.parametrize("tamper", ["directory-owner", "key-owner", "directory-mode"])
def test_a_version_another_user_could_change_is_never_made_live(httpd, pebble, unique, tamper):
    """The only archived version is one another user owns or may write: the
    repair must not point the live link at it (that user could swap the key
    after the proof); the link is set aside and a certificate ordered."""
    name = unique("repair-" + tamper.split("-")[0][:3] + tamper.split("-")[1][:3])
    nobody = 65534

    def tampered(version):
        if tamper == "directory-owner":
            os.chown(version, nobody, -1)
        elif tamper == "key-owner":
            os.chown(os.path.join(version, "privkey.pem"), nobody, -1)
        else:
            os.chmod(version, 0o775)

    version, link, orders = junk_at_the_link(httpd, pebble, name, tampered)

    httpd.start()
    cert = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    log = httpd.error_log_text()
    assert "ACME01511" not in log, httpd.diagnostics()
    assert [l for l in log.splitlines() if "ACME01512" in l and link in l], httpd.diagnostics()
    assert pebble.new_order_count() > orders
    live = harness.live_version(httpd.store, name)
    assert live and os.path.realpath(live) != os.path.realpath(version)
    assert harness.version_leaf(live).serial_number == cert.serial_number


def every_aside_name_taken(store, name, seconds=180):
    """Files at every name a repair within the next seconds could keep
    domains/NAME as (.broken-<time>, -2 .. -99): none may be replaced."""
    now = int(time.time())
    for t in range(now - 5, now + seconds):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
        for n in [""] + ["-%d" % i for i in range(2, 100)]:
            with open(os.path.join(store, "domains", "%s.broken-%s%s" % (name, stamp, n)),
                      "w") as f:
                f.write("earlier")


@pytest.mark.parametrize("how", ["directory", "garbled", "file", "dangling"])
def test_a_repair_that_cannot_keep_the_entry_aside_replaces_nothing_and_says_what_is_served(
        httpd, pebble, unique, tmp_path, how):
    name = unique("norepair-" + how)
    version = issued(httpd, name)
    httpd.stop()
    break_link(httpd.store, name, "directory" if how == "garbled" else how, tmp_path, version)
    if how == "garbled":
        # a copied version whose certificate no longer parses
        with open(os.path.join(httpd.store, "domains", name, "cert.pem"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    before = sorted(os.listdir(os.path.join(httpd.store, "domains")))
    every_aside_name_taken(httpd.store, name)
    taken = sorted(os.listdir(os.path.join(httpd.store, "domains")))

    httpd.start()
    httpd.wait_idle()
    link = os.path.join(httpd.store, "domains", name)
    lines = [l for l in httpd.error_log_text().splitlines() if "ACME01513" in l]
    assert lines and link in lines[0] and "[acme:error]" in lines[0], httpd.diagnostics()
    assert "every name to keep it aside" in lines[0], lines[0]
    # nothing set aside earlier replaced, the entry where it was
    assert sorted(os.listdir(os.path.join(httpd.store, "domains"))) == taken
    assert len(taken) > len(before)
    for e in taken:
        if e.startswith(name + ".broken-"):
            with open(os.path.join(httpd.store, "domains", e)) as f:
                assert f.read() == "earlier", e
    # told by what is served: the pair found through the entry, else the
    # previous version (ACME00637), else the temporary certificate and 503
    if how == "directory":
        assert os.path.isdir(link) and not os.path.islink(link)
        assert "the name serves the certificate and key found through it" in lines[0], lines[0]
    elif how == "garbled":
        assert ("the name serves the previous version %s/cert.pem" % version) in lines[0], \
            lines[0]
    else:
        # nothing readable through it: ACME00609, the fallback
        assert "the name answers with a temporary certificate and 503" in lines[0], lines[0]
    # acmectl list: the taken names are no domains
    r = acmectl(httpd.store, "--json", "list", "--all")
    assert [d["name"] for d in json.loads(r.stdout)] == [name], r.stdout


def problems(store):
    r = acmectl(store, "check")
    return r.returncode, [l[len("problem: "):] for l in r.stdout.splitlines()
                          if l.startswith("problem: ")], r.stdout


def test_check_reports_what_mod_acme_never_makes_with_its_fix(tmp_path, pebble, unique):
    """Links anywhere in archive/ and keys/, files where directories belong,
    anything below a version's files, another user's file in keys/NAME,
    version directories without a certificate (which acmectl show does not
    list as versions): each named with what to do."""
    name = unique("strays")
    store = imported_store(tmp_path, pebble, name)
    rc, lines, out = problems(store)
    assert rc == 0 and not lines, out
    version = harness.live_version(store, name)
    vname = os.path.basename(version)
    arch, keys = os.path.join(store, "archive", name), os.path.join(store, "keys", name)
    os.makedirs(keys, mode=0o700, exist_ok=True)
    planted = {
        os.path.join(arch, "evil.pem"): "link",
        os.path.join(version, "chain.pem"): "link",
        os.path.join(arch, "20200101T000000Z-0000beef"): "link",
        os.path.join(keys, "k.key"): "link",
        os.path.join(store, "archive", "junk.txt"): "file",
        os.path.join(store, "keys", "junk.txt"): "file",
        os.path.join(arch, "notes.txt"): "file",
        os.path.join(version, "old"): "dir",
    }
    for path, kind in planted.items():
        if kind == "link":
            os.symlink("/etc/shadow", path)
        elif kind == "file":
            with open(path, "w") as f:
                f.write("x")
        else:
            os.makedirs(path)
    stranger = os.path.join(keys, "stray.key")
    with open(stranger, "w") as f:
        f.write("x")
    os.chmod(stranger, 0o600)
    os.chown(stranger, 65534, 65534)
    empty = os.path.join(arch, "29990101T000000Z-0e0e0e0e")
    os.makedirs(empty)
    keyonly = os.path.join(arch, "29990102T000000Z-0f0f0f0f")
    os.makedirs(keyonly)
    shutil.copy(os.path.join(version, "privkey.pem"), keyonly)

    rc, lines, out = problems(store)
    assert rc == 1, out

    def line_of(path):
        found = [l for l in lines if l.startswith(path + ": ")]
        assert found, (path, out)
        assert "(fix: " in found[0], found[0]
        return found[0]

    for path, kind in planted.items():
        line = line_of(path)
        if kind == "link":
            assert "a link (to /etc/shadow), which mod_acme never makes" in line, line
            assert "rm '%s'" % path in line, line
        elif kind == "file":
            assert "a file where mod_acme keeps only directories" in line, line
            assert "rm '%s'" % path in line, line
        else:
            assert "a directory where mod_acme keeps only files" in line, line
            assert "rm -r '%s'" % path in line, line
    line = [l for l in lines if l.startswith(stranger + ": ") and "owned by uid 65534" in l]
    assert line and "rm it if mod_acme did not write it, else chown -h 0 '%s'" % stranger \
        in line[0] and "read the key" in line[0], out
    assert "empty version directory" in line_of("archive/%s/%s" % (name, os.path.basename(empty)))
    assert "without a certificate" in line_of("archive/%s/%s" % (name,
                                                                 os.path.basename(keyonly)))
    # every line says what to do
    assert all("fix" in l or "remove it" in l for l in lines), out
    doc = json.loads(acmectl(store, "--json", "check").stdout)
    assert len(doc["problems"]) == len(lines)
    # show lists the one version, not the empty one nor the links
    r = acmectl(store, "show", name)
    row = [l for l in r.stdout.splitlines() if l.startswith("archive:")]
    assert row and row[0].split()[1:] == [vname], r.stdout
    r = acmectl(store, "--json", "show", name)
    assert json.loads(r.stdout)["archive"] == [vname], r.stdout
    # cleaned as told: no problem left
    for path in list(planted) + [stranger]:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    shutil.rmtree(empty)
    shutil.rmtree(keyonly)
    rc, lines, out = problems(store)
    assert rc == 0, out


@pytest.mark.parametrize("how", ["file", "directory", "dangling", "outside", "other-name"])
def test_check_reports_a_broken_live_link_with_its_fix(tmp_path, pebble, unique, how):
    name = unique("link-" + how)
    store = imported_store(tmp_path, pebble, name)
    version = harness.live_version(store, name)
    break_link(store, name, how, tmp_path, version)
    what = {"file": "not a link", "directory": "not a link",
            "dangling": "a link to a version that does not exist",
            "outside": "a link that leads outside its archive",
            "other-name": "a link that leads outside its archive"}[how]
    rc, lines, out = problems(store)
    assert rc == 1, out
    line = [l for l in lines if l.startswith("domains/%s: " % name)]
    assert line and what in line[0], out
    # no server wrote configured.json: the repair is httpd's only for a name it is configured for
    link = os.path.join(store, "domains", name)
    assert ("(fix, if httpd is configured for %s: apachectl graceful: httpd keeps it aside"
            % name) in line[0], line[0]
    assert "newest usable version in archive/%s/" % name in line[0], line[0]
    assert "if not, remove it: rm -r '%s', or configure the name)" % link in line[0], line[0]
    # configured: the graceful restart repairs it
    with open(os.path.join(store, "configured.json"), "w") as f:
        json.dump({"names": [name]}, f)
    rc, lines, out = problems(store)
    line = [l for l in lines if l.startswith("domains/%s: " % name)]
    assert line and "(fix: apachectl graceful: httpd keeps it aside" in line[0], out
    # not configured: httpd leaves it; remove it or configure the name
    with open(os.path.join(store, "configured.json"), "w") as f:
        json.dump({"names": ["other.test"]}, f)
    rc, lines, out = problems(store)
    line = [l for l in lines if l.startswith("domains/%s: " % name)]
    assert line and ("httpd is not configured for %s, so it leaves it as it is (fix: remove it: "
                     "rm -r '%s', or configure the name, then apachectl graceful" % (name, link)
                     ) in line[0], out


def test_a_domain_whose_name_holds_broken_is_a_domain(tmp_path, pebble, unique):
    """Only the exact name form httpd gives an entry it sets aside
    (NAME.broken-YYYYMMDDTHHMMSSZ[-N]) is one: shop.broken-arrow... is
    listed and checked as the domain it is."""
    name = "shop.broken-" + unique("arrow")
    store = imported_store(tmp_path, pebble, name)
    link = os.path.join(store, "domains", name)
    assert os.path.islink(link)
    r = acmectl(store, "--json", "list", "--all")
    assert [d["name"] for d in json.loads(r.stdout)] == [name], r.stdout
    rc, lines, out = problems(store)
    assert not [l for l in lines if name in l], out
    # an entry set aside next to it is one, and only it
    os.symlink("/nonexistent", link + ".broken-20261202T101010Z-3")
    rc, lines, out = problems(store)
    assert [l for l in lines if l.startswith("domains/%s.broken-20261202T101010Z-3: what httpd "
                                             "found" % name)], out
    assert not [l for l in lines if l.startswith("domains/%s: " % name)], out
    r = acmectl(store, "--json", "list", "--all")
    assert [d["name"] for d in json.loads(r.stdout)] == [name], r.stdout


def test_check_reports_files_mod_acme_never_writes_in_keys_and_versions(tmp_path, pebble,
                                                                        unique):
    """keys/NAME/ holds only <id>.key and refused.json, a version directory
    only cert.pem, privkey.pem, meta.json, revoked.json and import-pending: any other file
    there (a backup, a fullchain.pem of another tool) is named with what
    mod_acme writes there and its rm; check removes nothing."""
    name = unique("junk")
    store = imported_store(tmp_path, pebble, name)
    version = harness.live_version(store, name)
    keys = os.path.join(store, "keys", name)
    os.makedirs(keys, mode=0o700, exist_ok=True)
    good = [os.path.join(keys, "0123abcd.key"), os.path.join(keys, "refused.json"),
            os.path.join(version, "revoked.json")]
    junk = [os.path.join(keys, "0123abcd.key.bak"), os.path.join(keys, "notes.txt"),
            os.path.join(version, "fullchain.pem"), os.path.join(version, "cert.pem~")]
    for path in good + junk:
        with open(path, "w") as f:
            f.write("{}\n")
        os.chmod(path, 0o600)
    rc, lines, out = problems(store)
    for path in good:
        assert not [l for l in lines if l.startswith(path + ": ")], (path, out)
    for path in junk:
        found = [l for l in lines if l.startswith(path + ": ")]
        assert len(found) == 1, (path, out)
        assert "a file mod_acme never writes there" in found[0], found[0]
        assert "(fix: look at it, then remove it: rm '%s')" % path in found[0], found[0]
        assert os.path.exists(path)
    assert "it writes only <id>.key (its keys) and refused.json in keys/%s)" % name in out, out
    assert "it writes only cert.pem, privkey.pem, meta.json, revoked.json and import-pending " \
        "in archive/%s/%s)" % (name, os.path.basename(version)) in out, out
    for path in junk:
        os.remove(path)
    rc, lines, out = problems(store)
    assert not [l for l in lines if "never writes there" in l], out
