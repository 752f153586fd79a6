"""The acme-status page as people see it, in a real browser (headless
Chromium): valid and failing certificates, at 390 px (a phone) and 1400 px,
nothing overflowing, every certificate's state, days left and error visible
text; its JSON against docs/status-schema.json; the detail page."""
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid

import jsonschema
import pytest
import requests

import harness
from harness import parse_time, ssl_vhost, utcnow, wait_for

ISSUE_TIMEOUT = 60
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                      "status-schema.json")
CHROMIUM = shutil.which("chromium")

# Appended to a saved copy of the page (the page itself has no script): it
# measures what the browser laid out and writes the result into the DOM,
# which --dump-dom prints.
PROBE = """
<script>
(function () {
  var vw = document.documentElement.clientWidth, wide = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1) { wide.push(el.tagName + '.' + el.className + ':' + Math.round(r.right)); }
  });
  var cards = [];
  document.querySelectorAll('.card').forEach(function (c) { cards.push(c.innerText); });
  var out = document.createElement('pre');
  out.id = 'probe-result';
  out.textContent = JSON.stringify({viewport: vw, scrollWidth: document.documentElement.scrollWidth,
                                    wide: wide.slice(0, 20), cards: cards,
                                    summary: (document.getElementById('summary') || {}).innerText});
  document.body.appendChild(out);
})();
</script>
"""


def chromium(args, workdir, timeout=90):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", "--disable-extensions",
           "--user-data-dir=%s" % os.path.join(workdir, "chromium-profile")] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p


def probe(html, width, workdir):
    page = os.path.join(workdir, "probe-%d.html" % width)
    with open(page, "w") as f:
        f.write(html.replace("</body>", PROBE + "</body>"))
    p = chromium(["--window-size=%d,1200" % width, "--virtual-time-budget=3000",
                  "--dump-dom", "file://" + page], workdir)
    m = re.search(r'<pre id="probe-result">(.*?)</pre>', p.stdout, re.S)
    assert m, "no probe result from chromium (rc %d): %s" % (p.returncode, p.stderr[-2000:])
    text = m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">") \
                     .replace("&amp;", "&")
    return json.loads(text)


def screenshot(url, width, workdir):
    path = os.path.join(workdir, "status-%d.png" % width)
    p = chromium(["--window-size=%d,900" % width, "--screenshot=%s" % path, url], workdir)
    assert os.path.getsize(path) > 1000 if os.path.exists(path) else False, \
        "no screenshot at %d px (rc %d): %s" % (width, p.returncode, p.stderr[-2000:])
    return path


def add_a(challtestsrv, host, address):
    """Points host at address in Pebble's DNS (pebble-challtestsrv)."""
    r = requests.post("http://127.0.0.1:%d/add-a" % challtestsrv.mgmt_port,
                      json={"host": host, "addresses": [address]}, timeout=5)
    assert r.status_code == 200, (r.status_code, r.text)


@pytest.fixture
def three(httpd, unique, challtestsrv):
    """Two valid certificates (one with a very long name) and a failing one
    (its name resolves where nothing listens: the CA cannot connect)."""
    good = unique("good")
    long_name = "a-rather-long-label-that-must-wrap-on-a-phone-screen-0123456789." + unique("l")
    bad = unique("bad")
    add_a(challtestsrv, bad, "127.0.0.2")
    httpd.write_config(vhosts=ssl_vhost(good, ["www." + good]) + ssl_vhost(long_name)
                       + ssl_vhost(bad),
                       extra_global="LoadModule status_module /usr/lib/apache2/modules/mod_status.so",
                       plain_vhost_extra="<Location /metrics>\n    SetHandler acme-metrics\n"
                                         "</Location>\n<Location /server-status>\n"
                                         "    SetHandler server-status\n</Location>")
    httpd.start()
    httpd.wait_for_pebble_cert(good, ISSUE_TIMEOUT)
    httpd.wait_for_pebble_cert(long_name, ISSUE_TIMEOUT)

    def failed():
        d = httpd.domain_status(bad)
        return d if d.get("failing") and d.get("error") else None
    wait_for(failed, ISSUE_TIMEOUT, interval=0.5, what="%s to fail" % bad)
    # the renewal time of a new certificate is recorded by the check after activation
    for name in (good, long_name):
        wait_for(lambda n=name: httpd.domain_status(n).get("renew_at"), ISSUE_TIMEOUT,
                 interval=0.5, what="the renewal time of %s" % name)
    httpd.names = {"good": good, "long": long_name, "bad": bad}
    return httpd


METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? '
                    r'(-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)$')


def parse_prometheus(text):
    """Strict parser of the text exposition format 0.0.4: every family has
    one HELP and one TYPE before its samples, families are not interleaved,
    no series twice. Returns {family: {labels tuple: value}}."""
    assert text.endswith("\n"), "no final newline"
    families, types, helps, order = {}, {}, {}, []
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert METRIC_NAME.match(name) and help_text and name not in helps, (n, line)
            helps[name] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), (n, line)
            assert name in helps and name not in types, (n, line)
            types[name] = kind
            assert not order or order[-1] != name
            order.append(name)
            families[name] = {}
            continue
        assert not line.startswith("#") and line.strip(), (n, line)
        m = SAMPLE.match(line)
        assert m, "line %d is not a sample: %r" % (n, line)
        name = m.group(1)
        assert name in types and order[-1] == name, "sample of undeclared family: %r" % line
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                         m.group(3) or "")))
        assert labels not in families[name], "duplicate series: %r" % line
        families[name][labels] = float(m.group(4))
    return families


