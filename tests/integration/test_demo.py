"""build/demo.py as README describes it: Pebble issues a certificate for
demo.test, the JSON it prints is consistent (a valid certificate is not
"staged"), the site stays up afterwards and "stop" takes everything down;
its state is per user, so another user's demo or stop leaves it alone, and
"stop" with nothing running is no failure; a user other than root gets the
same demo, with httpd running as that user."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

from harness import acmectl_path, clean_env, make_tree, tool_env, pids_with_arg, port_open

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "demo.py")


def demo(*args, run_dir, timeout=180):
    """demo.py as a user whose XDG_RUNTIME_DIR is run_dir (where the demo
    keeps its state when ACME_DEMO_STATE is not set)."""
    env = clean_env({"XDG_RUNTIME_DIR": run_dir, "ACME_BUILD_DIR": os.environ.get(
        "ACME_BUILD_DIR", os.getcwd())})
    return subprocess.run([sys.executable, DEMO] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_demo_state_is_per_user():
    spec = importlib.util.spec_from_file_location("demo_module", DEMO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.state_path({}) == "/tmp/acme-demo-%d/state.json" % os.getuid()
    assert mod.state_path({"XDG_RUNTIME_DIR": "/run/user/1000"}) == \
        "/run/user/1000/acme-demo.json"
    assert mod.state_path({"XDG_RUNTIME_DIR": "/r", "ACME_DEMO_STATE": "/x/s.json"}) == "/x/s.json"


def test_demo_leaves_a_live_site_until_stopped(tmp_path):
    run_dir, other_user = str(tmp_path / "run"), str(tmp_path / "other")
    os.mkdir(run_dir, 0o700)
    os.mkdir(other_user, 0o700)
    state_file = os.path.join(run_dir, "acme-demo.json")
    p = demo(run_dir=run_dir)
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    try:
        assert "demo succeeded" in out and "build/demo.sh stop" in out, out
        with open(state_file) as f:
            state = json.load(f)
        # the status JSON it printed: valid, and no step of an order in progress
        doc = json.loads(out[out.index("\n{", out.index("status page")) + 1:
                             out.index("\n}\n") + 2])
        (d,) = doc["domains"]
        assert d["state"] == "valid" and d["step"] not in ("staged", "finalize"), d
        # still up: the curl line it printed works
        m = re.search(r"open it: +(curl .*)", out)
        assert m, out
        r = subprocess.run(m.group(1).split(), capture_output=True, text=True, timeout=20,
                           env=tool_env())
        assert r.returncode == 0 and "Hello from demo.test" in r.stdout, r.stderr
        assert port_open(state["http_port"]) and port_open(state["https_port"])
        # another user's demo (its own XDG_RUNTIME_DIR) neither sees nor stops this one
        o = demo("stop", run_dir=other_user, timeout=60)
        assert o.returncode == 0 and "nothing to stop" in o.stdout, o.stdout + o.stderr
        o = demo("--once", run_dir=other_user)
        assert o.returncode == 0 and "demo succeeded" in o.stdout, o.stdout + o.stderr
        assert "stopped it first" not in o.stdout and "stopping the demo" not in o.stdout, o.stdout
        assert not os.listdir(other_user), os.listdir(other_user)
        assert os.path.exists(state_file)
        assert port_open(state["http_port"]) and port_open(state["https_port"])
        r = subprocess.run(m.group(1).split(), capture_output=True, text=True, timeout=20,
                           env=tool_env())
        assert r.returncode == 0 and "Hello from demo.test" in r.stdout, r.stderr
    finally:
        s = demo("stop", run_dir=run_dir, timeout=60)
    assert s.returncode == 0 and "stopped" in s.stdout, s.stdout + s.stderr
    assert not os.path.exists(state_file)
    assert not port_open(state["https_port"]) and not port_open(state["http_port"])
    assert not os.path.exists(state["work"]) and not os.path.exists(state["serverroot"])
    for pid in (state["pebble_pid"], state["dns_pid"]):
        assert not os.path.exists("/proc/%d" % pid) or b"pebble" not in open(
            "/proc/%d/cmdline" % pid, "rb").read(), pid
    # nothing running: says so, and that is no failure
    s = demo("stop", run_dir=run_dir, timeout=60)
    assert s.returncode == 0 and "no demo of this user is running" in s.stdout \
        and "nothing to stop" in s.stdout, s.stdout + s.stderr


def as_user(uid, gid):
    """setpriv's arguments that run a command as uid:gid with no other groups."""
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"]


