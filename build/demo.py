"""mod_acme in a few seconds: Pebble (a local ACME CA) issues a certificate for
demo.test to an httpd that has nothing but "AcmeDomain" in its vhost.

Run through build/demo.sh (which installs and builds first), or directly:
    /usr/bin/python3 build/demo.py        (ACME_BUILD_DIR: where mod_acme was built)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402

NAME = "demo.test"
TIMEOUT = 60


def say(msg):
    print("==> " + msg, flush=True)


def on_signal(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    harness.require_build()
    work = harness.make_tree("acme-demo-")
    dns = pebble = httpd = None
    ok = False
    try:
        dns = harness.ChallTestSrv(work)
        say("starting pebble-challtestsrv (test DNS: every name is 127.0.0.1) on 127.0.0.1:%d"
            % dns.dns_port)
        dns.start()
        pebble = harness.Pebble(work, dns.dns_port, harness.free_port(), harness.free_port())
        say("starting Pebble (ACME test CA) on 127.0.0.1:%d" % pebble.port)
        pebble.start()
        httpd = harness.Httpd(pebble=pebble, prefix="acme-demo-httpd-")
        with open(os.path.join(httpd.docroot, "index.html"), "w") as f:
            f.write("Hello from %s, served over HTTPS with a certificate mod_acme obtained.\n" % NAME)
        httpd.write_config(vhosts=harness.ssl_vhost(NAME))
        say("httpd config %s: <VirtualHost *:%d> ServerName %s, SSLEngine on, AcmeDomain"
            % (httpd.conf_path, httpd.https_port, NAME))
        rc, out = httpd.configtest()
        if rc != 0:
            raise harness.HarnessError("configtest failed:\n" + out)
        say("starting httpd with mod_acme (%s) on 127.0.0.1:%d (http) and :%d (https)"
            % (harness.module_path(), httpd.http_port, httpd.https_port))
        t0 = time.monotonic()
        httpd.start()
        say("waiting for %s to serve a certificate issued by Pebble (up to %ds)" % (NAME, TIMEOUT))
        cert = httpd.wait_for_pebble_cert(NAME, TIMEOUT)
        say("certificate served after %.1f s, no manual restart" % (time.monotonic() - t0))

        url = "https://%s:%d/" % (NAME, httpd.https_port)
        cmd = ["curl", "-sS", "--fail", "--cacert", pebble.root_pem,
               "--resolve", "%s:%d:127.0.0.1" % (NAME, httpd.https_port), url]
        say("verifying with curl: " + " ".join(cmd))
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=20, env=harness.clean_env())
        if proc.returncode != 0:
            raise harness.HarnessError("curl failed (%d): %s" % (proc.returncode, proc.stderr))
        print("    curl verified the chain against Pebble's root and got: %s" % proc.stdout.strip())
        print("    subject:  %s" % cert.subject.rfc4514_string())
        print("    names:    %s" % ", ".join(sorted(harness.cert_names(cert))))
        print("    issuer:   %s" % cert.issuer.rfc4514_string())
        print("    valid:    %s .. %s UTC" % (cert.not_valid_before, cert.not_valid_after))
        print("    serial:   %s" % harness.cert_serial_hex(cert))

        say("status page http://127.0.0.1:%d/acme-status (JSON)" % httpd.http_port)
        try:
            print(json.dumps(httpd.status(), indent=2))
        except AssertionError as exc:
            print("    (status page unavailable: %s)" % exc)
        ok = True
    except KeyboardInterrupt:
        say("interrupted")
    except (harness.HarnessError, AssertionError, TimeoutError, OSError,
            subprocess.SubprocessError) as exc:
        say("FAILED: %s" % exc)
        if httpd is not None:
            print(httpd.diagnostics(40))
        if pebble is not None:
            print("---- pebble log (last 20 lines)\n" + harness.tail(pebble.log_path, 20))
    finally:
        say("stopping everything the demo started")
        if httpd is not None:
            httpd.cleanup()
        if pebble is not None:
            pebble.stop()
        if dns is not None:
            dns.stop()
        shutil.rmtree(work, ignore_errors=True)
    say("demo %s" % ("succeeded" if ok else "failed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
