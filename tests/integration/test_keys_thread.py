"""Certificate keys made on a thread of their own at post_config, while
mod_ssl sets up the vhosts: a start whose mod_ssl set-up fails after that
thread began still waits for it before the process ends, so every key it
started is whole, with its CSR. (Early serving with the keys that thread
made: test_activation_hot.py.)"""
import os
import re
import signal

from harness import ssl_vhost, wait_for
from test_migration import static_cert

NEW_NAMES = 150
EXIT_TIMEOUT = 60


def test_failed_restart_waits_for_the_keys_thread(httpd, unique):
    first = unique("keysthread")
    httpd.write_config(vhosts=ssl_vhost(first))
    httpd.start()
    pid = httpd.pid()
    news = [unique("keysnew%d" % i) for i in range(NEW_NAMES)]
    # mod_ssl sets up the vhosts last to first: the refused cipher list of
    # the last vhost fails its post_config at once, while the keys of the
    # new names are still being made. That vhost has a certificate of its
    # own and no AcmeDomain: on a vhost mod_acme serves, the check before
    # (ACME01610) refuses the list before any key is made
    bad_name = unique("keysbad")
    cert, key, _ = static_cert(httpd, bad_name)
    bad = ssl_vhost(bad_name, acme_domain="", extra="SSLCertificateFile %s\n"
                    "SSLCertificateKeyFile %s\nSSLCipherSuite NOSUCHCIPHER" % (cert, key))
    httpd.write_config(vhosts=ssl_vhost(first) + "".join(ssl_vhost(n) for n in news) + bad)
    os.kill(pid, signal.SIGUSR1)   # not apachectl: it would run configtest first
    wait_for(lambda: not httpd.running(), EXIT_TIMEOUT, what="httpd to exit on mod_ssl's failure")
    log = httpd.error_log_text()
    assert "AH02311" in log or "AH02312" in log or "AH01898" in log, httpd.diagnostics()
    # the thread's own line about them reached the error log: the log was
    # still open (httpd closes it before the configuration pool at exit)
    said = re.findall(r"ACME00635: (\d+) certificate key\(s\) generated", log)
    assert said and int(said[-1]) >= NEW_NAMES, httpd.diagnostics()
    made = [n for n in news if os.path.exists(os.path.join(httpd.store, "csr", n + ".json"))]
    assert len(made) == NEW_NAMES, (len(made), httpd.diagnostics())
    for name in news:
        assert os.listdir(os.path.join(httpd.store, "keys", name)), name

