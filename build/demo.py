"""mod_acme in a few seconds: Pebble (a local ACME CA) issues a certificate for
demo.test to an httpd that has nothing but "AcmeDomain" in its vhost. The site
stays up afterwards (httpd, Pebble and its DNS on 127.0.0.1) until
"build/demo.sh stop"; with --once everything stops at the end.

Run through build/demo.sh (which installs and builds first), or directly:
    /usr/bin/python3 build/demo.py [--once | stop]   (ACME_BUILD_DIR: where mod_acme was built)
"""
import atexit
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402

NAME = "demo.test"
TIMEOUT = 60


def state_path(env=os.environ):
    """Where a demo records what it left running, for "build/demo.sh stop":
    one demo per user at a time, so a user's new demo or "stop" never touches
    another user's. $ACME_DEMO_STATE, else $XDG_RUNTIME_DIR/acme-demo.json
    (the user's own 0700 directory), else /tmp/acme-demo-UID/state.json."""
    if env.get("ACME_DEMO_STATE"):
        return env["ACME_DEMO_STATE"]
    run = env.get("XDG_RUNTIME_DIR")
    if run and os.path.isabs(run):
        return os.path.join(run, "acme-demo.json")
    return os.path.join("/tmp", "acme-demo-%d" % os.getuid(), "state.json")


STATE = state_path()


def state_dir_ready(path):
    """Makes the directory of path (0700) when missing. The default one in
    /tmp must be the user's own directory (not a link, not made by another
    user to catch the state)."""
    d = os.path.dirname(path)
    if path != os.path.join("/tmp", "acme-demo-%d" % os.getuid(), "state.json"):
        os.makedirs(d, 0o700, exist_ok=True)
        return
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise harness.HarnessError("%s is not a directory of user %d: remove it, or set "
                                   "ACME_DEMO_STATE" % (d, os.getuid()))


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "no name"


def say(msg):
    print("==> " + msg, flush=True)


def on_signal(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def is_process_of(pid, what):
    """Is pid alive and running what (not a reused pid)?"""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return what.encode() in f.read()
    except OSError:
        return False


def stop_running(quiet=False):
    """Stops what an earlier run left up (STATE); True when there was one."""
    try:
        fd = os.open(STATE, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as f:
            if os.fstat(f.fileno()).st_uid != os.getuid():
                raise ValueError("not this user's")
            state = json.load(f)
    except (OSError, ValueError):
        if not quiet:
            say("no demo of this user is running (no %s): nothing to stop" % STATE)
        return False
    say("stopping the demo: httpd (%s), Pebble and its DNS" % state["serverroot"])
    try:
        harness.run([harness.APACHE_BIN, "-d", state["serverroot"], "-f", state["conf"], "-k",
                     "stop"], timeout=30, env=harness.clean_env())
        harness.wait_for(lambda: not harness.port_open(state["https_port"])
                         and not harness.port_open(state["http_port"]), 15,
                         what="httpd to stop")
    except (TimeoutError, OSError, subprocess.SubprocessError) as exc:
        say("httpd: %s" % exc)
    # whatever of it is left (a child that did not exit)
    harness.kill_pids([p for p in harness.pids_with_arg(state["serverroot"])
                       if p != os.getpid()])
    shutil.rmtree(state["serverroot"], ignore_errors=True)
    harness.kill_pids([pid for pid, what in ((state["pebble_pid"], "pebble"),
                                             (state["dns_pid"], "challtestsrv"))
                       if is_process_of(pid, what)])
    for d in (state["work"], state["roots"]):
        shutil.rmtree(d, ignore_errors=True)
    os.remove(STATE)
    say("stopped")
    return True


def keep_running(work, dns, pebble, httpd):
    """Leaves the three running after this process exits and says how to
    reach and stop them."""
    roots = os.path.dirname(harness.roots_bundle())
    atexit.unregister(shutil.rmtree)          # the roots bundle stays for httpd
    state = {"work": work, "roots": roots, "serverroot": httpd.serverroot,
             "conf": httpd.conf_path, "pid_file": httpd.pid_file,
             "http_port": httpd.http_port, "https_port": httpd.https_port,
             "pebble_pid": pebble.proc.pid, "dns_pid": dns.proc.pid}
    state_dir_ready(STATE)
    fd = os.open(STATE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    say("the site stays up on 127.0.0.1:")
    print("    open it:      curl --cacert %s --resolve %s:%d:127.0.0.1 https://%s:%d/"
          % (pebble.root_pem, NAME, httpd.https_port, NAME, httpd.https_port))
    print("                  (a browser: map %s to 127.0.0.1 in /etc/hosts and accept "
          "Pebble's test root)" % NAME)
    print("    status page:  http://127.0.0.1:%d/acme-status" % httpd.http_port)
    print("    store:        %s --store %s list" % (os.path.abspath(harness.acmectl_path()),
                                                    httpd.store))
    print("    stop it:      build/demo.sh stop")


def main():
    signal.signal(signal.SIGTERM, on_signal)
    if sys.argv[1:] == ["stop"]:
        stop_running()
        return 0
    if sys.argv[1:] not in ([], ["--once"]):
        print("usage: build/demo.py [--once | stop]", file=sys.stderr)
        return 2
    once = sys.argv[1:] == ["--once"]
    harness.require_build()
    if os.geteuid() != 0:
        say("running as uid %d (%s), not root: httpd runs as this user (its User line has no "
            "effect), and its store, keys and logs are this user's, under /tmp"
            % (os.geteuid(), user_name(os.geteuid())))
        say("(a real server starts as root, keeps the keys root's and runs its children as "
            "User; build/demo.sh as root shows that)")
    if stop_running(quiet=True):
        say("(a demo of this user was still running: stopped it first)")
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
                              timeout=20, env=harness.tool_env())
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
        if not once:
            say("demo succeeded")
            keep_running(work, dns, pebble, httpd)
            return 0
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
        if not (ok and not once):
            stop_all(work, dns, pebble, httpd)
    say("demo %s" % ("succeeded" if ok else "failed"))
    return 0 if ok else 1


def stop_all(work, dns, pebble, httpd):
    say("stopping everything the demo started")
    if httpd is not None:
        httpd.cleanup()
    if pebble is not None:
        pebble.stop()
    if dns is not None:
        dns.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