def card_of(html, name):
    """The HTML of the overview's card of name (its <article>)."""
    found = [a for a in html.split("<article")[1:] if 'href="acme-status/%s"' % name in a]
    assert len(found) == 1, (name, html[-3000:])
    return found[0].split("</article>")[0]


def get(httpd, path, accept=None):
    status, headers, body = httpd.http_request(path, headers={"Accept": accept} if accept else None)
    assert status == 200, (path, status, body[:300])
    return headers, body.decode("utf-8")


def check_overview_matches_detail(httpd, names):
    """Each of names reads in the overview's JSON exactly (members and their
    order) as on its detail page, which is built the long way, without the
    history. Compared at rest (no run writing status/ between the two
    requests): a record rewritten between them is a new fact, not a mismatch."""
    httpd.wait_idle()
    _, text = get(httpd, "/acme-status?format=json")
    ordered = {entry[0][1]: entry
               for entry in dict(json.loads(text, object_pairs_hook=list))["domains"]}
    for name in names:
        _, text = get(httpd, "/acme-status/%s?format=json" % name)
        [entry] = dict(json.loads(text, object_pairs_hook=list))["domains"]
        entry = [kv for kv in entry if kv[0] != "history"]
        assert entry == ordered[name], (name, entry, ordered[name])


def test_status_json_follows_the_schema_hides_secrets_and_has_detail_pages(three):
    with open(SCHEMA) as f:
        schema = json.load(f)
    _, text = get(three, "/acme-status?format=json")
    doc = json.loads(text)
    jsonschema.validate(doc, schema)
    assert doc["schema"] == 21
    # compact, one line: indentation was 30 % of the overview's bytes (8 MB
    # at 10,000 certificates), and sending them most of a request's time
    assert text.endswith("}\n") and "\n" not in text[:-1], text[:300]
    assert doc["summary"] == {"total": 3, "valid": 2, "renewing": 0, "failing": 1,
                              "renewal_failing": 0, "missing": 0, "expiring_soon": 0,
                              "staged": 0}, doc["summary"]
    by_name = {d["name"]: d for d in doc["domains"]}
    good = by_name[three.names["good"]]
    assert good["state"] == "valid" and good["days_left"] >= 1 and not good["failing"], good
    bad = by_name[three.names["bad"]]
    assert bad["failing"] and bad["attempts"] >= 1 and bad["advice"], bad
    assert bad["state"] == "failing" and not bad["renewal_failing"], bad
    assert bad["error"]["type"].endswith(":connection"), bad["error"]
    assert bad["error"]["kind"] is None, bad["error"]   # the CA's problem: no local class
    # failing since the first failure of the streak, which is no later than the last
    assert bad["error"]["since"] and parse_time(bad["error"]["since"]) <= parse_time(
        bad["error"]["at"]), bad["error"]
    assert "port 80" in bad["advice"], bad["advice"]
    # detail, by Accept this time, with the versions
    _, text = get(three, "/acme-status/" + three.names["good"], accept="application/json")
    detail = json.loads(text)
    jsonschema.validate(detail, schema)
    assert text.endswith("}\n") and "\n" not in text[:-1], text[:300]
    assert [d["name"] for d in detail["domains"]] == [three.names["good"]]
    history = detail["domains"][0]["history"]
    assert len(history) == 1 and history[0]["live"] and history[0]["issued_at"], history
    # the overview comes from text rendered once and shared by every child
    # (status/.page): each certificate reads exactly as its detail page,
    # which is built the long way, and a record rewritten since shows at once
    check_overview_matches_detail(three, [three.names["good"], three.names["long"]])
    page_dir = os.path.join(three.store, "status", ".page")
    files = sorted(os.listdir(page_dir))
    # the page, and the answers assembled from it: JSON, and HTML per link base
    pages = [f for f in files if re.fullmatch(r"overview-[0-9a-f]{16}", f)]
    assert len(pages) == 1, files
    # (and, until the watchdog's next round, those replaced since: .old-*)
    assert all(re.fullmatch(re.escape(pages[0]) + r"(\.json|\.html-[0-9a-f]{16})?(\.old-[0-9a-f-]+)?",
                            f) for f in files), files
    assert pages[0] + ".json" in files, files
    for f in files:
        assert os.stat(os.path.join(page_dir, f)).st_mode & 0o777 == 0o644, f
    record = os.path.join(three.store, "status", three.names["good"] + ".json")
    with open(record) as f:
        saved = f.read()
    owner = os.stat(record)
    changed = dict(json.loads(saved), notice="a notice planted by the test")
    with open(record + ".planted", "w") as f:
        json.dump(changed, f)
    os.chown(record + ".planted", owner.st_uid, owner.st_gid)
    os.rename(record + ".planted", record)
    _, text = get(three, "/acme-status?format=json")
    assert {d["name"]: d for d in json.loads(text)["domains"]}[three.names["good"]]["notice"] \
        == "a notice planted by the test"
    check_overview_matches_detail(three, [three.names["good"]])
    with open(record + ".planted", "w") as f:
        f.write(saved)
    os.chown(record + ".planted", owner.st_uid, owner.st_gid)
    os.rename(record + ".planted", record)
    _, text = get(three, "/acme-status")
    assert "a notice planted by the test" not in text
    # never key material, account URLs or file paths, in any form
    for path in ("/acme-status", "/acme-status?format=json", "/acme-status/" + three.names["bad"]):
        _, body = get(three, path)
        assert "PRIVATE KEY" not in body and "BEGIN" not in body, path
        assert three.store not in body and three.serverroot not in body, path
        assert "/my-account/" not in body, path
    # Prometheus metrics: strict format, one series per certificate
    headers, text = get(three, "/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    metrics = parse_prometheus(text)
    good_labels = (("key_type", "ec-p256"), ("name", three.names["good"]))
    bad_labels = (("key_type", "ec-p256"), ("name", three.names["bad"]))
    expiry = metrics["acme_certificate_expiry_timestamp_seconds"]
    assert abs(expiry[good_labels] - parse_time(good["cert"]["not_after"]).timestamp()) < 1
    assert bad_labels not in expiry, expiry
    assert good_labels in metrics["acme_certificate_issued_timestamp_seconds"]
    assert good_labels in metrics["acme_certificate_renewal_window_start_timestamp_seconds"]
    state = metrics["acme_certificate_state"]
    assert state[good_labels + (("state", "valid"),)] == 1
    assert state[good_labels + (("state", "failing"),)] == 0
    assert state[bad_labels + (("state", "failing"),)] == 1
    assert not [l for l in state if ("state", "error") in l], state
    assert metrics["acme_certificate_consecutive_failures"][bad_labels] >= 1
    assert metrics["acme_certificates"][(("class", "failing"),)] == 1
    assert metrics["acme_certificates"][(("class", "total"),)] == 3
    # two certificates were made live by the parent, none refused
    activations = metrics["acme_activations_total"]
    assert activations[(("outcome", "live"),)] == 2, activations
    assert activations[(("outcome", "refused"),)] == 0, activations
    # server-status: a mod_acme section, HTML and ?auto
    _, auto = get(three, "/server-status?auto")
    fields = dict(line.split(": ", 1) for line in auto.splitlines() if ": " in line)
    assert fields.get("AcmeCertificates") == "3" and fields["AcmeCertificatesFailing"] == "1", auto
    assert fields["AcmeCertificatesValid"] == "2", auto
    _, page = get(three, "/server-status")
    assert "mod_acme certificates" in page and three.names["good"] in page, page[-2000:]
    # the detail page for people, and the overview's link to it
    _, html = get(three, "/acme-status/" + three.names["good"])
    assert "Versions" in html and "live" in html and three.names["good"] in html
    assert "Last events" in html and "issued (live now)" in html, html[-3000:]
    _, bad_html = get(three, "/acme-status/" + three.names["bad"])
    assert "Last events" in bad_html and "attempt failed:" in bad_html, bad_html[-3000:]
    assert three.names["bad"] not in html
    _, overview = get(three, "/acme-status")
    assert 'href="acme-status/%s"' % three.names["good"] in overview
    # a card without a certificate shows where its first order stands, never a "Next renewal"
    cards = {k: card_of(overview, three.names[k]) for k in ("good", "long", "bad")}
    for key in ("good", "long"):
        assert "<dt>Next renewal</dt><dd>20" in cards[key], cards[key]
        assert "First order" not in cards[key], cards[key]
    assert "Next renewal" not in cards["bad"], cards["bad"]
    assert "<dt>First order</dt><dd>next attempt 20" in cards["bad"], cards["bad"]
    # the overview with a trailing slash, and a detail page reached through it
    _, slash = get(three, "/acme-status/")
    assert 'href="%s"' % three.names["good"] in slash and 'id="summary"' in slash
    _, detail_slash = get(three, "/acme-status/%s/" % three.names["good"])
    assert "Versions" in detail_slash and 'href="../"' in detail_slash
    # a name this server does not manage: 404, a short page, never the overview
    unknown = ["/acme-status/unknown.example", "/acme-status/unknown.example/",
               "/acme-status/%s/x" % three.names["good"], "/acme-status/x/../unknown.example",
               "/acme-status/%75nknown.example", "/acme-status/" + "a" * 4000,
               "/acme-status/%3Cb%3Eunknown", "/acme-status/WWW." + three.names["good"] + ".x"]
    for path in unknown:
        status, headers, body = three.http_request(path)
        text = body.decode("utf-8", "replace")
        assert status == 404, (path, status, text[:300])
        assert 'id="summary"' not in text and "Versions" not in text, (path, text[:500])
        assert "<b>" not in text and len(text) < 2000, (path, text[:500])
        status, headers, body = three.http_request(path, headers={"Accept": "application/json"})
        assert status == 404 and headers["Content-Type"].startswith("application/json"), path
        err = json.loads(body)
        jsonschema.validate(err, {"$ref": "#/$defs/not_found", "$defs": schema["$defs"]})
        assert err["error"] == "not_found" and "domains" not in err, err
    # a format the page does not speak is a 400 listing the ones it does, never HTML
    for path in ("/acme-status?format=xml", "/acme-status?format=",
                 "/acme-status/%s?a=1&format=yaml" % three.names["good"],
                 "/acme-status?format=%3Cscript%3E" + "x" * 100):
        status, headers, body = three.http_request(path, headers={"Accept": "application/json"})
        text = body.decode("ascii")
        assert status == 400, (path, status, text[:300])
        assert headers["Content-Type"].startswith("text/plain"), headers
        assert "unknown format" in text and "json" in text and "html" in text, text
        assert "<" not in text and len(text) < 400 and "domains" not in text, text
    # ?format=html is the page for people even for a client that prefers JSON
    headers, text = get(three, "/acme-status?format=html", accept="application/json")
    assert headers["Content-Type"].startswith("text/html") and 'id="summary"' in text
    headers, text = get(three, "/acme-status?format=JSON")
    assert headers["Content-Type"].startswith("application/json") and json.loads(text)["domains"]
    # an encoded slash is httpd's own 404 (AllowEncodedSlashes), not the overview
    status, _, body = three.http_request("/acme-status/..%2F..%2Fetc")
    assert status == 404 and b'id="summary"' not in body, status
    # the upper-case form of a managed name is that name (DNS names are not case-sensitive)
    status, _, body = three.http_request("/acme-status/" + three.names["good"].upper())
    assert status == 200 and b"Versions" in body, status
    # the 503 of a name still without a certificate says that obtaining it is
    # failing, why in short and when the next attempt is (no CA text, no paths)
    status, headers, body = three.https_request(three.names["bad"], "/")
    text = body.decode()
    assert status == 503 and "Retry-After" in headers, (status, text)
    assert "is failing: the CA could not connect to this server" in text, text
    assert "being obtained" not in text and "next attempt" in text, text
    assert three.store not in text and "/.well-known" not in text and "://" not in text, text


def test_status_page_in_a_browser_at_390_and_1400_px(three, tmp_path):
    if not CHROMIUM:
        pytest.fail("chromium is not installed (build/deps.sh installs it)")
    workdir = str(tmp_path)
    headers, html = get(three, "/acme-status", accept="text/html")
    assert headers.get("Content-Type", "").startswith("text/html"), headers
    assert '<meta name="viewport"' in html and "<script" not in html.lower()
    # self-contained: no external stylesheet, script, image or font
    assert not re.search(r'<(link|img|script|iframe)\b', html, re.I), html[:500]
    assert "url(" not in html
    with open(os.path.join(workdir, "status.html"), "w") as f:
        f.write(html)
    url = "http://127.0.0.1:%d/acme-status" % three.http_port
    for width in (390, 1400):
        shot = screenshot(url, width, workdir)
        result = probe(html, width, workdir)
        assert result["scrollWidth"] <= result["viewport"], \
            "page wider than %d px: %s" % (width, result)
        assert not result["wide"], "elements overflow at %d px: %s" % (width, result["wide"])
        assert result["summary"] == ("3 certificates: 2 valid, 0 renewing, 1 failing, "
                                     "0 expiring soon"), result["summary"]
        cards = {three.names[k]: next((c for c in result["cards"] if three.names[k] in c), None)
                 for k in ("good", "long", "bad")}
        for key in ("good", "long"):
            text = cards[three.names[key]]
            assert text and "Valid" in text and re.search(r"\d+ days? left", text), (key, text)
            assert "Issuer" in text and "Pebble" in text and "ec-p256" in text, text
        bad = cards[three.names["bad"]]
        assert bad and "Failing" in bad and "CA error (connection)" in bad, bad
        assert "attempt" in bad and "What to do:" in bad, bad
        assert "Failing since" in bad and "failed attempt" in bad, bad
        assert "First order" in bad and "Next renewal" not in bad, bad
        print("screenshot %s" % shot)


def test_server_status_says_1_certificate_in_the_singular(httpd, unique):
    """server-status' mod_acme line with one certificate: '1 certificate:'."""
    name = unique("one")
    httpd.write_config(vhosts=ssl_vhost(name),
                       extra_global="LoadModule status_module /usr/lib/apache2/modules/mod_status.so",
                       plain_vhost_extra="<Location /server-status>\n"
                                         "    SetHandler server-status\n</Location>")
    httpd.start()
    httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    _, page = get(httpd, "/server-status")
    assert "<p>1 certificate: 1 valid," in page, page[-2000:]
    assert "1 certificates" not in page, page[-2000:]


@pytest.fixture
def fresh_pebble(workdir, challtestsrv):
    """A Pebble of the test's own that validates (almost) every order anew, so
    that a renewal meets the fault the test sets. PEBBLE_AUTHZREUSE=0 still
    reuses about one authorization in 100 (makeAuthorizations in Pebble's
    wfe/wfe.go reuses unless rand.Intn(100) > the percentage): such a renewal
    succeeds, and the one after it, with a window of 100 %, meets the fault."""
    try:
        pb = harness.private_pebble(workdir, challtestsrv.dns_port,
                                    "fresh-%s" % uuid.uuid4().hex[:8],
                                    env={"PEBBLE_AUTHZREUSE": "0"})
    except harness.HarnessError as exc:
        pytest.fail(str(exc))
    yield pb
    pb.stop()


def test_a_valid_certificate_whose_renewal_fails(httpd_factory, fresh_pebble, challtestsrv,
                                                 unique):
    """A live certificate, then its renewal fails at the CA (the name now
    resolves where nothing listens): the page, its JSON, server-status, the
    metrics and acmectl say "valid, renewal failing", apart from failing
    certificates, with the CA's error, since when, the attempts, the next
    attempt (where the next renewal was) and the advice; the certificate is
    still served."""
    httpd = httpd_factory(pebble=fresh_pebble)
    name = unique("renew-fails")
    extra = dict(extra_global="LoadModule status_module /usr/lib/apache2/modules/mod_status.so",
                 plain_vhost_extra="<Location /metrics>\n    SetHandler acme-metrics\n"
                                   "</Location>\n<Location /server-status>\n"
                                   "    SetHandler server-status\n</Location>")
    httpd.write_config(vhosts=ssl_vhost(name), **extra)
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    wait_for(lambda: httpd.domain_status(name).get("renew_at"), ISSUE_TIMEOUT, interval=0.5,
             what="the renewal time of %s" % name)
    _, overview = get(httpd, "/acme-status")
    assert "<dt>Next renewal</dt>" in card_of(overview, name), card_of(overview, name)
    add_a(challtestsrv, name, "127.0.0.2")      # the CA can no longer reach the name
    time.sleep(1.2)                             # a configuration change in a later second
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeRenewWindow": "100%"}, **extra)
    httpd.graceful()

    def failed():
        d = httpd.domain_status(name)
        return d if d.get("failing") and d.get("error") and d.get("cert") else None
    d = wait_for(failed, ISSUE_TIMEOUT, interval=0.5, what="the renewal of %s to fail" % name)
    with open(SCHEMA) as f:
        schema = json.load(f)
    _, text = get(httpd, "/acme-status?format=json")
    doc = json.loads(text)
    jsonschema.validate(doc, schema)
    # counted apart: neither valid nor failing
    assert doc["summary"]["failing"] == 0 and doc["summary"]["renewal_failing"] == 1 \
        and doc["summary"]["valid"] == 0, doc["summary"]
    d = doc["domains"][0]
    assert d["renewal_failing"] is True and d["days_left"] >= 1, d
    assert d["state"] == "renewal-failing" and d["failing"] is True, d
    assert d["error"]["type"].endswith(":connection") and d["attempts"] >= 1, d
    next_attempt = parse_time(d["next_action"])
    assert next_attempt > utcnow() - datetime.timedelta(seconds=5), d
    check_overview_matches_detail(httpd, [name])

    # the page for people: its own badge, counted apart, the next attempt shown
    _, overview = get(httpd, "/acme-status")
    card = card_of(overview, name)
    summary = re.search(r'id="summary">([^<]*)<', overview).group(1)
    assert summary == ("1 certificate: 0 valid, 1 valid with renewal failing, 0 renewing, "
                       "0 failing, 0 expiring soon"), summary
    # the next attempt to the second: it is a minute or so away
    when = "%s UTC" % d["next_action"][:19].replace("T", " ")
    assert 'class="card s-renewal-failing"' in overview and "Valid, renewal failing" in card, card
    assert "<dt>Next attempt</dt><dd>%s</dd>" % when in card, (when, card)
    assert "Next renewal" not in card and "d-ok" in card, card
    assert "CA error (connection)" in card and "Renewal failing since" in card, card
    assert "What to do: The CA could not connect" in card, card
    _, detail = get(httpd, "/acme-status/" + name)
    assert "Valid, renewal failing" in detail and "<dt>Next attempt</dt>" in detail

    # server-status and the metrics count it apart too
    _, auto = get(httpd, "/server-status?auto")
    fields = dict(line.split(": ", 1) for line in auto.splitlines() if ": " in line)
    assert fields["AcmeCertificatesRenewalFailing"] == "1", auto
    assert fields["AcmeCertificatesFailing"] == "0" and fields["AcmeCertificatesValid"] == "0"
    _, metrics_text = get(httpd, "/metrics")
    metrics = parse_prometheus(metrics_text)
    assert metrics["acme_certificates"][(("class", "renewal_failing"),)] == 1, metrics
    assert metrics["acme_certificates"][(("class", "failing"),)] == 0, metrics
    assert metrics["acme_certificate_state"][(("key_type", "ec-p256"), ("name", name),
                                              ("state", "renewal-failing"))] == 1, metrics

    # acmectl: list, show, --json
    out = httpd.acmectl("--store", httpd.store, "list")
    line = [l for l in out.stdout.splitlines() if l.startswith(name + " ")]
    assert line and line[0].split()[1] == "renewal-failing", out.stdout
    assert "retry at %s" % d["next_action"] in line[0], (d["next_action"], line[0])
    assert "attempts=" in line[0] and "failing_since=" in line[0] and "connection" in line[0]
    out = httpd.acmectl("--store", httpd.store, "show", name)
    assert re.search(r"^state: +renewal-failing$", out.stdout, re.M), out.stdout
    failing = re.search(r"^failing: +(.*)$", out.stdout, re.M)
    assert failing and "failed attempt" in failing.group(1) and "next attempt 20" \
        in failing.group(1) and "keeps being served" in failing.group(1), out.stdout
    assert re.search(r"^advice: +The CA could not connect", out.stdout, re.M), out.stdout
    listed = json.loads(httpd.acmectl("--store", httpd.store, "--json", "list").stdout)
    mine = [x for x in listed if x["name"] == name][0]
    assert mine["state"] == "renewal-failing" and mine["renewal_failing"] is True, mine
    assert mine["attempts"] >= 1 and mine["failing_since"], mine
    # check: no store problem, but the failing renewal listed with its next attempt
    chk = httpd.acmectl("--store", httpd.store, "check")
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert re.search(r"^notice: failing: %s: renewal failing \(the live certificate is valid and "
                     r"served\) since 20\S+, \d+ failed attempts?, next attempt 20\S+: .*"
                     r"connection" % re.escape(name), chk.stdout, re.M), chk.stdout
    chk = json.loads(httpd.acmectl("--store", httpd.store, "--json", "check").stdout)
    assert chk["ok"] is True and [f["name"] for f in chk["failing"]] == [name], chk
    assert chk["failing"][0]["renewal_failing"] is True and chk["failing"][0]["next_attempt"]
    # and the site still has its certificate: the first, or (when the CA reused
    # the authorization, see fresh_pebble) the one renewed before the fault bit
    served = httpd.verified_cert(name).serial_number
    assert served == int(d["cert"]["serial"].replace(":", ""), 16), (served, d["cert"])
    assert served == first.serial_number or "created (ready)" in httpd.error_log_text(), served


def plant_prepare(store, names, cert_pem, version):
    """archive/<name>/<version> holding cert_pem, and for each a link to it
    made beside the store (the server sees none of it yet); returns what
    plant_commit makes live."""
    aside = os.path.join(os.path.dirname(os.path.abspath(store)), "planted-%s" % version)
    os.makedirs(aside, exist_ok=True)
    links = []
    for name in names:
        vdir = os.path.join(store, "archive", name, version)
        os.makedirs(vdir, exist_ok=True)
        with open(os.path.join(vdir, "cert.pem"), "w") as f:
            f.write(cert_pem)
        new = os.path.join(aside, name)
        os.symlink(os.path.join("..", "archive", name, version), new)
        links.append((new, os.path.join(store, "domains", name)))
    return links


def plant_commit(links):
    """Each domains/<name> replaced by its prepared link in one rename, as an
    activation does: only these renames touch what the server reads."""
    for new, link in links:
        os.rename(new, link)


def plant_live(store, names, cert_pem, version):
    """domains/<name> -> ../archive/<name>/<version> holding cert_pem, as after
    an activation (each link replaced in one rename); returns when done."""
    plant_commit(plant_prepare(store, names, cert_pem, version))


def self_signed(workdir, days):
    key, cert = os.path.join(workdir, "k-%d.pem" % days), os.path.join(workdir, "c-%d.pem" % days)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", "/CN=status-page.test"],
                   check=True, capture_output=True)
    with open(cert) as f:
        return f.read()


