"""The next keys of certificates that just went live: the restart that
activates several makes the first at post_config and leaves the others to the
parent's monitor hook, so mod_ssl and the new children do not wait for a key
per activated certificate; every name still gets its next key and CSR soon
after (the monitor runs about every 10 s)."""
import os
import re

from harness import ssl_vhost, wait_for

NAMES = 4
ISSUE_TIMEOUT = 90
MONITOR_TIMEOUT = 40


def keys_lines(log):
    """(made, left, left for the renewal) of every ACME00635 line."""
    return [tuple(int(x) for x in m) for m in re.findall(
        r"ACME00635: (\d+) certificate key\(s\) generated, (\d+) left for later "
        r"\((\d+) of them for the renewal", log)]


def activated_per_generation(log):
    """How many certificates each post_config made live (ACME00603), in log
    order, one entry per generation that activated any."""
    counts, current = [], 0
    for line in log.splitlines():
        if "ACME00603: " in line:
            current += 1
        elif "ACME00608: " in line and current:
            counts.append(current)
            current = 0
    return counts


def test_next_keys_of_activated_certificates_come_from_the_monitor(httpd, unique):
    names = [unique("nextkey%d" % i) for i in range(NAMES)]
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names))
    httpd.start()
    for name in names:
        httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    log = httpd.error_log_text()
    activated = activated_per_generation(log)
    assert sum(activated) == NAMES, (activated, httpd.diagnostics())
    lines = keys_lines(log)
    # the first start made a key for every name; each restart that made
    # certificates live made one next key and left the others to the monitor
    renewal_left = sum(left_renewal for _, _, left_renewal in lines)
    assert renewal_left == sum(n - 1 for n in activated), (lines, activated, httpd.diagnostics())
    if max(activated) == 1:
        # one certificate per restart: nothing to leave (the batch split)
        print("each restart activated one certificate: %r" % activated)
    # no name is left without the key and CSR of its next order
    csr_dir = os.path.join(httpd.store, "csr")
    wait_for(lambda: all(os.path.exists(os.path.join(csr_dir, n + ".json")) for n in names),
             MONITOR_TIMEOUT, what="the next CSR of every name")
    for name in names:
        assert os.listdir(os.path.join(httpd.store, "keys", name)), name
    assert httpd.running()
