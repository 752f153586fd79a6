"""A name that failed because of its configuration is tried again right after
the configuration is fixed and the server restarted gracefully, not when its
backoff (30 to 90 s after the first failure, doubling) ends."""
import time

import harness
from harness import cert_names, parse_time, ssl_vhost, utcnow, wait_for

FAILING_HOOK = """#!/bin/sh
echo "$1 $2 $3" >> {log}
echo "nsupdate: update failed: REFUSED" >&2
exit 3
"""


def test_fixed_challenge_config_is_tried_at_once_after_graceful(httpd, challtestsrv, unique):
    """dns-01 only, with a hook that fails: the attempt fails and the name
    waits for its backoff. The configuration fixed (http-01, no hook) and a
    graceful restart: the name is ordered at once and issued within seconds,
    while the backoff would still have had it wait."""
    name = unique("fixcfg")
    hook, log = harness.write_hook(httpd, "dns-hook", FAILING_HOOK)
    broken = "AcmeChallenges dns-01\nAcmeDnsCmd %s" % hook
    httpd.write_config(vhosts=ssl_vhost(name, extra=broken))
    httpd.start()

    def failed():
        d = httpd.domain_status(name)
        return d if (d.get("error") or {}).get("detail") and d.get("next_action") else None
    d = wait_for(failed, 30, what="an error for %s on the status page" % name)
    assert "exited with 3" in d["error"]["detail"], d

    httpd.write_config(vhosts=ssl_vhost(name, extra="AcmeChallenges http-01"))
    rc, out = httpd.configtest()
    assert rc == 0, out
    left = (parse_time(httpd.domain_status(name)["next_action"]) - utcnow()).total_seconds()
    # the backoff is 30 s at the least: with less left, waiting it out would pass too
    assert left > 20, "next attempt only %.1f s away: %s" % (left, d)
    started = time.monotonic()
    httpd.graceful()
    cert = httpd.wait_for_pebble_cert(name, min(15.0, left - 5))
    took = time.monotonic() - started
    assert cert_names(cert) == {name}
    d = httpd.domain_status(name)
    assert d["state"] == "valid", d
    print("issued %.1f s after the graceful restart; the backoff had %.1f s left" % (took, left))