def test_status_page_under_mass_change_is_at_most_seconds_old_and_shows_a_change(httpd, unique,
                                                                                 tmp_path):
    """300 certificates change at once (more than a request renders itself):
    the overview is served as last rendered, its JSON and HTML saying since
    when ("as_of", never more than a few seconds before the request), while
    a render off the request path brings it up to date; every certificate
    that was made live shows within a few seconds, and so does one more
    certificate made live while the others keep changing."""
    n, bound = 300, 6.0
    names = [unique("m%03d" % i) for i in range(n)]
    url = "https://127.0.0.1:%d/dir" % harness.closed_port()
    httpd.write_config(vhosts="".join(ssl_vhost(name) for name in names),
                       acme={"AcmeCA": url})
    httpd.start()
    status_dir = os.path.join(httpd.store, "status")
    wait_for(lambda: sum(f.endswith(".json") for f in os.listdir(status_dir)) >= n, 120,
             interval=0.5, what="%d status records" % n)

    def page():
        _, text = get(httpd, "/acme-status?format=json")
        doc = json.loads(text)
        return doc, {d["name"]: d for d in doc["domains"]}

    doc, by_name = page()
    assert doc["schema"] == 21 and parse_time(doc["as_of"]) <= parse_time(doc["generated_at"])
    assert not any(d.get("cert") for d in by_name.values())
    first, second = self_signed(str(tmp_path), 30), self_signed(str(tmp_path), 60)
    # the files written first: the change must follow a look by well under
    # ACME_PAGE_STALE_MAX (5 s), or the request rightly renders it itself
    # (nobody looked lately), and a loaded machine can take that long to
    # write 300 versions
    planted = plant_prepare(httpd.store, names, first, "v1")
    get(httpd, "/acme-status?format=json")      # looked at just now: a render may be left to a thread

    def watch(until, what, timeout):
        """GETs until until(by_name) holds; every answer's as_of at most
        bound before its generated_at; returns (seconds, answers served as
        they were)."""
        start, stale = time.monotonic(), 0
        while True:
            doc, by_name = page()
            made, as_of = parse_time(doc["generated_at"]), parse_time(doc["as_of"])
            assert 0 <= (made - as_of).total_seconds() <= bound, (doc["generated_at"], doc["as_of"])
            stale += as_of < made
            if until(doc, by_name):
                return time.monotonic() - start, stale
            assert time.monotonic() - start < timeout, "%s not shown within %.0f s" % (what, timeout)
            time.sleep(0.1)

    changed_at = utcnow().replace(microsecond=0)
    plant_commit(planted)

    def all_live(doc, by_name):
        if parse_time(doc["as_of"]) < changed_at + datetime.timedelta(seconds=1):
            return False
        # a page as of after the change shows every one of them
        missing = [x for x in names if not by_name[x].get("cert")]
        assert not missing, (doc["as_of"], missing[:5])
        return True
    took, stale = watch(all_live, "%d certificates made live" % n, bound)
    print("%d certificates made live: shown after %.2f s, %d answer(s) served as rendered before"
          % (n, took, stale))
    assert stale >= 1, "no answer was served as rendered: the request rendered them itself"
    # the HTML says it too
    _, html = get(httpd, "/acme-status")
    assert re.search(r"state as of 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", html), html[-600:]

    # one certificate made live again while the others change at once again
    target = names[n // 2]
    changed_at = utcnow().replace(microsecond=0)
    plant_live(httpd.store, [x for x in names if x != target], first, "v2")
    plant_live(httpd.store, [target], second, "v2")
    days = lambda d: d["days_left"] if d.get("cert") else None   # noqa: E731

    def one_shown(doc, by_name):
        if days(by_name[target]) is not None and days(by_name[target]) >= 55:
            assert parse_time(doc["as_of"]) >= changed_at, doc["as_of"]
            return True
        return False
    took, _ = watch(one_shown, "the certificate of %s" % target, bound)
    print("one certificate made live amid %d changes: shown after %.2f s" % (n, took))


def test_status_page_is_served_whole_and_at_once_while_its_process_renders(httpd, unique,
                                                                          tmp_path):
    """300 certificates change at once in a server of one child: a render
    thread of that child renders them, holding the child's page lock for as
    long as it takes. Requests meanwhile, in the same child, get the page as
    last written, whole (every certificate, valid JSON), at once, instead of
    waiting for the render to end; then every certificate shows live."""
    n, bound = 300, 6.0
    names = [unique("w%03d" % i) for i in range(n)]
    url = "https://127.0.0.1:%d/dir" % harness.closed_port()
    httpd.write_config(vhosts="".join(ssl_vhost(name) for name in names),
                       acme={"AcmeCA": url}, extra_global="ServerLimit 1\nMaxRequestWorkers 16\n")
    httpd.start()
    status_dir = os.path.join(httpd.store, "status")
    wait_for(lambda: sum(f.endswith(".json") for f in os.listdir(status_dir)) >= n, 120,
             interval=0.5, what="%d status records" % n)
    get(httpd, "/acme-status?format=json")
    # written before the look that the change must follow closely (see
    # test_status_page_under_mass_change_is_at_most_seconds_old_and_shows_a_change)
    planted = plant_prepare(httpd.store, names, self_signed(str(tmp_path), 30), "v1")
    time.sleep(1.5)        # the store settled: a request may leave the render to a thread
    get(httpd, "/acme-status?format=json")
    plant_commit(planted)

    answers, lock = [], threading.Lock()
    done = threading.Event()

    def client():
        while not done.is_set():
            t0 = time.monotonic()
            _, text = get(httpd, "/acme-status?format=json")
            took = time.monotonic() - t0
            doc = json.loads(text)         # whole: it parses
            live = sum(1 for d in doc["domains"] if d.get("cert"))
            with lock:
                answers.append((took, len(doc["domains"]), live))
            if live == n:
                done.set()
    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    done.wait(bound * 2)
    done.set()
    for t in threads:
        t.join()
    pids = set(re.findall(r"\"GET /acme-status[^\"]*\" 200 .*pid=(\d+)",
                          open(httpd.access_log).read()))
    assert len(pids) == 1, ("one child serves every request", pids)
    assert answers and all(count == n for _, count, _ in answers), answers
    # the two clients append as their answers end: the other client's request,
    # begun while the render ran, may end after the one that saw every
    # certificate live, with the page as last written before
    assert any(live == n for *_, live in answers), (
        "every certificate shown live within %.0f s" % (bound * 2), answers[-5:])
    before = [took for took, _, live in answers if live == 0]
    print("%d answers while the render ran, as last written (%.0f ms at most), then %d, "
          "%d of them with every certificate live"
          % (len(before), 1000 * max(before or [0]), len(answers) - len(before),
             sum(1 for *_, live in answers if live == n)))
    # the request that started the render got the page as it was; without
    # serving past the render's lock, every later one waited for the render
    assert len(before) >= 3, ("requests waited for the render instead of getting the page "
                              "as last written", answers[:10])


def cert_expiring_at(workdir, not_after):
    """A self-signed certificate (PEM) valid until not_after (UTC, to the second)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "status-page.test")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_after - datetime.timedelta(days=30)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_status_page_answer_is_cached_until_something_in_it_changes(httpd, unique, tmp_path):
    """The assembled overview is cached per format in status/.page and shared
    by every child: two requests in a row with nothing changed are served
    from the same file (not assembled again: no ACME00751, the file's inode
    and mtime unchanged), with generated_at still the request's own time; a
    certificate made live shows within seconds in both formats (the cache
    invalidated); a certificate's days left drop at its day boundary even
    when nothing else changed."""
    names = [unique("c%d" % i) for i in range(3)]
    url = "https://127.0.0.1:%d/dir" % harness.closed_port()
    httpd.write_config(vhosts="".join(ssl_vhost(name) for name in names),
                       acme={"AcmeCA": url})
    httpd.start()
    status_dir = os.path.join(httpd.store, "status")
    wait_for(lambda: sum(f.endswith(".json") for f in os.listdir(status_dir)) >= len(names), 60,
             interval=0.5, what="%d status records" % len(names))
    page_dir = os.path.join(status_dir, ".page")
    formats = {"json": ("/acme-status?format=json", ".json"),
               "html": ("/acme-status", ".html-*")}

    def answer_file(kind):
        [path] = [p for p in glob.glob(os.path.join(page_dir, "overview-*" + formats[kind][1]))
                  if ".old-" not in p]
        st = os.stat(path)
        return st.st_ino, st.st_mtime_ns

    def timeless(kind, text):
        if kind == "json":
            doc = json.loads(text)
            return json.dumps(dict(doc, generated_at=None, as_of=None), sort_keys=True)
        return re.sub(r"<footer>.*</footer>", "", text)

    def assembled():
        return httpd.error_log_text().count("ACME00751")

    for kind in formats:
        # two answers in a row alike (apart from the time fields; a record may
        # still be rewritten at first): the second must be the cached file
        deadline, pair = time.monotonic() + 30, None
        _, prev = get(httpd, formats[kind][0])
        while time.monotonic() < deadline and pair is None:
            before = (answer_file(kind), assembled())
            asked = utcnow().replace(microsecond=0)
            _, text = get(httpd, formats[kind][0])
            after = (answer_file(kind), assembled())
            if timeless(kind, text) == timeless(kind, prev):
                pair = before, after, asked, text
            prev = text
            time.sleep(0.3)
        assert pair, "%s: no two answers alike within 30 s" % kind
        before, after, asked, text = pair
        assert after == before, ("%s: an answer alike was assembled again" % kind, before, after)
        if kind == "json":
            # served from the cache, its generated_at is still the request's time
            doc = json.loads(text)
            assert parse_time(doc["generated_at"]) >= asked, (doc["generated_at"], asked)
            assert parse_time(doc["as_of"]) <= parse_time(doc["generated_at"]), doc

    # a certificate made live shows in both formats within seconds
    cached = {kind: answer_file(kind) for kind in formats}
    plant_live(httpd.store, [names[0]], self_signed(str(tmp_path), 30), "v1")
    start = time.monotonic()

    def shown_json():
        _, text = get(httpd, formats["json"][0])
        d = {x["name"]: x for x in json.loads(text)["domains"]}[names[0]]
        return d.get("cert") and d["days_left"] in (29, 30)

    def shown_html():
        _, text = get(httpd, formats["html"][0])
        return re.search(r"\b(29|30) days left", card_of(text, names[0]))
    wait_for(shown_json, 6, interval=0.1, what="the live certificate in the JSON")
    wait_for(shown_html, 6, interval=0.1, what="the live certificate in the HTML")
    print("a certificate made live: shown in both formats after %.2f s" % (time.monotonic() - start))
    for kind in formats:
        assert answer_file(kind) != cached[kind], kind

    # days left move with the clock: a certificate with 1 day left for a few
    # more seconds reads 0 days left after that, cached answer or not
    boundary = utcnow().replace(microsecond=0) + datetime.timedelta(seconds=8)
    plant_live(httpd.store, [names[1]],
               cert_expiring_at(str(tmp_path), boundary + datetime.timedelta(days=1)), "v1")

    def days_of(name):
        _, text = get(httpd, formats["json"][0])
        return {x["name"]: x for x in json.loads(text)["domains"]}[name].get("days_left")
    wait_for(lambda: days_of(names[1]) == 1, 6, interval=0.1, what="1 day left")
    _, html = get(httpd, "/acme-status")
    assert re.search(r"\b1 day left", card_of(html, names[1])), card_of(html, names[1])
    while utcnow() < boundary + datetime.timedelta(seconds=1):
        time.sleep(0.2)
    assert days_of(names[1]) == 0
    _, html = get(httpd, "/acme-status")
    assert re.search(r"\b0 days left", card_of(html, names[1])), card_of(html, names[1])
