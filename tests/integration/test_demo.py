"""build/demo.py as README describes it: Pebble issues a certificate for
demo.test, the JSON it prints is consistent (a valid certificate is not
"staged"), the site stays up afterwards and "stop" takes everything down."""
import json
import os
import re
import subprocess
import sys

from harness import clean_env, port_open

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "demo.py")


def demo(*args, state, timeout=180):
    env = clean_env({"ACME_DEMO_STATE": state, "ACME_BUILD_DIR": os.environ.get(
        "ACME_BUILD_DIR", os.getcwd())})
    return subprocess.run([sys.executable, DEMO] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_demo_leaves_a_live_site_until_stopped(tmp_path):
    state_file = str(tmp_path / "demo.json")
    p = demo(state=state_file)
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
                           env=clean_env())
        assert r.returncode == 0 and "Hello from demo.test" in r.stdout, r.stderr
        assert port_open(state["http_port"]) and port_open(state["https_port"])
    finally:
        s = demo("stop", state=state_file, timeout=60)
    assert s.returncode == 0 and "stopped" in s.stdout, s.stdout + s.stderr
    assert not os.path.exists(state_file)
    assert not port_open(state["https_port"]) and not port_open(state["http_port"])
    assert not os.path.exists(state["work"]) and not os.path.exists(state["serverroot"])
    for pid in (state["pebble_pid"], state["dns_pid"]):
        assert not os.path.exists("/proc/%d" % pid) or b"pebble" not in open(
            "/proc/%d/cmdline" % pid, "rb").read(), pid
    s = demo("stop", state=state_file, timeout=60)
    assert s.returncode == 1 and "no demo is running" in s.stdout, s.stdout
