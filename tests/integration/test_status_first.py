"""First certificates of several names under AcmeMaxParallel, on the status
page and in acmectl: names are ordered and listed in configuration order; a
name waiting for its turn reads "queued, starts at T" in acmectl list as its
status says; a first certificate that is staged counts as staged (needing
apachectl graceful under AcmeActivation manual), never as "renewing" or
as waiting for the first; once live, its next renewal is the
certificate's own, not the server's next look. Each wrong reading is
collected and all are reported together."""
import datetime
import json
import re
import time

from harness import closed_port, parse_time, ssl_vhost, store_status, utcnow, wait_for
from test_status_page import card_of, get

ISSUE_TIMEOUT = 90


def card_order(html, names):
    at = [html.find('href="acme-status/%s"' % n) for n in names]
    return at == sorted(at) and -1 not in at


def renewal_shown(httpd, overview, d, wrong):
    """d (a JSON domain): renew_at is the certificate's, the card and acmectl
    say the same."""
    if not d["renew_at"]:
        wrong.append("P2: %s live, renew_at null (next_action %s)" % (d["name"], d["next_action"]))
        return
    renew_at = parse_time(d["renew_at"])
    if not (renew_at - utcnow() > datetime.timedelta(days=1)
            and parse_time(d["cert"]["not_before"]) < renew_at < parse_time(d["cert"]["not_after"])):
        wrong.append("P2: %s renew_at %s for %s" % (d["name"], d["renew_at"], d["cert"]))
    row = re.search(r"<dt>Next renewal</dt><dd>([^<]*)</dd>", card_of(overview, d["name"]))
    if not row or row.group(1) != "%s %s UTC" % (d["renew_at"][:10], d["renew_at"][11:16]):
        wrong.append("P2: %s card's next renewal %s, renew_at %s"
                     % (d["name"], row and row.group(1), d["renew_at"]))
    shown = json.loads(httpd.acmectl("--store", httpd.store, "--json", "show", d["name"]).stdout)
    if shown["renew_at"] != d["renew_at"]:
        wrong.append("P2: acmectl renew_at %s, page %s" % (shown["renew_at"], d["renew_at"]))


def test_first_certificates_go_in_config_order_and_read_right(httpd, unique):
    # configured neither in the order of their names nor its reverse
    names = [unique(label) for label in ("d", "b", "c", "a")]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       acme={"AcmeActivation": "manual", "AcmeMaxParallel": "1 1/3s"})
    httpd.start()
    wrong = []
    listed = [d["name"] for d in httpd.status()["domains"]]
    if listed != names:
        wrong.append("P4: JSON lists %s, configured %s" % (listed, names))

    staged_at = {}
    queued_listed = set()

    def all_staged():
        listing = httpd.acmectl("--store", httpd.store, "list").stdout
        for n in names:
            if re.search(r"^%s .* queued, starts at \d{4}-" % re.escape(n), listing, re.M):
                queued_listed.add(n)
            if n not in staged_at and store_status(httpd.store, n).get("state") == "staged":
                staged_at[n] = time.monotonic()
        return len(staged_at) == len(names)
    wait_for(all_staged, ISSUE_TIMEOUT, interval=0.3, what="every first certificate staged")
    if sorted(names, key=staged_at.get) != names:
        wrong.append("P4: staged in the order %s, configured %s"
                     % (sorted(names, key=staged_at.get), names))
    if not queued_listed:
        wrong.append("P3: acmectl list never said 'queued, starts at'")

    # staged first certificates: staged, nothing renewing or waited for
    doc = httpd.status()
    if (doc["summary"]["renewing"], doc["summary"]["missing"], doc["summary"]["staged"]) \
            != (0, 0, len(names)):
        wrong.append("P1: JSON summary %s" % doc["summary"])
    _, overview = get(httpd, "/acme-status")
    summary = re.search(r'id="summary">([^<]*)<', overview).group(1)
    if " 0 renewing," not in summary or "waiting for the first" in summary \
            or "%d staged (needs apachectl graceful)" % len(names) not in summary:
        wrong.append("P1: HTML summary %r" % summary)
    if any("s-renewing" in card_of(overview, n) for n in names):
        wrong.append("P1: a staged first certificate's card is coloured as renewing")
    if not card_order(overview, names):
        wrong.append("P4: cards out of configuration order")
    # the staged certificate's own facts, in JSON and on its card (not "–")
    for d in doc["domains"]:
        staged, card = d.get("staged"), card_of(overview, d["name"])
        if d["cert"] is not None or not staged or "Pebble" not in (staged["issuer"] or "") \
                or not staged["not_after"] or not staged["serial"]:
            wrong.append("P5: %s: JSON cert %r staged %r" % (d["name"], d["cert"], staged))
        elif "Pebble" not in card or staged["not_after"][:10] not in card:
            wrong.append("P5: %s: the card lacks the staged issuer or validity: %s"
                         % (d["name"], card))

    # live: the next renewal is the certificate's, at once
    httpd.graceful()
    for n in names:
        httpd.wait_for_pebble_cert(n, 20)
    doc = httpd.status()
    _, overview = get(httpd, "/acme-status")
    for d in doc["domains"]:
        renewal_shown(httpd, overview, d, wrong)
        if d["staged"] is not None:
            wrong.append("P5: %s: live, yet staged is %r" % (d["name"], d["staged"]))
    assert not wrong, "\n".join(wrong)


