"""What acmectl list/show/renew say about when things happen and in which
state a certificate is, on a store as the server leaves it (imported from
mod_md, its status record written as the server writes it): the renewal
date and what comes next, the state names of the status page in columns
that fit them, and a renew that says a renewal was requested already
instead of asking again."""
import datetime
import json
import os
import re
import shutil
import subprocess
import time

from harness import utcnow
from test_acmectl_store import acmectl, imported_store
from test_import import md_domain, self_signed

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                      "status-schema.json")
MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "acmectl.1")


def rfc3339(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_record(store, name, **members):
    """status/<name>.json as the server writes it (acme_status_record.h)."""
    shown = json.loads(acmectl(store, "--json", "show", name).stdout)
    record = {"name": name, "names": shown["names"], "state": "valid", "step": "idle",
              "attempts": 0, "requests": 0, "fingerprint": "x",
              "cert": {"not_before": shown["cert"]["not_before"],
                       "not_after": shown["cert"]["not_after"],
                       "issuer": shown["cert"]["issuer"], "serial": shown["cert"]["serial"]}}
    record.update(members)
    os.makedirs(os.path.join(store, "status"), exist_ok=True)
    with open(os.path.join(store, "status", name + ".json"), "w") as f:
        json.dump(record, f)
    return shown


def row_of(out, name):
    lines = out.splitlines()
    rows = [l for l in lines if l.startswith(name + " ")]
    assert lines and lines[0].startswith("NAME") and rows, out
    return lines[0], rows[0]


def column(header, row, title, width=20):
    """The value in row under title (rows are laid out in fixed columns)."""
    at = header.index(title)
    return row[at:at + width].strip()


def test_list_and_show_give_the_renewal_date_and_what_comes_next(tmp_path, pebble, unique):
    """A valid certificate renewed in 2030, looked at again in 6 hours: list
    has its renewal date in RENEW AT and "renew at <that date>" as the next
    action (not the next look), show prints the renewal date, and --json
    says the same."""
    name = unique("renewat")
    store = imported_store(tmp_path, pebble, name)
    look = rfc3339(utcnow() + datetime.timedelta(hours=6))
    renew_at = "2030-03-01T04:05:06Z"
    write_record(store, name, next_action=look, renew_at=renew_at)

    r = acmectl(store, "list")
    assert r.returncode == 0, r.stdout + r.stderr
    header, row = row_of(r.stdout, name)
    assert column(header, row, "STATE", 15) == "valid", r.stdout
    assert column(header, row, "RENEW AT") == renew_at, r.stdout
    assert column(header, row, "NEXT ACTION", 31) == "renew at " + renew_at, r.stdout
    assert look not in row, row
    r = acmectl(store, "show", name)
    assert re.search(r"^renew at: +%s \(" % renew_at, r.stdout, re.M), r.stdout
    assert re.search(r"^next action: +renew at %s$" % renew_at, r.stdout, re.M), r.stdout
    for cmd in ("list", "show"):
        doc = json.loads(acmectl(store, "--json", cmd, *([name] if cmd == "show" else [])).stdout)
        mine = doc if cmd == "show" else [d for d in doc if d["name"] == name][0]
        assert mine["renew_at"] == renew_at and mine["next_action"] == renew_at, mine
        assert mine["next_action_what"] == "renew" and mine["restart_at"] is None, mine


def test_a_failing_renewal_has_the_status_pages_state_in_a_column_that_fits(tmp_path, pebble,
                                                                          unique):
    """The record says the renewal failed 3 times and is tried again in a
    minute: the state is the status page's renewal-failing (one vocabulary,
    the schema's $defs/state and the man page's STATES), the columns after
    it stay in place, and the next action is the retry, to the second."""
    name = unique("failcol")
    store = imported_store(tmp_path, pebble, name)
    retry = rfc3339(utcnow() + datetime.timedelta(seconds=60))
    since = rfc3339(utcnow() - datetime.timedelta(hours=1))
    shown = write_record(store, name, state="error", attempts=3, next_action=retry,
                         renew_at="2030-03-01T04:05:06Z",
                         error={"type": "urn:ietf:params:acme:error:connection",
                                "detail": "cannot connect", "at": since, "since": since})
    r = acmectl(store, "list")
    header, row = row_of(r.stdout, name)
    assert column(header, row, "STATE", 15) == "renewal-failing", r.stdout
    assert column(header, row, "NOT AFTER") == shown["cert"]["not_after"], r.stdout
    assert column(header, row, "NEXT ACTION", 31) == "retry at " + retry, r.stdout
    r = acmectl(store, "show", name)
    assert re.search(r"^state: +renewal-failing$", r.stdout, re.M), r.stdout
    assert re.search(r"^next action: +retry at %s$" % retry, r.stdout, re.M), r.stdout
    mine = json.loads(acmectl(store, "--json", "show", name).stdout)
    assert mine["state"] == "renewal-failing" and mine["next_action"] == retry, mine

    # one vocabulary: every state acmectl shows from a record is the JSON's,
    # documented in the schema and the man page
    with open(SCHEMA) as f:
        states = json.load(f)["$defs"]["state"]["enum"]
    with open(MAN) as f:
        man = f.read()
    assert "renewal-failing" in states and "error" not in states, states
    for state in states + ["unreadable", "stale", "not-configured"]:
        assert re.search(r"^\.B %s$" % re.escape(state), man, re.M) or \
            "\n.B %s\n" % state in man, state
    assert len(max(states + ["not-configured"], key=len)) <= 15


def test_renew_twice_requests_once_and_says_since_when(tmp_path, pebble, unique):
    """The second renew finds the first one's request: it says so, with
    when it was made, and leaves it as it is; --force asks again."""
    name = unique("renewtwice")
    store = imported_store(tmp_path, pebble, name)
    marker = os.path.join(store, "jobs", name + ".renew")
    # as the server's start writes it for an AcmeDomain (an import has none yet)
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", name + ".json"), "w") as f:
        json.dump({"names": [name]}, f)
    r = acmectl(store, "renew", name)
    assert r.returncode == 0 and "renewal of %s requested" % name in r.stdout, r.stdout + r.stderr
    # the issuing child looks for the marker every 30 s
    assert "the server sees it within 30 s" in r.stdout and "next check" not in r.stdout, r.stdout
    then = int(time.time()) - 3600
    os.utime(marker, (then, then))
    when = rfc3339(datetime.datetime.fromtimestamp(then, datetime.timezone.utc))
    r = acmectl(store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "a renewal was requested already, at %s, and not again" % when in r.stdout, r.stdout
    assert int(os.stat(marker).st_mtime) == then, "asked again"
    doc = json.loads(acmectl(store, "--json", "renew", name).stdout)
    assert doc["ordered"] is False and doc["requested_at"] == when, doc
    assert int(os.stat(marker).st_mtime) == then, "asked again"
    r = acmectl(store, "show", name)
    assert re.search(r"^renewal: +requested at %s;" % when, r.stdout, re.M), r.stdout
    doc = json.loads(acmectl(store, "--json", "renew", name, "--force").stdout)
    assert doc["ordered"] is True and int(os.stat(marker).st_mtime) > then, doc


def test_list_columns_stay_in_line_whatever_the_next_action(tmp_path, pebble, unique):
    """Two certificates in one store: one valid (a short next action), one
    whose first order waits for its turn under AcmeMaxParallel (a long one:
    "queued, starts at <time>"). The columns after NEXT ACTION start at the
    same offset in both rows and under the header; show and --json keep the
    whole text."""
    short, queued = unique("short"), unique("queued-long")
    store = imported_store(tmp_path, pebble, short)
    cert, key = self_signed(str(tmp_path), queued)
    r = acmectl(store, "import", "--yes", md_domain(str(tmp_path / "md2"), queued, cert, key,
                                                   pebble.directory_url))
    assert r.returncode == 0, r.stdout + r.stderr
    # no live certificate (a link to nothing) and a record whose order is queued
    link = os.path.join(store, "domains", queued)
    os.remove(link)
    os.symlink(os.path.join("..", "archive", queued, "none"), link)
    starts = rfc3339(utcnow() + datetime.timedelta(minutes=5))
    activity = "queued, starts at " + starts
    with open(os.path.join(store, "status", queued + ".json"), "w") as f:
        json.dump({"name": queued, "names": [queued], "state": "missing", "step": "idle",
                   "attempts": 0, "requests": 0, "fingerprint": "x", "next_action": starts,
                   "activity": activity}, f)

    r = acmectl(store, "list")
    assert r.returncode == 0, r.stdout + r.stderr
    header, short_row = row_of(r.stdout, short)
    _, long_row = row_of(r.stdout, queued)
    assert activity in long_row, r.stdout
    assert long_row.index(" issuer=") > header.index("NEXT ACTION") + len("NEXT ACTION"), \
        r.stdout
    assert short_row.index(" issuer=") == long_row.index(" issuer="), r.stdout
    assert header.index("ISSUER") == short_row.index("issuer="), r.stdout
    for title in ("STATE", "NOT AFTER", "RENEW AT", "NEXT ACTION"):
        assert short_row[header.index(title) - 1] == " " != short_row[header.index(title)], \
            (title, r.stdout)
        assert long_row[header.index(title) - 1] == " " != long_row[header.index(title)], \
            (title, r.stdout)
    r = acmectl(store, "show", queued)
    assert re.search(r"^next action: +%s$" % re.escape(activity), r.stdout, re.M), r.stdout
    doc = json.loads(acmectl(store, "--json", "list").stdout)
    mine = [d for d in doc if d["name"] == queued][0]
    assert mine["next_action_what"] == "queued" and mine["next_action"] == starts, mine



def test_a_name_with_a_newline_keeps_to_one_row(tmp_path, pebble, unique):
    """A config/ file whose name holds a newline (and a tab): list --all,
    its hidden-names line and show print it escaped, one row each."""
    name = unique("ctrl")
    store = imported_store(tmp_path, pebble, name)
    odd = "bad\nname\tx"
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    for n in (name, odd):
        with open(os.path.join(store, "config", n + ".json"), "w") as f:
            json.dump({"name": n, "names": [n]}, f)
    with open(os.path.join(store, "configured.json"), "w") as f:
        json.dump({"servers": {"s": {"names": [name], "since": rfc3339(utcnow())}}}, f)
    shown = "bad\\x0aname\\x09x"
    for args in (["list", "--all"], ["list"]):
        r = acmectl(store, *args)
        assert r.returncode == 0, r.stdout + r.stderr
        assert shown in r.stdout, r.stdout
        assert not any(l.startswith("name") for l in r.stdout.splitlines()), r.stdout
        assert "\t" not in r.stdout, r.stdout
    r = acmectl(store, "list", "--all")
    assert len([l for l in r.stdout.splitlines() if shown in l]) == 1, r.stdout
    r = acmectl(store, "show", odd)
    assert re.search(r"^name: +%s$" % re.escape(shown), r.stdout, re.M), r.stdout
    # its leftovers: no command to paste (jobs/bad\x0a... names no file)
    os.makedirs(os.path.join(store, "jobs"), exist_ok=True)
    with open(os.path.join(store, "jobs", odd + ".renew"), "w") as f:
        f.write("")
    r = acmectl(store, "show", odd)
    line = [l for l in r.stdout.splitlines() if l.startswith("leftovers:")][0]
    assert "jobs/%s.renew" % shown in line and "remove by hand" in line, r.stdout
    assert "rm -r" not in line and "cd " not in line, r.stdout



def test_staged_entry_without_its_certificate_says_what_is_missing(tmp_path, pebble, unique):
    """staging/NAME/ marked ready without cert.pem: show says cert.pem is
    missing, not that some certificate is staged and would be refused."""
    name = unique("nocert")
    store = imported_store(tmp_path, pebble, name)
    staging = os.path.join(store, "staging", name)
    os.makedirs(staging, exist_ok=True)
    with open(os.path.join(staging, "ready"), "w") as f:
        f.write("1\n")
    r = acmectl(store, "show", name)
    assert r.returncode == 0, r.stdout + r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith("staged:")][0]
    assert "cert.pem is missing" in line, r.stdout
    assert "a certificate is staged" not in line, r.stdout
    assert "staging/%s/ is marked ready" % name in line, r.stdout


def test_an_order_in_flight_has_no_next_time_in_list_show_or_json(tmp_path, pebble, unique):
    """A first order past its queue, at step validate, its record's next look
    an hour away: list says "order (validate)", not "order at <time>", and
    --json has next_action null, as the status page's JSON (acmectl(1): an
    order in flight has no next time unless a retry is due)."""
    name = unique("inflight")
    store = imported_store(tmp_path, pebble, name)
    link = os.path.join(store, "domains", name)
    os.remove(link)
    os.symlink(os.path.join("..", "archive", name, "none"), link)
    look = rfc3339(utcnow() + datetime.timedelta(hours=1))
    with open(os.path.join(store, "status", name + ".json"), "w") as f:
        json.dump({"name": name, "names": [name], "state": "missing", "step": "validate",
                   "attempts": 0, "requests": 3, "fingerprint": "x", "next_action": look}, f)

    r = acmectl(store, "list")
    header, row = row_of(r.stdout, name)
    assert column(header, row, "NEXT ACTION", 31) == "order (validate)", r.stdout
    assert look not in row, row
    r = acmectl(store, "show", name)
    assert re.search(r"^next action: +order \(validate\)$", r.stdout, re.M), r.stdout
    for cmd in ("list", "show"):
        doc = json.loads(acmectl(store, "--json", cmd, *([name] if cmd == "show" else [])).stdout)
        mine = doc if cmd == "show" else [d for d in doc if d["name"] == name][0]
        assert mine["next_action"] is None and mine["next_action_what"] == "order", mine


def test_a_removed_name_says_what_it_left_and_how_to_remove_it(tmp_path, pebble, unique):
    """A name taken out of the configuration while its order was at step
    validate, a renewal requested and a certificate staged: show says the
    name is not configured, that nothing resumes the order or orders the
    renewal, which leftovers there are and the command that removes them;
    list --all names them; nothing is removed."""
    name, other = unique("removed"), unique("kept")
    store = imported_store(tmp_path, pebble, name)
    write_record(store, name, state="renewing", step="validate")
    jobs, staging = os.path.join(store, "jobs"), os.path.join(store, "staging", name)
    os.makedirs(staging, exist_ok=True)
    for path in (os.path.join(jobs, name + ".json"), os.path.join(jobs, name + ".renew"),
                 os.path.join(staging, "ready")):
        with open(path, "w") as f:
            f.write("{}" if path.endswith(".json") else "")
    shutil.copy(os.path.join(store, "domains", name, "cert.pem"), staging)
    with open(os.path.join(store, "configured.json"), "w") as f:
        json.dump({"servers": {"s": {"names": [other], "since": rfc3339(utcnow())}}}, f)
    left = "jobs/%s.json jobs/%s.renew staging/%s/ status/%s.json" % (name, name, name, name)

    r = acmectl(store, "show", name)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert re.search(r"^configured: +no: ", out, re.M), out
    assert re.search(r"^step: +validate, when it was last configured \(nothing resumes", out,
                     re.M), out
    assert re.search(r"^renewal: +requested while it was configured; nothing orders it now$",
                     out, re.M), out
    assert re.search(r"^staged: +a certificate, which nothing activates", out, re.M), out
    line = [l for l in out.splitlines() if l.startswith("leftovers:")][0]
    quoted = " ".join("'%s'" % path for path in left.split())
    assert left in line and "rm -r " + quoted + ";" in line and "cd '%s' &&" % store in line, \
        out
    assert "keep archive/%s/, domains/%s" % (name, name) in line, out
    r = acmectl(store, "list", "--all")
    _, row = row_of(r.stdout, name)
    assert 'leftovers="%s"' % left in row, r.stdout
    doc = json.loads(acmectl(store, "--json", "show", name).stdout)
    assert doc["leftovers"] == left.split(), doc
    assert sorted(os.listdir(staging)) == ["cert.pem", "ready"], os.listdir(staging)
    assert os.path.exists(os.path.join(jobs, name + ".renew"))


def dead_pid():
    """The pid of a process that ran and was reaped."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_removed_name_whose_hook_is_gone_says_so_everywhere(tmp_path, pebble, unique):
    """A name taken out of the configuration while its AcmeDnsCmd setup ran,
    no certificate of it kept: its status record still says "running since
    ... (pid N)". show and list --all say the setup ended (no process) once
    that pid is gone or is another process (its start time differs from the
    one jobs/NAME.json recorded), and that it is unknown when a process with
    that pid runs but the record has no start time for it; check calls the order abandoned, as show
    does, not "in progress"; the leftovers are every file of the name
    (status, config, keys too), with no word of archive/ or domains/."""
    name, other = unique("gonehook"), unique("kept")
    store = imported_store(tmp_path, pebble, name)
    shutil.rmtree(os.path.join(store, "archive", name))
    os.remove(os.path.join(store, "domains", name))
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", name + ".json"), "w") as f:
        json.dump({"name": name, "names": [name, "*." + name]}, f)
    since = rfc3339(utcnow())
    # a pid that runs, recorded without a start time: nothing tells whether
    # it is the setup, so that is said rather than "ended"
    for pid, ticks, said in ((dead_pid(), None, "setup ended (no process)"),
                             (os.getpid(), 1, "setup ended (no process)"),
                             (os.getpid(), None, "setup unknown (no start time recorded)")):
        running = "*.%s: AcmeDnsCmd /h setup _acme-challenge.%s running since %s (pid %d)" % (
            name, name, since, pid)
        os.makedirs(os.path.join(store, "status"), exist_ok=True)
        with open(os.path.join(store, "status", name + ".json"), "w") as f:
            json.dump({"name": name, "names": [name, "*." + name], "state": "missing",
                       "step": "authorize", "attempts": 0, "requests": 3, "fingerprint": "x",
                       "activity": running}, f)
        os.makedirs(os.path.join(store, "jobs"), exist_ok=True)
        hook = {"program": "/h", "identifier": "*." + name, "name": "_acme-challenge." + name,
                "value": "v" * 43, "pid": pid, "since": 1790000000}
        if ticks:
            hook["start_ticks"] = ticks
        with open(os.path.join(store, "jobs", name + ".json"), "w") as f:
            json.dump({"name": name, "fingerprint": "f", "step": "authorize",
                       "ca": pebble.directory_url, "order": pebble.directory_url + "/order/1",
                       "started": 1790000000, "dns01": [hook]}, f)
        with open(os.path.join(store, "configured.json"), "w") as f:
            json.dump({"servers": {"s": {"names": [other], "since": rfc3339(utcnow())}}}, f)

        r = acmectl(store, "show", name)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "running since" not in r.stdout, r.stdout
        assert ("*.%s: %s: AcmeDnsCmd /h setup _acme-challenge.%s, "
                "pid %d, started %s" % (name, said, name, pid, since)) in r.stdout, r.stdout
        r = acmectl(store, "list", "--all")
        _, row = row_of(r.stdout, name)
        assert "running since" not in row, r.stdout
        r = acmectl(store, "check")
        assert "order in progress: %s" % name not in r.stdout, r.stdout
        assert "abandoned order: %s: saved at step authorize" % name in r.stdout, r.stdout
        assert "nothing resumes it" in r.stdout, r.stdout
    r = acmectl(store, "show", name)
    line = [l for l in r.stdout.splitlines() if l.startswith("leftovers:")][0]
    for rel in ("jobs/%s.json" % name, "status/%s.json" % name, "config/%s.json" % name):
        assert rel in line, line
    assert "keys/%s" % name in line or not os.path.exists(os.path.join(store, "keys", name)), line
    assert "archive/" not in line and "domains/" not in line, line


def test_check_reports_a_wrong_config_an_empty_archive_and_a_bad_activation_file(
        tmp_path, pebble, unique):
    """check names three things it said nothing of, each with its fix: a
    config/ file whose "names" is a number, an archive/ directory with no
    version in it, an activation.json holding []. A sound store has none."""
    name = unique("shapes")
    store = imported_store(tmp_path, pebble, name)
    r = acmectl(store, "check")
    assert r.returncode == 0 and "problem:" not in r.stdout, r.stdout + r.stderr
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", name + ".json"), "w") as f:
        json.dump({"name": name, "names": 5}, f)
    os.makedirs(os.path.join(store, "archive", "empty.test"))
    with open(os.path.join(store, "activation.json"), "w") as f:
        f.write("[]")

    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    problems = [l for l in r.stdout.splitlines() if l.startswith("problem: ")]
    config = [l for l in problems if l.startswith("problem: config/%s.json: " % name)]
    assert config and '"names" is not a list of strings' in config[0], r.stdout
    assert "apachectl graceful" in config[0], r.stdout
    archive = [l for l in problems if l.startswith("problem: archive/empty.test: ")]
    assert archive and "rmdir '%s'" % os.path.join(store, "archive", "empty.test") \
        in archive[0], r.stdout
    act = [l for l in problems if l.startswith("problem: activation.json: ")]
    assert act and "a JSON list" in act[0], r.stdout
    assert "rm '%s'" % os.path.join(store, "activation.json") in act[0], r.stdout
    doc = json.loads(acmectl(store, "--json", "check").stdout)
    assert not doc["ok"] and len(doc["problems"]) == len(problems), doc


def test_a_name_in_upper_case_is_the_same_name(tmp_path, pebble, unique):
    """DNS names are case-insensitive and the store's names are lower case:
    show, renew, revoke and import --name fold the name they are given, so
    A.EXAMPLE.ORG is a.example.org (renew names config/a.example.org.json,
    never an upper-case file)."""
    name = unique("case")
    store = imported_store(tmp_path, pebble, name)
    shouted = name.upper()
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(name))
    for typed in (shouted, mixed):
        r = acmectl(store, "show", typed)
        assert r.returncode == 0 and "no domain" not in r.stdout + r.stderr, r.stdout + r.stderr
        doc = json.loads(acmectl(store, "--json", "show", typed).stdout)
        assert doc["name"] == name, doc
    # renew: the configured domain is found (config/<name>.json, as httpd writes it)
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", name + ".json"), "w") as f:
        json.dump({"name": name, "names": [name], "ca_urls": [pebble.directory_url]}, f)
    r = acmectl(store, "renew", shouted)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "renewal of %s requested" % name in out and shouted not in out, out
    assert os.path.exists(os.path.join(store, "jobs", name + ".renew"))
    r = acmectl(store, "--json", "renew", mixed)
    assert json.loads(r.stdout)["name"] == name, r.stdout + r.stderr
    # a name with no configuration: the message names the lower-case file
    r = acmectl(store, "renew", "NOPE." + shouted)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "config/nope.%s.json" % name in r.stderr and "NOPE" not in r.stderr, r.stderr
    # revoke finds the live certificate (then the CA refuses a self-signed one)
    r = acmectl(store, "revoke", mixed)
    out = r.stdout + r.stderr
    assert "has no live certificate" not in out and mixed not in out, out
    # import --name: stored under the lower-case name
    other = unique("casei")
    cert, key = self_signed(str(tmp_path), other)
    r = acmectl(store, "import", "--yes", "--name", other.upper(),
                md_domain(str(tmp_path / "md2"), other, cert, key, pebble.directory_url))
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.islink(os.path.join(store, "domains", other)), os.listdir(
        os.path.join(store, "domains"))
    assert not os.path.lexists(os.path.join(store, "domains", other.upper()))


def refused_restart(store, name, why="AH00526: Syntax error on line 2 of /etc/x.conf: "
                    "Invalid command 'Bad'"):
    """A certificate of name staged (no config/: not checked) and the
    record of the automatic restart the configuration test refused, as the
    parent writes it (jobs/.restart-refused.json); the record."""
    live = os.path.join(store, "domains", name)
    staging = os.path.join(store, "staging", name)
    os.makedirs(staging, exist_ok=True)
    shutil.copy(os.path.join(live, "cert.pem"), os.path.join(staging, "cert.pem"))
    with open(os.path.join(staging, "ready"), "w") as f:
        f.write("1\n")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    rec = {"at": rfc3339(now - datetime.timedelta(seconds=30)),
           "retry_at": rfc3339(now + datetime.timedelta(seconds=270)), "why": why,
           "names": [name]}
    os.makedirs(os.path.join(store, "jobs"), exist_ok=True)
    with open(os.path.join(store, "jobs", ".restart-refused.json"), "w") as f:
        json.dump(rec, f)
    return rec


def test_show_json_has_the_refused_restart_as_the_status_page(tmp_path, pebble, unique):
    """acmectl --json show (and list) carry restart_refused, {at, why} as
    the status page's (schema 16), null when no restart was refused; the
    manual page documents it."""
    name = unique("refjson")
    store = imported_store(tmp_path, pebble, name)
    doc = json.loads(acmectl(store, "--json", "show", name).stdout)
    assert doc["restart_refused"] is None, doc
    rec = refused_restart(store, name)
    doc = json.loads(acmectl(store, "--json", "show", name).stdout)
    assert doc["state"] == "staged" and doc["restart_refused"] == {"at": rec["at"], "why": rec["why"]}, doc
    listed = json.loads(acmectl(store, "--json", "list").stdout)
    row = [d for d in (listed["domains"] if isinstance(listed, dict) else listed)
           if d["name"] == name][0]
    assert row["restart_refused"] == doc["restart_refused"], row
    # the same shape as the status page's
    with open(SCHEMA) as f:
        schema = json.load(f)
    page = schema["$defs"]["domain"]["properties"]["restart_refused"]
    shape = [s for s in page["oneOf"] if s.get("type") == "object"][0]
    assert set(doc["restart_refused"]) == set(shape["required"]) == set(shape["properties"])
    with open(MAN) as f:
        man = f.read()
    assert "restart_refused" in man, "docs/acmectl.1 does not document restart_refused"
    # with AcmeActivation manual nothing automatic is refused
    with open(os.path.join(store, "activation-mode.json"), "w") as f:
        json.dump({"activation": "manual"}, f)
    doc = json.loads(acmectl(store, "--json", "show", name).stdout)
    assert doc["restart_refused"] is None, doc


def test_check_says_the_automatic_restart_was_refused_and_what_to_do(tmp_path, pebble, unique):
    """A refused automatic restart (jobs/.restart-refused.json), which show
    and list tell, is a problem check names: the certificates waiting, the
    test's error line, when it runs again and the fix (the configuration
    error, then apachectl configtest and apachectl graceful)."""
    name = unique("refcheck")
    store = imported_store(tmp_path, pebble, name)
    rec = refused_restart(store, name)
    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("problem: jobs/.restart-refused")]
    assert len(lines) == 1, r.stdout
    line = lines[0]
    assert name in line and rec["why"] in line and rec["at"] in line \
        and rec["retry_at"] in line, line
    assert "fix the configuration error" in line and "'apachectl configtest'" in line \
        and "'apachectl graceful'" in line, line
    doc = json.loads(acmectl(store, "--json", "check").stdout)
    assert not doc["ok"] and any(rec["why"] in p for p in doc["problems"]), doc
    os.remove(os.path.join(store, "jobs", ".restart-refused.json"))
    r = acmectl(store, "check")
    assert "restart-refused" not in r.stdout, r.stdout


def test_a_copied_version_in_place_of_the_live_link_is_one_problem(tmp_path, pebble, unique):
    """domains/NAME a real directory (a copy of the live version, as cp -r
    leaves it) is one bad entry of domains/: one check line, one fix (the
    graceful restart that sets it aside, or its removal), not a line per
    file in it; a file there is one line too, even one another user owns."""
    name = unique("copied")
    store = imported_store(tmp_path, pebble, name)
    live = os.path.join(store, "domains", name)
    version = os.path.realpath(live)
    os.remove(live)
    shutil.copytree(version, live)
    other = unique("plainfile")
    with open(os.path.join(store, "domains", other), "w") as f:
        f.write("not a link\n")
    os.chown(os.path.join(store, "domains", other), 65534, -1)
    r = acmectl(store, "check")
    assert r.returncode == 1, r.stdout + r.stderr
    problems = [l for l in r.stdout.splitlines() if l.startswith("problem: ")]
    for n in (name, other):
        about = [l for l in problems if "domains/" + n in l]
        assert len(about) == 1, (n, problems)
        assert about[0].count("(fix") == 1, about[0]
    assert "rm '%s" % os.path.join(live, "") not in r.stdout, r.stdout
    doc = json.loads(acmectl(store, "--json", "check").stdout)
    assert len(doc["problems"]) == len(problems), doc


REFUSAL_DETAIL = ("the server refused the staged certificate at activation: its error log says "
                  "why (\"staged certificate refused\"); the live certificate stays")


def test_renew_during_the_wait_after_a_refused_staged_certificate_says_it_orders_now(
        tmp_path, pebble, unique):
    """The server refused the staged certificate (staging/<name>/rejected) and
    the name waits before its next order; acmectl renew's marker ends that
    wait at the child's next look (every 30 s), so renew says so, not "it
    starts at <the wait's end>". An ordinary failure's backoff still holds."""
    name = unique("refusedrenew")
    store = imported_store(tmp_path, pebble, name)
    os.makedirs(os.path.join(store, "config"), exist_ok=True)
    with open(os.path.join(store, "config", name + ".json"), "w") as f:
        json.dump({"names": [name]}, f)
    wait_end = rfc3339(utcnow() + datetime.timedelta(minutes=10))
    since = rfc3339(utcnow() - datetime.timedelta(minutes=1))
    write_record(store, name, state="error", attempts=1, next_action=wait_end,
                 error={"type": "", "kind": "refused", "detail": REFUSAL_DETAIL, "at": since,
                        "since": since})
    staging = os.path.join(store, "staging", name)
    os.makedirs(staging, exist_ok=True)
    with open(os.path.join(staging, "rejected"), "w") as f:
        f.write("{}\n")
    r = acmectl(store, "renew", name)
    assert r.returncode == 0 and "renewal of %s requested" % name in r.stdout, r.stdout + r.stderr
    assert "the server sees it within 30 s" in r.stdout, r.stdout
    assert "not before" not in r.stdout and "backs off" not in r.stdout, r.stdout
    doc = json.loads(acmectl(store, "--json", "renew", "--force", name).stdout)
    assert doc["starts_at"] is None and doc["held_because"] is None, doc

    # a failed order's backoff holds the renewal until its end, and says so
    os.remove(os.path.join(store, "jobs", name + ".renew"))
    write_record(store, name, state="error", attempts=1, next_action=wait_end,
                 error={"type": "urn:ietf:params:acme:error:connection",
                        "detail": "cannot connect", "at": since, "since": since})
    r = acmectl(store, "renew", name)
    assert "it starts at %s, not before: the last attempt failed (cannot connect)" % wait_end \
        in r.stdout, r.stdout
