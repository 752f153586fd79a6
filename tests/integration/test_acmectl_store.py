"""acmectl on a store as admins find it: temp files an interrupted write left
anywhere in it (flagged with path and age, and how to clean them), names a
removed AcmeDomain left (not listed as managed, as on the status page)."""
import json
import os
import re
import time

from harness import acmectl_path, run, ssl_vhost
from test_import import md_domain, self_signed


def acmectl(store, *args):
    return run([acmectl_path(), "--store", store] + list(args), timeout=30)


def test_check_flags_temp_files_everywhere_with_age_and_cleanup(tmp_path, pebble, unique):
    name = unique("temps")
    cert, key = self_signed(str(tmp_path), name)
    store = str(tmp_path / "store")
    r = acmectl(store, "import", "--yes", md_domain(str(tmp_path / "md"), name, cert, key,
                                                   pebble.directory_url))
    assert r.returncode == 0, r.stdout + r.stderr
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


def test_a_removed_domain_is_not_listed_as_managed(httpd, unique):
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
    assert re.search(r"^configured: +yes$", r.stdout, re.M), r.stdout
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
