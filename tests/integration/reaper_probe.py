"""Run only by test_reaper.py (its name keeps it out of the suite): starts
the session's Pebble and challtestsrv, an httpd and a redis-server, writes
their process ids to $ACME_REAPER_PROBE_OUT and waits to be killed."""
import json
import os
import time

import harness
from cluster import Redis


def test_hold_servers_until_killed(httpd, pebble, challtestsrv, unique):
    httpd.write_config(vhosts=harness.ssl_vhost(unique("reap")))
    httpd.start()
    redis = Redis(harness.make_tree("it-reap-redis-")).start()
    out = os.environ["ACME_REAPER_PROBE_OUT"]
    with open(out + ".tmp", "w") as f:
        json.dump({"pids": {"httpd": httpd.pid(), "pebble": pebble.proc.pid,
                            "challtestsrv": challtestsrv.proc.pid, "redis": redis.proc.pid},
                   "serverroot": httpd.serverroot}, f)
    os.rename(out + ".tmp", out)
    time.sleep(600)