def test_demo_as_a_user_other_than_root():
    """An administrator trying the demo without root (build/demo.sh needs
    root only for apt-get, when something is missing): httpd runs as that
    user, the store is that user's, the site gets its certificate, and the
    acmectl line the demo prints works as printed. Run as root, the demo
    runs as nobody from a copy of the build and of the scripts it uses (the
    checkout may not be readable by nobody); run as another user, as that
    user."""
    uid, gid = (65534, 65534) if os.getuid() == 0 else (os.getuid(), os.getgid())
    prefix = as_user(uid, gid) if os.getuid() == 0 else []
    base = make_tree("it-demo-user-")
    try:
        src = os.path.join(base, "src")
        repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        build = os.environ.get("ACME_BUILD_DIR", os.getcwd())
        shutil.copytree(os.path.join(repo, "tests", "integration"),
                        os.path.join(src, "tests", "integration"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.makedirs(os.path.join(src, "build"))
        shutil.copy(os.path.join(repo, "build", "demo.py"), os.path.join(src, "build"))
        os.makedirs(os.path.join(src, ".libs"))
        shutil.copy(os.path.join(build, ".libs", "mod_acme.so"), os.path.join(src, ".libs"))
        shutil.copy(acmectl_path(), os.path.join(src, "acmectl"))
        for d, _, files in os.walk(src):
            os.chmod(d, 0o755)
        run_dir = os.path.join(base, "run")
        os.mkdir(run_dir, 0o700)
        os.chown(run_dir, uid, gid)
        env = clean_env({"XDG_RUNTIME_DIR": run_dir, "ACME_BUILD_DIR": src,
                         "PYTHONDONTWRITEBYTECODE": "1", "HOME": run_dir})
        demo_py = [sys.executable, os.path.join(src, "build", "demo.py")]
        p = subprocess.run(prefix + demo_py, capture_output=True, text=True, timeout=180,
                           env=env, cwd=run_dir)
        out = p.stdout
        try:
            assert p.returncode == 0 and "demo succeeded" in out, out + p.stderr
            with open(os.path.join(run_dir, "acme-demo.json")) as f:
                state = json.load(f)
            # httpd (parent and children) runs as the user, and the store is that user's
            pids = [pid for pid in pids_with_arg(state["serverroot"])]
            assert pids, out
            for pid in pids:
                with open("/proc/%d/status" % pid) as f:
                    uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
                assert set(uids) == {str(uid)}, (pid, uids)
            store = os.path.join(state["serverroot"], "acme")
            assert os.stat(store).st_uid == uid and os.stat(os.path.join(store, "keys")).st_uid \
                == uid
            if os.getuid() != uid:
                assert "running as uid %d" % uid in out, out
            # the acmectl line: a full path that works as printed, run by the same user
            m = re.search(r"store: +(/\S+/acmectl --store \S+ list)", out)
            assert m, out
            r = subprocess.run(prefix + m.group(1).split(), capture_output=True, text=True,
                               timeout=30, env=env)
            assert r.returncode == 0 and "demo.test" in r.stdout, r.stdout + r.stderr
            m = re.search(r"open it: +(curl .*)", out)
            r = subprocess.run(m.group(1).split(), capture_output=True, text=True, timeout=20,
                               env=tool_env())
            assert r.returncode == 0 and "Hello from demo.test" in r.stdout, r.stderr
        finally:
            s = subprocess.run(prefix + demo_py + ["stop"], capture_output=True, text=True,
                               timeout=60, env=env, cwd=run_dir)
        assert s.returncode == 0 and "stopped" in s.stdout, s.stdout + s.stderr
        assert not port_open(state["https_port"]) and not port_open(state["http_port"])
        assert not os.path.exists(state["serverroot"])
    finally:
        shutil.rmtree(base, ignore_errors=True)
