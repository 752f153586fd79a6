"""AcmeCluster, one node, Redis going away: a short outage is logged once as
it begins and once as it ends, with its length; a wrong password says so
and what to change instead of waiting for Redis; the outage's start shown
on the status page does not carry over to another Redis after a graceful
restart, while over a graceful restart with the same Redis the order gate
still counts it from its start; the order gate's wait is logged once at info,
not at every look."""
import calendar
import re
import time

import harness
from cluster import Redis, key_file, redis  # noqa: F401 (fixtures)
from harness import free_port, make_tree, port_open, ssl_vhost, wait_for


def configure(h, name, url):
    h.write_config(vhosts=ssl_vhost(name), acme={
        "AcmeCluster": url, "AcmeClusterKeyFile": key_file(make_tree("it-cluster-key-")),
        "AcmeChallenges": "http-01"})


def lines(h, pattern, since=0):
    return [l for l in h.error_log_text()[since:].splitlines() if re.search(pattern, l)]


def epoch(rfc3339):
    return calendar.timegm(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S"))


def test_short_outage_logged_once(httpd, redis, unique):
    """Redis restarted (about a second down, well within the parent's looks,
    10 s apart): ACME01019 once as the outage is found, ACME01020 once with
    its length; no status text that belongs to no call."""
    name = unique("blip")
    configure(httpd, name, redis.url())
    httpd.start()
    wait_for(lambda: redis.keys("mod_acme:node:*"), 30, what="the node's first heartbeat")
    since = len(httpd.error_log_text())
    redis.cli("SHUTDOWN", "NOSAVE")
    wait_for(lambda: not port_open(redis.port), 10, what="redis-server to stop")
    redis.stop()
    redis.start()                         # same port
    wait_for(lambda: lines(httpd, r"ACME01020: cluster: Redis reachable again", since),
             40, what="the end of the outage logged")
    time.sleep(12)                        # a look more: nothing more said
    began = lines(httpd, r"ACME01019: cluster:", since)
    ended = lines(httpd, r"ACME01020: ", since)
    print("\n".join(began + ended))
    assert len(began) == 1 and "[acme:warn]" in began[0], began
    assert "Redis at 127.0.0.1:%d" % redis.port in began[0], began
    assert len(ended) == 1, ended
    length = float(re.search(r"again after (?:at most )?([0-9.]+) s", ended[0]).group(1))
    assert 0 < length <= 15, ended
    assert not lines(httpd, r"\] \(\d+\)[^\]]*: ACME010", since), "a status prefix"


def test_wrong_or_missing_password(httpd, workdir, unique):
    """A wrong password (WRONGPASS) and none where Redis asks for one
    (NOAUTH) are said as such, with what to change, at error level; not
    as an outage to wait out: the status page says Redis "refused" (not
    "unreachable"), acmectl list that it refused this node. The password
    never shows."""
    name = unique("pw")
    with harness.started(Redis(make_tree("it-redis-pw-"), password="right-pw"),
                         "redis-server") as r:
        configure(httpd, name, "redis://:wrong-pw@127.0.0.1:%d" % r.port)
        httpd.start()
        said = r"ACME01019: cluster: Redis at 127.0.0.1:%d refused this node: " % r.port
        wait_for(lambda: lines(httpd, said + "the password in AcmeCluster is wrong"), 30,
                 what="the wrong password said")
        line = lines(httpd, said)[0]
        assert "[acme:error]" in line and "WRONGPASS" in line, line
        assert "until AcmeCluster is fixed" in line and "until Redis is back" not in line, line
        assert "redis://:PASSWORD@HOST:PORT" in line, line
        wait_for(lambda: (httpd.status().get("cluster") or {}).get("redis") == "refused", 30,
                 what="the status page to say Redis refused this node")
        listed = httpd.acmectl("--store", httpd.store, "list").stdout
        assert "REFUSED THIS NODE (authentication or AcmeCluster failed)" in listed, listed
        assert "UNREACHABLE" not in listed and "the password in AcmeCluster is wrong" in listed, \
            listed
        # The order gate says the same, not "not reachable".
        wait_for(lambda: lines(httpd, r"ACME01176: %s: not ordering here now: AcmeCluster "
                               r"needs a fix \(Redis at" % re.escape(name)), 60,
                 what="the gate's wait")
        httpd.stop()
        since = len(httpd.error_log_text())
        configure(httpd, name, "redis://127.0.0.1:%d" % r.port)
        httpd.start()
        wait_for(lambda: lines(httpd, said + "it asks for a password and AcmeCluster gives "
                               "none", since), 30, what="the missing password said")
        assert "NOAUTH" in lines(httpd, said, since)[0]
        assert "wrong-pw" not in httpd.error_log_text()
        assert not r.keys(), "wrote to Redis without its password"


def test_url_mistakes_are_configuration_errors(httpd, unique):
    """AcmeCluster mistakes that pass configtest but no waiting cures: a
    database Redis does not have (/16 of the default 16) and a host name
    that does not resolve (127.0.0.l) are said at error level with the fix,
    not as an outage ("until Redis is back"); the lookup failure as such,
    not as "refused or unreachable"; the order gate waits for the fix."""
    name = unique("cfg")
    with harness.started(Redis(make_tree("it-redis-db-"), password="s3cret"),
                         "redis-server") as r:
        configure(httpd, name, "redis://:s3cret@127.0.0.1:%d/16" % r.port)
        httpd.start()
        said = r"ACME01019: cluster: Redis at 127.0.0.1:%d has no database 16 " % r.port
        wait_for(lambda: lines(httpd, said), 30, what="the missing database said")
        line = lines(httpd, said)[0]
        assert "[acme:error]" in line and "DB index is out of range" in line, line
        assert "until AcmeCluster is fixed" in line and "until Redis is back" not in line, line
        wait_for(lambda: lines(httpd, r"ACME01176: %s: not ordering here now: AcmeCluster "
                               r"needs a fix \(Redis at .* has no database 16" % re.escape(name)),
                 60, what="the gate's wait")
        httpd.stop()
        since = len(httpd.error_log_text())
        configure(httpd, name, "redis://:s3cret@127.0.0.l:%d" % r.port)
        httpd.start()
        said = r"ACME01019: cluster: cannot connect to 127.0.0.l:%d \(the name '127.0.0.l' " \
               r"in AcmeCluster does not resolve" % r.port
        wait_for(lambda: lines(httpd, said, since), 30, what="the lookup failure said")
        line = lines(httpd, said, since)[0]
        assert "[acme:error]" in line and "refused or unreachable" not in line, line
        assert "until AcmeCluster is fixed" in line, line
        assert "s3cret" not in httpd.error_log_text()
        assert not r.keys(), "wrote to Redis"


def test_outage_start_not_carried_to_another_redis(httpd, unique):
    """Redis down at one URL; AcmeCluster changed to another and a graceful
    restart: the status page's down_since starts anew. While down, the
    order gate's wait is logged once at info (at debug after that)."""
    name = unique("since")
    first = "redis://127.0.0.1:%d" % free_port()
    configure(httpd, name, first)
    httpd.start()

    def down_since(port):
        c = httpd.status().get("cluster") or {}
        return ("127.0.0.1:%d" % port in c.get("url", "") and c.get("redis") == "unreachable"
                and c.get("down_since"))
    port1 = int(first.rsplit(":", 1)[1])
    t1 = wait_for(lambda: down_since(port1), 30, what="the first outage on the status page")
    waits = r"ACME01176: %s: not ordering here now: Redis is not reachable" % re.escape(name)
    wait_for(lambda: len(lines(httpd, waits)) >= 3, 60, what="three looks of the order gate")
    info = lines(httpd, r"\[acme:info\].*" + waits)
    assert len(info) == 1, info                   # the others at debug
    assert not [l for l in lines(httpd, waits) if re.search(r"\] \(\d+\)", l)], \
        "ACME01176 with a status that belongs to no call"
    time.sleep(3)
    port2 = free_port()
    configure(httpd, name, "redis://127.0.0.1:%d" % port2)
    changed_at = time.time()
    httpd.graceful()
    t2 = wait_for(lambda: down_since(port2), 30, what="the outage of the new URL")
    print("down since %s at port %d, %s at port %d" % (t1, port1, t2, port2))
    assert epoch(t2) >= int(changed_at) - 1 > epoch(t1), (t1, t2)


def test_outage_length_counted_across_a_graceful_restart(httpd, unique):
    """Redis down, then a graceful restart with the same AcmeCluster: the
    order gate's first wait after it (ACME01176) counts the outage from its
    start (the status page's down_since), not from the restart ("down 0 s")."""
    name = unique("downlen")
    port = free_port()
    configure(httpd, name, "redis://127.0.0.1:%d" % port)
    httpd.start()

    def down_since():
        c = httpd.status().get("cluster") or {}
        return c.get("redis") == "unreachable" and c.get("down_since")
    began = epoch(wait_for(down_since, 30, what="the outage on the status page"))
    waits = r"ACME01176: %s: not ordering here now: Redis is not reachable" % re.escape(name)
    wait_for(lambda: lines(httpd, waits), 60, what="the order gate's wait")
    wait_for(lambda: time.time() - began >= 6, 10, what="an outage of 6 s")
    mark = len(httpd.error_log_text())
    restarted_at = time.time()
    httpd.graceful()
    after = wait_for(lambda: lines(httpd, waits, mark), 60,
                     what="the order gate's wait after the restart")
    down = int(re.search(r"\(down (\d+) s,", after[0]).group(1))
    assert down >= int(restarted_at - began) - 1, (down, restarted_at - began, after[0])
