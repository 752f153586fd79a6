"""AcmeMaxParallel and the per-CA pacer, against a CA that answers 429
rateLimited past a token bucket of new orders (the test proxy's order_limit,
as Let's Encrypt's New Orders per Account limit): paced, every certificate
arrives without a single 429, domains waiting for their turn say "queued,
starts at T" on the status page, and never more orders are in flight than
AcmeMaxParallel allows. Without the pacer the same CA refuses orders."""
import re
import time

import pytest

from ari_proxy import AcmeProxy
from harness import acmectl_ok, acmectl_on_store, ssl_vhost, store_status, wait_for

LIMIT = (3, 12)        # 3 new orders, then one every 4 s


@pytest.fixture
def limited(pebble):
    p = AcmeProxy(pebble)
    p.order_limit = LIMIT
    p.start()
    yield p
    p.stop()


def start(httpd, proxy, names, max_parallel):
    acme = {"AcmeCA": proxy.directory_url}
    if max_parallel:
        acme["AcmeMaxParallel"] = max_parallel
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names), acme=acme)
    httpd.start()


def test_paced_orders_meet_no_429_and_show_their_start(httpd, limited, unique):
    names = [unique("pace%d" % i) for i in range(6)]
    start(httpd, limited, names, "2 %d/%ds" % LIMIT)
    queued = set()

    def all_served():
        for n in names:
            activity = store_status(httpd.store, n).get("activity") or ""
            if activity.startswith("queued, starts at "):
                queued.add(n)
        return all(httpd.verified_cert(n) for n in names)
    wait_for(all_served, 120, interval=0.5, what="all six certificates")
    assert limited.refused_429 == 0, "%d orders refused with 429" % limited.refused_429
    assert len(limited.new_orders()) == len(names), limited.new_orders()
    assert queued, "no domain was ever shown as queued"
    # in flight at once: an order is open from its newOrder to its certificate download
    events = []
    for r in limited.recorded("POST"):
        if r.path == "/order-plz" and r.status == 201:
            events.append((r.time, 1))
        elif r.path.startswith("/certZ/") and r.status == 200:
            events.append((r.time, -1))
    level = peak = 0
    for _, d in sorted(events):
        level += d
        peak = max(peak, level)
    assert peak <= 2, "%d orders in flight at once with AcmeMaxParallel 2" % peak


def test_the_limited_ca_refuses_a_burst_without_the_pacer(httpd, limited, unique):
    # 3 orders, then one per 200 s: five names exceed it however slowly the
    # orders go (a sanitized build under load takes seconds per order, and
    # LIMIT's one per 4 s would keep up with it)
    limited.order_limit = (3, 600)
    names = [unique("burst%d" % i) for i in range(5)]
    start(httpd, limited, names, None)
    wait_for(lambda: limited.refused_429 > 0, 60, interval=0.5,
             what="a 429 from the limited CA")


PAUSED = "CA rate limit: new orders wait until "


