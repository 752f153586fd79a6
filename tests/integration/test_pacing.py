"""AcmeMaxParallel and the per-CA pacer, against a CA that answers 429
rateLimited past a token bucket of new orders (the test proxy's order_limit,
as Let's Encrypt's New Orders per Account limit): paced, every certificate
arrives without a single 429, domains waiting for their turn say "queued,
starts at T" on the status page, and never more orders are in flight than
AcmeMaxParallel allows. Without the pacer the same CA refuses orders."""
import pytest

from ari_proxy import AcmeProxy
from harness import ssl_vhost, store_status, wait_for

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
