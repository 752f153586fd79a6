"""acmectl on a store as admins find it: temp files an interrupted write left
anywhere in it (flagged with path and age, and how to clean them), names a
removed AcmeDomain left (not listed as managed, as on the status page), two
servers sharing one store (neither forgets the other's names), a
status record behind the files and staged files show judges as activation
would."""
import json
import os
import shutil
import re
import time

from harness import acmectl_path, run, ssl_vhost
from test_import import md_domain, self_signed


def acmectl(store, *args):
    return run([acmectl_path(), "--store", store] + list(args), timeout=30)


def imported_store(tmp_path, pebble, name):
    """tmp_path/store with name imported by acmectl from a mod_md store
    (a self-signed certificate, Pebble as its CA); its path."""
    cert, key = self_signed(str(tmp_path), name)
    store = str(tmp_path / "store")
    r = acmectl(store, "import", "--yes", md_domain(str(tmp_path / "md"), name, cert, key,
                                                   pebble.directory_url))
    assert r.returncode == 0, r.stdout + r.stderr
    return store


def test_check_flags_temp_files_everywhere_with_age_and_cleanup(tmp_path, pebble, unique):
    name = unique("temps")
    store = imported_store(tmp_path, pebble, name)
    r = acmectl(store, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    version = os.path.realpath(os.path.join(store, "domains", name))
    # what acme_store_tmp_path names: <file>.tmp.<pid>.<8 hex>, in every area
    # and at the top, two hours old (a crash's leftovers), and one just made
    old = [os.path.join(store, rel) for rel in (
        "configured.json.tmp.4000001.0badf00d",
        "config/%s.json.tmp.4000002.deadbeef" % name,
        "status/%s.json.tmp.4000003.01234567" % name,
        "events/%s.jsonl.tmp.4000004.89abcdef" % name,
        "root-events/%s.jsonl.tmp.4000005.aaaaaaaa" % name,
        "keys/%s.tmp.4000006.bbbbbbbb" % name,
        "csr/%s.json.tmp.4000007.cccccccc" % name)]
    old.append(os.path.join(version, "cert.pem.tmp.4000008.dddddddd"))
    for path in old:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("partial")
        then = time.time() - 7200
        os.utime(path, (then, then))
    fresh = os.path.join(store, "jobs", "%s.json.tmp.4000009.eeeeeeee" % name)
    with open(fresh, "w") as f:
        f.write("partial")
    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    for path in old:
        line = [l for l in lines if path in l]
        assert line, (path, r.stdout)
        assert "leftover temporary file, 2 h old" in line[0] and "rm '%s'" % path in line[0], line
    line = [l for l in lines if fresh in l]
    assert line and "write in progress" in line[0], r.stdout
    assert "restart httpd" in r.stdout, r.stdout
    r = acmectl(store, "--json", "check")
    doc = json.loads(r.stdout)
    ages = {t["path"]: t["age_seconds"] for t in doc["temp_files"]}
    assert set(ages) == set(old) | {fresh}, ages
    assert all(7100 < ages[p] < 7400 for p in old) and ages[fresh] < 60, ages
    # cleaned as told: nothing left to flag
    for path in old + [fresh]:
        os.remove(path)
    r = acmectl(store, "check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_removed_domain_is_not_listed_as_managed(httpd, unique, tmp_path):
    """A name taken out of the configuration leaves its files in the store:
    acmectl list counts it apart (--all lists it as not-configured), show
    says so, and the status page has no page for it (404), as it does not
    list it."""
    keep, gone = unique("keep"), unique("gone")
    httpd.write_config(vhosts=ssl_vhost(keep) + ssl_vhost(gone))
    httpd.start()
    httpd.wait_for_pebble_cert(keep)
    httpd.wait_for_pebble_cert(gone)
    with open(os.path.join(httpd.store, "configured.json")) as f:
        assert sorted(json.load(f)["names"]) == sorted([keep, gone])
    httpd.stop()
    httpd.write_config(vhosts=ssl_vhost(keep))
    httpd.start()
    httpd.wait_idle()
    r = acmectl(httpd.store, "list")
    assert r.returncode == 0, r.stderr
    rows = [l.split()[0] for l in r.stdout.splitlines()[1:] if l and not l.startswith("1 more")]
    assert rows == [keep], r.stdout
    assert "1 more in the store not configured" in r.stdout and gone in r.stdout, r.stdout
    assert "acmectl list --all" in r.stdout, r.stdout
    r = acmectl(httpd.store, "list", "--all")
    row = [l for l in r.stdout.splitlines() if l.startswith(gone)]
    assert row and "not-configured" in row[0] and "none (not configured)" in row[0], r.stdout
    r = acmectl(httpd.store, "--json", "list")
    assert [d["name"] for d in json.loads(r.stdout)] == [keep], r.stdout
    assert json.loads(r.stdout)[0]["configured"] is True
    r = acmectl(httpd.store, "--json", "list", "--all")
    by_name = {d["name"]: d for d in json.loads(r.stdout)}
    assert by_name[gone]["configured"] is False and by_name[gone]["state"] == "not-configured"
    r = acmectl(httpd.store, "show", gone)
    assert r.returncode == 0 and re.search(r"^configured: +no: not in the configuration",
                                           r.stdout, re.M), r.stdout
    assert re.search(r"^state: +not-configured$", r.stdout, re.M), r.stdout
    assert re.search(r"^next action: +none \(not configured\)$", r.stdout, re.M), r.stdout
    r = acmectl(httpd.store, "show", keep)
    assert re.search(r"^configured: +yes, by %s$" % re.escape(httpd.conf_path), r.stdout,
                     re.M), r.stdout
    # the status page agrees: not in the overview, no detail page
    assert [d["name"] for d in httpd.status()["domains"]] == [keep]
    status, _, _ = httpd.http_request("/acme-status/" + gone)
    assert status == 404, status
    r = acmectl(httpd.store, "list", "--bogus")
    assert r.returncode == 2, r.stdout + r.stderr

    # a record the child has not rewritten since the parent activated a newer
    # certificate ("staged", of another serial): the page says valid, and
    # the step that is over with it is not shown as in progress
    path = os.path.join(httpd.store, "status", keep + ".json")
    with open(path) as f:
        record = json.load(f)
    record.update(state="staged", step="staged")
    record["cert"] = dict(record.get("cert") or {}, serial="01")
    st = os.stat(path)
    with open(path + ".forged", "w") as f:
        json.dump(record, f)
    os.chown(path + ".forged", st.st_uid, st.st_gid)
    os.rename(path + ".forged", path)
    d = httpd.domain_status(keep)
    assert d["state"] == "valid" and d["step"] == "idle", d
    # acmectl show agrees and says where the record is behind the files
    r = acmectl(httpd.store, "show", keep)
    assert re.search(r"^state: +valid$", r.stdout, re.M), r.stdout
    assert re.search(r"^staged: +no$", r.stdout, re.M), r.stdout
    assert re.search(r'^record: +status/%s\.json says "staged", but nothing is staged'
                     % re.escape(keep), r.stdout, re.M), r.stdout
    doc = json.loads(acmectl(httpd.store, "--json", "show", keep).stdout)
    assert doc["state"] == "valid" and doc["staged"] is None and doc["staged_check"] is None
    assert 'says "staged"' in doc["record_disagrees"], doc
    assert json.loads(acmectl(httpd.store, "--json", "list").stdout)[0]["state"] == "valid"

    # what staging/ holds, judged as activation would (httpd stopped: its
    # activation would act on these at once)
    httpd.stop()
    staging = os.path.join(httpd.store, "staging", keep)
    os.makedirs(staging, exist_ok=True)
    live = os.path.join(httpd.store, "domains", keep, "cert.pem")
    serial = json.loads(acmectl(httpd.store, "--json", "show", keep).stdout)["cert"]["serial"]

    def stage(pem):
        with open(os.path.join(staging, "cert.pem"), "wb") as f:
            f.write(pem)
        with open(os.path.join(staging, "ready"), "w") as f:
            f.write("{}\n")
        return (acmectl(httpd.store, "show", keep),
                json.loads(acmectl(httpd.store, "--json", "show", keep).stdout))
    # the live certificate once more (a crash before staging was cleared)
    with open(live, "rb") as f:
        r, doc = stage(f.read())
    assert re.search(r"^staged: +no: the staged certificate %s valid until \S+ is the live one"
                     % serial, r.stdout, re.M), r.stdout
    assert doc["staged_check"]["result"] == "live" and doc["staged"] is None, doc
    assert re.search(r"^state: +valid$", r.stdout, re.M), r.stdout
    # a certificate for the name, but not of a key root generated: refused
    r, doc = stage(self_signed(str(tmp_path), keep)[0])
    assert re.search(r"^staged: +no: certificate \w+ valid until \S+ is staged, but activation "
                     r"would refuse it: its public key is not one this server generated",
                     r.stdout, re.M), r.stdout
    assert "activation would refuse what is staged" in doc["record_disagrees"], doc
    assert doc["staged_check"]["result"] == "refused" and doc["state"] == "valid", doc
    # garbage
    r, doc = stage(b"not a certificate")
    assert doc["staged_check"] == {"result": "refused", "why": "staged certificate chain is not "
                                   "a valid PEM chain", "serial": None, "not_after": None}, doc
    # nothing was renamed or recorded: show only looks
    assert sorted(os.listdir(staging)) == ["cert.pem", "ready"], os.listdir(staging)

    # a live certificate that can no longer be read, whatever the record (still
    # "valid", from before) says: emptied, truncated, garbage
    shutil.rmtree(staging)
    with open(path) as f:
        record = json.load(f)
    record.update(state="valid", step="idle")
    with open(path, "w") as f:
        json.dump(record, f)
    with open(live, "rb") as f:
        good = f.read()
    for bad in (b"", good[:len(good) // 2], b"\x00garbage\xff" * 40):
        with open(live, "wb") as f:
            f.write(bad)
        r = acmectl(httpd.store, "list")
        row = [l for l in r.stdout.splitlines() if l.startswith(keep)]
        assert row and "unreadable" in row[0].split(), r.stdout
        r = acmectl(httpd.store, "show", keep)
        assert re.search(r"^state: +unreadable$", r.stdout, re.M), r.stdout
        assert re.search(r'^record: +status/%s\.json says "valid", but the live certificate cannot '
                         r'be read' % re.escape(keep), r.stdout, re.M), r.stdout
        doc = json.loads(acmectl(httpd.store, "--json", "show", keep).stdout)
        assert doc["state"] == "unreadable" and doc["live_error"], doc
    with open(live, "wb") as f:
        f.write(good)
    r = acmectl(httpd.store, "show", keep)
    assert re.search(r"^state: +valid$", r.stdout, re.M), r.stdout


def test_two_servers_sharing_a_store_keep_each_others_names(httpd_factory, unique):
    """Two httpd instances (own ServerRoot and configuration) on one
    AcmeStoreDir: each start records its own names, neither overwrites the
    other's, so acmectl counts both as configured and says by whom; once an
    instance is removed (its configuration file gone), the next start of the
    other drops its names."""
    name_a, name_b = unique("sha"), unique("shb")
    a = httpd_factory()
    a.write_config(vhosts=ssl_vhost(name_a))
    b = httpd_factory()
    b.write_config(vhosts=ssl_vhost(name_b), acme={"AcmeStoreDir": a.store})
    b.store = a.store
    # one after the other: both answer Pebble's http-01 on its one port
    a.start()
    a.wait_for_pebble_cert(name_a)
    a.stop()
    b.start()
    b.wait_for_pebble_cert(name_b)
    b.stop()
    # a starts again after b: b's names stay
    a.start()
    a.wait_for_pebble_cert(name_a)
    with open(os.path.join(a.store, "configured.json")) as f:
        doc = json.load(f)
    assert doc["servers"] == {a.conf_path: {"names": [name_a], "since": doc["servers"][
        a.conf_path]["since"]}, b.conf_path: {"names": [name_b], "since": doc["servers"][
            b.conf_path]["since"]}}, doc
    assert sorted(doc["names"]) == sorted([name_a, name_b]), doc
    r = acmectl(a.store, "list")
    rows = [l.split()[0] for l in r.stdout.splitlines()[1:] if l]
    assert rows == sorted([name_a, name_b]) and "more in the store" not in r.stdout, r.stdout
    r = acmectl(a.store, "show", name_b)
    assert re.search(r"^configured: +yes, by %s$" % re.escape(b.conf_path), r.stdout,
                     re.M), r.stdout
    assert json.loads(acmectl(a.store, "--json", "show", name_a).stdout)["configured_by"] == \
        a.conf_path
    # b's instance goes away for good: a's next start forgets its names
    os.rename(b.conf_path, b.conf_path + ".removed")
    a.stop()
    a.start()
    a.wait_for_pebble_cert(name_a)
    r = acmectl(a.store, "list")
    assert "1 more in the store not configured by any server" in r.stdout and name_b in \
        r.stdout, r.stdout
    r = acmectl(a.store, "show", name_b)
    assert re.search(r"^configured: +no: not in the configuration of any server", r.stdout,
                     re.M), r.stdout


def test_check_reads_the_order_records(tmp_path, pebble, unique):
    """jobs/<name>.json: one the server could not resume (garbage, or JSON
    without its members) is a problem of acmectl check; a sound one is an
    order in progress, listed with its step and start, and no problem."""
    name = unique("jobrec")
    store = imported_store(tmp_path, pebble, name)
    os.makedirs(os.path.join(store, "jobs"), exist_ok=True)
    job = os.path.join(store, "jobs", name + ".json")
    for garbage in (b"\x00\xffnot json", b'{"name": "%s", "step": "order"}' % name.encode()):
        with open(job, "wb") as f:
            f.write(garbage)
        r = acmectl(store, "check")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "problem: jobs/%s.json: not an order record the server can resume" % name \
            in r.stdout, r.stdout
    with open(job, "w") as f:
        json.dump({"name": name, "fingerprint": "f", "step": "validate",
                   "ca": pebble.directory_url, "order": pebble.directory_url + "/order/1",
                   "started": 1790000000}, f)
    r = acmectl(store, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "order in progress: %s: saved at step validate, started 2026-09-21T" % name in r.stdout, r.stdout
    doc = json.loads(acmectl(store, "--json", "check").stdout)
    assert doc["orders"] == [{"name": name, "step": "validate", "configured": True,
                              "started": doc["orders"][0]["started"]}], doc


def test_an_unreadable_status_record_is_said_to_be_unreadable(tmp_path, pebble, unique):
    """A status record that cannot be read (not JSON, JSON of another shape,
    a directory where the file belongs) leaves next action unknown in list
    and says why in show, instead of a bare '-'; the certificate lines stay
    the files' own."""
    name = unique("unread") + ".example"
    store = imported_store(tmp_path, pebble, name)
    record = os.path.join(store, "status", name + ".json")
    os.makedirs(os.path.dirname(record), exist_ok=True)

    def plant(kind):
        if os.path.isdir(record):
            os.rmdir(record)
        elif os.path.exists(record):
            os.unlink(record)
        if kind == "dir":
            os.mkdir(record)
            return
        with open(record, "w") as f:
            f.write({"garbage": "{not json", "shape": "[1, 2, 3]\n"}[kind])

    for kind in ("garbage", "shape", "dir"):
        plant(kind)
        r = acmectl(store, "list")
        assert r.returncode == 0, r.stdout + r.stderr
        line = [l for l in r.stdout.splitlines() if l.startswith(name)]
        assert line and "unknown (record unreadable)" in line[0], (kind, r.stdout)
        r = acmectl(store, "show", name)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r"record: +status/%s\.json cannot be read \(" % re.escape(name),
                         r.stdout), (kind, r.stdout)
        assert "certificate:" in r.stdout, (kind, r.stdout)
    os.rmdir(record)
    r = acmectl(store, "list")
    line = [l for l in r.stdout.splitlines() if l.startswith(name)]
    assert line and "unreadable" not in line[0], r.stdout


def test_global_options_may_follow_the_command(tmp_path, pebble, unique):
    name = unique("opts-after")
    store = imported_store(tmp_path, pebble, name)
    for words in (["list"], ["show", name], ["check"]):
        before = acmectl(store, "--json", *words)
        assert before.returncode in (0, 1), (words, before.returncode, before.stderr)
        json.loads(before.stdout)
        # after the command, and after its own arguments; --store too
        after = run([acmectl_path()] + words + ["--json", "--store", store], timeout=30)
        assert after.returncode == before.returncode, (words, after.returncode, after.stderr)
        assert json.loads(after.stdout) == json.loads(before.stdout), (words, after.stdout)
        after = run([acmectl_path(), words[0], "--store=" + store, "--json"] + words[1:],
                    timeout=30)
        assert json.loads(after.stdout) == json.loads(before.stdout), (words, after.stdout)
    assert [d["name"] for d in json.loads(acmectl(store, "list", "--all", "--json").stdout)] \
        == [name]
    p = run([acmectl_path(), "list", "--store"], timeout=30)
    assert p.returncode == 2 and "--store" in p.stderr, (p.returncode, p.stderr)


def test_check_of_a_directory_another_user_owns_says_httpd_refuses_and_the_whole_fix(
        tmp_path, pebble, unique):
    """keys/ owned by nobody at 0755: httpd refuses to start while it is
    (ACME01509) and never sets its mode back, so check says so, not that
    httpd sets it back, in one line with the whole fix: the chown and the
    chmod to the documented mode (README: keys/ 0700, archive/ 0755). Any
    mode httpd would set back at its next start waits for that fix; a file
    of root's another user owns gets its chmod too."""
    name = unique("owner")
    store = imported_store(tmp_path, pebble, name)
    keys = os.path.join(store, "keys")
    archive = os.path.join(store, "archive")
    os.makedirs(os.path.join(keys, name), mode=0o700, exist_ok=True)
    key = os.path.join(keys, name, "0123abcd.key")
    with open(key, "w") as f:
        f.write("x")
    os.chmod(key, 0o600)
    os.chown(key, 65534, -1)
    os.chown(keys, 65534, -1)
    os.chmod(keys, 0o755)
    os.chmod(archive, 0o775)
    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    about = [l for l in lines if l.startswith("problem: %s: " % keys)]
    assert len(about) == 1, r.stdout
    line = about[0]
    assert "owned by uid 65534" in line and "sets it back" not in line, line
    assert "mode 0755 (documented: 0700)" in line, line
    assert "httpd refuses to start while it is" in line, line
    assert "(fix: chown root:root '%s' && chmod 0700 '%s'" % (keys, keys) in line, line
    arch = [l for l in lines if l.startswith("problem: %s: " % archive)]
    assert len(arch) == 1 and "httpd sets it back at its next start" in arch[0], r.stdout
    assert "httpd does not start while a directory of root's has another owner" in arch[0], arch
    owned = [l for l in lines if l.startswith("problem: %s: " % key)]
    assert owned and "chown -h 0 '%s' && chmod 0600 '%s'" % (key, key) in owned[0], r.stdout
    # fixed as told: no line about either
    os.chown(keys, 0, -1)
    os.chmod(keys, 0o700)
    os.chmod(archive, 0o755)
    os.chown(key, 0, -1)
    r = acmectl(store, "check")
    assert keys not in r.stdout and archive not in r.stdout, r.stdout