DOWN = "waiting for the CA, unreachable since "


def test_names_held_back_while_the_ca_is_down_say_what_they_wait_for(httpd, unique):
    """AcmeCA on a closed port: the first name's order fails; the names held
    back in that run (ACME00419) say they wait for the CA, since when, its
    last error and the next try, in the status JSON, acmectl list and the
    503 page their visitors get, not just "missing"."""
    names = [unique("down%d" % i) for i in range(3)]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % closed_port()})
    httpd.start()

    def held():
        for n in names:
            if (store_status(httpd.store, n).get("activity") or "").startswith(DOWN):
                return n
        return None
    name = wait_for(held, 60, interval=0.3, what="a name held back saying the CA is down")
    d = wait_for(lambda: (lambda d: d if (d.get("activity") or "").startswith(DOWN) else None)(
        httpd.domain_status(name)), 10, interval=0.3, what="the page to say so")
    assert d["state"] == "missing" and "; next try at " in d["activity"], d
    assert "127.0.0.1" in d["activity"] or "connect" in d["activity"].lower(), d
    listing = httpd.acmectl("--store", httpd.store, "list").stdout
    line = [l for l in listing.splitlines() if l.startswith(name + " ")]
    assert line and ('waiting="%s' % DOWN) in line[0], listing
    status, _, body = httpd.https_request(name, "/")
    assert status == 503 and "which has not answered since" in body.decode() \
        and b"being obtained" not in body, (status, body)
    # every visitor reads these: the times, not the CA's address nor its last error
    since = d["activity"][len(DOWN):].split(" ")[0]
    assert "which has not answered since %s." % since in body.decode(), body
    for n in names:
        status, _, body = httpd.https_request(n, "/")
        assert status == 503, (n, status, body)
        public_words(httpd, body.decode(), "127.0.0.1", "/dir", "refused", "onnect")


def public_words(httpd, text, *words):
    """The 503 page every visitor gets names no URL (the CA's, which may be a
    private one; an account's), no path of the server, no error text (words),
    no directive or command of the administrator's."""
    for word in ("://", httpd.store, httpd.serverroot, "ACME0", "AcmeCA", "AcmeActivation",
                 "apachectl") + words:
        assert word not in text, (word, text)


def test_public_503_says_in_plain_words_what_happens(httpd, plain_proxy, unique):
    """While the order is under way and once its certificate is staged
    (AcmeActivation manual) the 503 says so without the CA's URL; the status
    page still names the CA."""
    name = unique("plain503")
    gate = plain_proxy.gate("POST", r"^/order-plz", timeout=60)
    httpd.write_config(vhosts=ssl_vhost(name), acme={"AcmeCA": plain_proxy.directory_url,
                                                     "AcmeActivation": "manual"})
    httpd.start()
    wait_for(gate.held.is_set, 60, interval=0.05, what="the newOrder held at the proxy")
    status, _, body = httpd.https_request(name, "/")
    text = body.decode()
    assert status == 503 and ("the certificate for %s is being obtained from the certificate "
                              "authority" % name) in text, (status, text)
    public_words(httpd, text, "127.0.0.1", str(plain_proxy.port))
    assert "once it has arrived and the site's administrator restarts httpd." in text, text
    plain_proxy.open_gates()
    wait_for(lambda: store_status(httpd.store, name).get("state") == "staged", ISSUE_TIMEOUT,
             interval=0.3, what="%s staged" % name)
    status, _, body = httpd.https_request(name, "/")
    text = body.decode()
    assert status == 503 and "has been obtained from the certificate authority and is ready" \
        in text, (status, text)
    public_words(httpd, text, "127.0.0.1", str(plain_proxy.port))
    assert plain_proxy.directory_url in json.dumps(httpd.status()), httpd.status()