def test_a_429_at_new_order_pauses_the_account(httpd, limited, unique):
    """A 429 rateLimited at newOrder limits the account, not the name: of
    four names ordering at once, one gets its order, one meets the 429, and
    the other two send no newOrder while the pause lasts (the later of the
    CA's Retry-After, about 40 s here, and the refused name's backoff, at
    least 30 s); their status says until when, the pause is logged once, and
    acmectl renew says when a held-back renewal starts and why."""
    limited.order_limit = (1, 40)       # one order, then the next one 40 s later
    names = [unique("pause%d" % i) for i in range(4)]
    start(httpd, limited, names, None)
    # its record's status, not refused_429: that counts before the answer is recorded
    wait_for(lambda: any(r.status == 429 for r in limited.new_orders()), 60, interval=0.2,
             what="a 429 from the limited CA")
    first_429 = min(r.time for r in limited.new_orders() if r.status == 429)
    time.sleep(20)
    later = [r for r in limited.new_orders() if r.time > first_429 + 1.0]
    assert not later and limited.refused_429 == 1, \
        "%d new orders after the first 429, %d refused\n%s" % (
            len(later), limited.refused_429, httpd.diagnostics(60))
    paused = [n for n in names
              if (store_status(httpd.store, n).get("activity") or "").startswith(PAUSED)]
    assert len(paused) == 2, [store_status(httpd.store, n) for n in names]
    assert httpd.error_log_text().count("ACME01260: ") == 1, httpd.diagnostics(60)
    until = store_status(httpd.store, paused[0])["activity"][len(PAUSED):]
    assert store_status(httpd.store, paused[0])["next_action"] == until
    # its visitors read what it waits for, not that it is being obtained
    status, _, body = httpd.https_request(paused[0], "/")
    assert status == 503 and b"being obtained" not in body \
        and ("waits for the rate limit of the certificate authority" in body.decode()) \
        and ("it takes no new order before %s" % until) in body.decode() \
        and b"://" not in body, (status, body)
    out = acmectl_ok(acmectl_on_store(httpd, "renew", paused[0])).stdout
    assert "it starts at %s" % until in out and "429 rateLimited" in out, out
    refused = [n for n in names if store_status(httpd.store, n).get("state") == "error"]
    assert len(refused) == 1, [store_status(httpd.store, n) for n in names]
    out = acmectl_ok(acmectl_on_store(httpd, "renew", refused[0])).stdout
    assert "it starts at %s" % store_status(httpd.store, refused[0])["next_action"] in out \
        and "429 rateLimited (too many new orders" in out, out


RATE = (4, 4.0)         # AcmeMaxParallel 20 4/4s
INTERVAL = RATE[1] / RATE[0]
SPACING = INTERVAL * 1.025      # each order's interval and its 2.5 % margin


def bucket_earliest(times, interval):
    """For each new order at times (sorted), the earliest time the bucket of
    RATE[0] orders, refilled one per interval, allowed it after the orders
    before it as they came (GCRA on the times seen): an order before that
    exceeds the bucket; one after it is late, by the pacer or by httpd (a
    stalled run or restart, which the bucket makes up for only up to its
    burst). The burst is RATE[0] - 1 intervals ahead of tat, as the pacer
    has it; the spacing may be larger than the interval; none comes before
    the order before it."""
    earliest, tat = [], None
    for k, t in enumerate(times):
        e = t if tat is None else max(tat - (RATE[0] - 1) * INTERVAL, times[k - 1])
        earliest.append(e)
        tat = max(tat if tat is not None else t, t) + interval
    return earliest


