"""The issuance handover across an automatic graceful restart.

With orders still moving when mod_acme restarts httpd to make a batch live,
the child that was issuing keeps its orders moving while the parent sets up
the next generation (ACME00775), and stops when the next generation's
issuance starts (ACME00776), which begins only once it let go: no name is
found locked (ACME00406), no order is made twice, every certificate arrives.
The parent's set-up is held long on purpose (SIGSTOP, as a parent busy with
thousands of vhosts would be) so the handover has time to work. If the
parent dies during a handover, the old child stops issuing and exits within
seconds instead of issuing for a server that is gone."""
import os
import re
import signal
import time

import pytest

from harness import ssl_vhost, wait_for

NAMES = 24
MAX_PARALLEL = 2
DELAY = 0.15        # seconds the proxy adds to every CA answer: orders take ~1 s


@pytest.fixture
def slow_ca(proxy):
    proxy.delay = DELAY
    return proxy


def start(httpd, proxy, names):
    httpd.write_config(vhosts="".join(ssl_vhost(n) for n in names),
                       acme={"AcmeCA": proxy.directory_url,
                             "AcmeMaxParallel": str(MAX_PARALLEL)})
    httpd.start()


def restart_begun(httpd, timeout=90):
    """Waits for the parent's "Doing graceful restart" (AH00493), every 5 ms:
    the parent is then setting up the next generation (it told the children
    to stop right after that line)."""
    wait_for(lambda: "AH00493" in httpd.error_log_text(), timeout, interval=0.005,
             what="an automatic restart (AH00493)")


def handover_begun(httpd, timeout=90):
    """The pid of the child that began a handover (ACME00775)."""
    found = {}

    def begun():
        m = re.search(r"ACME00775: child (\d+) keeps", httpd.error_log_text())
        if m:
            found["pid"] = int(m.group(1))
        return bool(found)
    wait_for(begun, timeout, interval=0.02, what="a handover (ACME00775)")
    return found["pid"]


def progress_of(text, pid):
    """Lines of the issuing child pid that show an order moving."""
    return [line for line in text.splitlines()
            if "[pid %d:" % pid in line and re.search(r"ACME004(0[0-9]|1[0-9])", line)]


def test_orders_keep_moving_while_the_next_generation_is_set_up(httpd, slow_ca, unique):
    names = [unique("hand%d" % i) for i in range(NAMES)]
    start(httpd, slow_ca, names)
    parent = httpd.pid()
    restart_begun(httpd)
    os.kill(parent, signal.SIGSTOP)          # the parent's set-up takes long
    try:
        old = handover_begun(httpd, timeout=10)
        before = len(progress_of(httpd.error_log_text(), old))
        time.sleep(3.0)
        during = progress_of(httpd.error_log_text(), old)
    finally:
        os.kill(parent, signal.SIGCONT)
    assert len(during) > before, \
        "the old child moved no order while the parent was busy (%d lines before, %d after)" \
        % (before, len(during))

    wait_for(lambda: all(httpd.verified_cert(n) for n in names), 180, interval=0.5,
             what="all %d certificates served" % NAMES)
    log = httpd.error_log_text()
    print("\n".join(l for l in log.splitlines()
                    if re.search(r"ACME0077[456]|ACME01289|AH0049[13]|AH00489", l)))
    ended = re.search(r"ACME00776: child %d stopped issuing after (\d+) run\(s\) in \d+ ms of "
                      r"handover: (.*)" % old, log)
    assert ended, "no ACME00776 for child %d" % old
    assert int(ended.group(1)) >= 1, ended.group(0)
    assert "next generation's issuance started" in ended.group(2), ended.group(0)
    assert "ACME00406" not in log, "a name was found locked by the other child"
    orders = [r for r in slow_ca.recorded("POST") if r.path == "/order-plz" and r.status == 201]
    assert len(orders) == NAMES, "%d orders for %d names" % (len(orders), NAMES)


def test_the_old_child_stops_when_the_parent_dies(httpd, slow_ca, unique):
    names = [unique("orph%d" % i) for i in range(NAMES)]
    start(httpd, slow_ca, names)
    parent = httpd.pid()
    restart_begun(httpd)
    os.kill(parent, signal.SIGSTOP)
    old = handover_begun(httpd, timeout=10)
    os.kill(parent, signal.SIGKILL)

    def gone():
        try:
            os.kill(old, 0)
        except ProcessLookupError:
            return True
        # a zombie (reparented to init, not reaped yet) is gone as well
        try:
            with open("/proc/%d/stat" % old) as f:
                return f.read().split(")")[-1].split()[0] == "Z"
        except OSError:
            return True
    wait_for(gone, 10, interval=0.1, what="the old child %d to exit" % old)
    assert re.search(r"ACME00776: child %d stopped issuing .*: httpd stops" % old,
                     httpd.error_log_text()), "no ACME00776 saying httpd stops"
