"""bench.py refuses a bad option before it starts anything: argparse's error
(exit 2, one line naming the option), and no run directory (bench-*) made."""
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench.py")

REFUSED = [
    ("--n", "0"), ("--n", "-5"), ("--n", "abc"), ("--n", ""), ("--n", "1,,2"),
    ("--repeat", "0"), ("--repeat", "-1"),
    ("--timeout", "-1"), ("--timeout", "0"),
    ("--modules", "mod_nope"), ("--modules", "mod_acme,mod_nope"), ("--modules", ""),
]


@pytest.mark.parametrize("option,value", REFUSED)
def test_refused_before_anything_starts(tmp_path, option, value):
    # A refusal that slipped through would run in TMPDIR, with a mod_acme.so
    # that is not there: its run directory would show here.
    env = dict(os.environ, TMPDIR=str(tmp_path), ACME_BUILD_DIR=str(tmp_path / "no-build"))
    proc = subprocess.run([sys.executable, BENCH, "--n", "1", option, value],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("bench.py: error: argument %s: " % option), proc.stderr
    assert proc.stdout == ""
    assert [p for p in os.listdir(tmp_path) if p.startswith("bench-")] == []


def test_help_names_the_limits():
    proc = subprocess.run([sys.executable, BENCH, "--help"], stdout=subprocess.PIPE,
                          text=True, timeout=60)
    assert proc.returncode == 0
    assert "0 is refused" in " ".join(proc.stdout.split())


@pytest.mark.parametrize("module,given,used", [
    ("mod_md", "info acme:debug", "info"),             # httpd: "Cannot find module acme"
    ("mod_md", "acme:debug", "info"),
    ("mod_md", "warn md:debug acme:trace1", "warn md:debug"),
    ("mod_acme", "info acme:debug md:debug", "info acme:debug"),
    ("mod_acme", "debug", "debug"),
])
def test_loglevel_names_only_the_loaded_module(module, given, used):
    sys.path.insert(0, os.path.dirname(BENCH))
    try:
        import bench
    finally:
        sys.path.pop(0)
    assert bench.loglevel_for(module, given) == used


def test_filesystem_names_type_source_and_ext4_journal(tmp_path):
    """The machine record names the work directory's file system, and for
    ext4 whether it has a journal (without one, new inodes cost more)."""
    def filesystem(path):
        code = "import sys; sys.path.insert(0, %r); import bench; print(bench.filesystem(%r))" % (
            os.path.dirname(BENCH), path)
        return subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              check=True, timeout=60).stdout.strip()
    assert filesystem("/proc/self") == "proc (proc)"
    text = filesystem(str(tmp_path))
    assert text != "?"
    if text.startswith("ext4 "):
        assert text.endswith(", journal") or text.endswith(", no journal"), text
