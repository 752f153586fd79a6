"""No CA validation while httpd restarts by itself. During the reload that
follows a passing configuration test no child accepts connections (seconds at
a thousand vhosts, tens of seconds at ten thousand), so a CA's http-01 or
tls-alpn-01 request would wait in the listen backlog, and may fail. The old
children keep serving during the test itself; holding from the test on is a
precaution. The issuing child therefore asks the CA to validate nothing from
the test until the next generation runs (ACME01290), nor fetches an
authorization meanwhile, and goes on in the next generation, or at once when
the test fails and no restart comes."""
import os
import re
import signal
import threading
import time

from harness import ssl_vhost, staged_check_pids, wait_for

from test_privsep import logged

ISSUE_TIMEOUT = 120
STOP_AT_MOST = 12          # under the configuration test's own timeout (15 s)

LOG_TIME = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d)\.(\d+) (\d{4})\]")


def log_time(line):
    m = LOG_TIME.match(line)
    assert m, line
    return time.mktime(time.strptime(m.group(1) + " " + m.group(3),
                                     "%a %b %d %H:%M:%S %Y")) + int(m.group(2)) / 1e6


class ConfigtestStopper:
    """Stops (SIGSTOP) the first configuration test with the staged check of
    this server (its command line has ACME_STAGED_CHECK, -t and the server
    root), looking at /proc every few ms: the restart it precedes then waits."""

    def __init__(self, serverroot):
        self.serverroot = serverroot
        self.pid = None
        self.stopped = threading.Event()
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._quit.is_set() and self.pid is None:
            for pid in staged_check_pids(self.serverroot):
                try:
                    os.kill(pid, signal.SIGSTOP)
                except OSError:
                    continue
                self.pid = pid
                self.stopped.set()
                return
            self._quit.wait(0.003)

    def resume(self):
        self._quit.set()
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except OSError:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.resume()
        self._thread.join(5)


def test_no_challenge_is_answered_while_httpd_restarts_by_itself(httpd, plain_proxy, unique):
    """Two names, new orders one per 15 s: the first certificate's restart
    comes (after its 10 s wait for the batch) while the second name waits
    for its turn, and its configuration test is stopped until the second
    name's order has reached its challenge. That challenge waits for the
    restart and is answered to the CA only once the next generation runs.
    Both names go live, with one order each."""
    first, second = unique("hold-a"), unique("hold-b")
    httpd.write_config(vhosts=ssl_vhost(first) + ssl_vhost(second),
                       acme={"AcmeCA": plain_proxy.directory_url,
                             "AcmeMaxParallel": "1 1/15s"})
    with ConfigtestStopper(httpd.serverroot) as stopper:
        httpd.start()
        wait_for(stopper.stopped.is_set, ISSUE_TIMEOUT, interval=0.05,
                 what="the configuration test before the first automatic restart")
        stopped_at = time.time()
        held = wait_for(lambda: logged(httpd, "ACME01290"), STOP_AT_MOST, interval=0.05,
                        what="a challenge held back for the restart")
        assert time.time() - stopped_at < STOP_AT_MOST
        time.sleep(1)           # a second look at the hold, still during the test
        stopper.resume()
    for name in (first, second):
        httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)

    held_name = first if first in held[0] else second
    assert held_name in held[0] and "http-01" in held[0], held
    begun = log_time(logged(httpd, "ACME00778")[0])
    generations = [log_time(l) for l in logged(httpd, "resuming normal operations")]
    done = [t for t in generations if t > begun]
    assert done, generations
    responds = [r for r in plain_proxy.recorded("POST", r"^/chalZ/") if r.payload == {}]
    assert len(responds) == 2, responds
    inside = [r for r in responds if begun <= r.arrived <= done[0]]
    assert not inside, "challenges answered during the restart (%.3f..%.3f): %s" % (
        begun, done[0], inside)
    assert max(r.arrived for r in responds) > done[0], responds
    # held before the step's first CA request: no authorization fetched
    fetches = [r for r in plain_proxy.recorded("POST", r"^/authZ/")
               if begun <= r.arrived <= done[0]]
    assert not fetches, "authorizations fetched during the hold (%.3f..%.3f): %s" % (
        begun, done[0], fetches)
    assert len(plain_proxy.new_orders()) == 2, plain_proxy.new_orders()
    assert httpd.running()


def test_a_failed_configuration_test_ends_the_hold(httpd, plain_proxy, unique):
    """As above, but the configuration test is killed while stopped (a
    test ended by a signal fails, ACME00717): no restart comes, the hold
    ends with the test, and the held order asks the CA to validate within
    about 2 s (it looks at the hold every second)."""
    first, second = unique("fail-a"), unique("fail-b")
    httpd.write_config(vhosts=ssl_vhost(first) + ssl_vhost(second),
                       acme={"AcmeCA": plain_proxy.directory_url,
                             "AcmeMaxParallel": "1 1/15s"})
    with ConfigtestStopper(httpd.serverroot) as stopper:
        httpd.start()
        wait_for(stopper.stopped.is_set, ISSUE_TIMEOUT, interval=0.05,
                 what="the configuration test before the first automatic restart")
        wait_for(lambda: logged(httpd, "ACME01290"), STOP_AT_MOST, interval=0.05,
                 what="a challenge held back for the restart")
        os.kill(stopper.pid, signal.SIGKILL)
        failed = wait_for(lambda: logged(httpd, "ACME00717"), 10, interval=0.05,
                          what="the failed configuration test")
    ended = log_time(failed[0])
    begun = log_time(logged(httpd, "ACME00778")[0])

    def after():
        return [r for r in plain_proxy.recorded("POST", r"^/chalZ/")
                if r.payload == {} and r.arrived >= begun]
    responds = wait_for(after, 10, interval=0.05, what="the held challenge answered")
    assert ended <= responds[0].arrived < ended + 2.5, (ended, responds)
    assert httpd.running()