def test_delivered_rate_is_the_configured_one(httpd, pebble, unique):
    """AcmeMaxParallel 20 4/4s: a burst of 4 new orders, then one a second
    (plus the 2.5 % margin each order spends), with a graceful restart while
    names are queued (a new watchdog child reads the bucket from
    jobs/.pacer.json; the activations of the first certificates add more).
    Measured at the CA: no new order comes before the bucket of 4/4s allows
    it (50 ms for the path to the CA); of the last four, one at least comes
    less than SLACK after the bucket of the spaced interval allowed it, given
    the orders before it as they came: an order that left late (a busy run,
    a restart) is late alone, the ones after it are not. SLACK is what the
    mean gap's old bound (15 % over eleven gaps) let the orders fall behind
    in all; a margin of a second per order, an older pacer, had them many
    seconds behind. Each queued name shows its own start time, distinct and
    increasing in queue order."""
    SLACK = 1.5
    proxy = AcmeProxy(pebble)
    proxy.start()
    try:
        names = [unique("rate%02d" % i) for i in range(16)]
        start(httpd, proxy, names, "20 %d/%ds" % RATE)
        starts = {}
        restarts = [8]

        def all_ordered():
            for n in names:
                activity = store_status(httpd.store, n).get("activity") or ""
                if activity.startswith("queued, starts at ") and n not in starts:
                    starts[n] = activity[len("queued, starts at "):]
            ordered = len(proxy.new_orders())
            if restarts and ordered >= restarts[0]:
                # a new watchdog child reads the bucket from jobs/.pacer.json
                restarts.pop(0)
                httpd.graceful()
            return ordered >= len(names)
        wait_for(all_ordered, 90, interval=0.2, what="16 new orders")
        times = sorted(r.time for r in proxy.new_orders())
        paced = times[4:]
        gap = (paced[-1] - paced[0]) / (len(paced) - 1)
        late = [t - e for t, e in zip(times, bucket_earliest(times, SPACING))]
        print("new orders: %d; mean gap after the burst %.3f s (spacing %.3f s); late by: %s"
              % (len(times), gap, SPACING, " ".join("%.2f" % x for x in late)))
        print("at: %s" % " ".join("%.3f" % (t - times[0]) for t in times))
        early = [(k, e - t) for k, (t, e) in enumerate(zip(times, bucket_earliest(times, INTERVAL)))
                 if t < e - 0.05]
        assert not early, "new orders before the bucket of %d/%ds allowed them (order, s): %s; " \
            "at %s" % (RATE[0], RATE[1], early, ["%.3f" % (t - times[0]) for t in times])
        assert min(late[-4:]) < SLACK, \
            "the last new orders all came late by the bucket: %s s" % (
                " ".join("%.2f" % x for x in late))
        # (no upper bound on the mean: it adds httpd's stalls longer than the
        # burst, which no bucket may make up for, to the pacer's rate; the
        # lateness by the bucket above is the pacer's alone)
        assert gap >= 0.95, \
            "mean gap %.3f s between paced new orders, spacing %.3f s" % (gap, SPACING)
        shown = list(starts.values())
        assert len(shown) >= 8, starts
        assert len(set(shown)) == len(shown), "queued names share a start time: %s" % starts
        wait_for(lambda: all(httpd.verified_cert(n) for n in names), 90, interval=0.5,
                 what="all sixteen certificates")
    finally:
        proxy.stop()


def test_after_a_429_new_orders_keep_the_pace_the_ca_accepts(httpd, limited, unique):
    """A CA with no published limit (none configured either) that refuses a
    new order with 429: when the pause ends, the names still waiting do not
    all send newOrder at once (its bucket holds two orders: a burst would be
    refused again, pause after pause), but one at a time, one per the wait
    the CA's Retry-After asked for. One 429 in all, the learned pace logged
    once (ACME01286), and every certificate arrives."""
    limited.order_limit = (2, 10)       # two orders, then one every 5 s
    names = [unique("learn%d" % i) for i in range(9)]
    start(httpd, limited, names, None)
    wait_for(lambda: all(httpd.verified_cert(n) for n in names), 240, interval=0.5,
             what="all nine certificates")
    refused = [r for r in limited.new_orders() if r.status == 429]
    accepted = sorted(r.time for r in limited.new_orders() if r.status == 201)
    print("new orders: %d accepted, %d refused (%s)" % (
        len(accepted), len(refused), ", ".join("%.1f" % (t - accepted[0]) for t in accepted)))
    assert limited.refused_429 == 1, "%d orders refused with 429\n%s" % (
        limited.refused_429, httpd.diagnostics(40))
    log = httpd.error_log_text()
    assert log.count("ACME01286: ") == 1, httpd.diagnostics(40)
    # the proxy's Retry-After (the seconds to its next order, rounded up), less
    # the time from its answer to the pace being set
    m = re.search(r"one per (\d+) ms \(its Retry-After\)", log)
    assert m and 4000 <= int(m.group(1)) <= 6000, httpd.diagnostics(40)
    # after the pause, one at a time: never two accepted within the CA's 5 s
    after = [t for t in accepted if t > min(r.time for r in refused)]
    gaps = [b - a for a, b in zip(after, after[1:])]
    assert gaps and min(gaps) >= 4.5, gaps
