#!/bin/sh
# Installs what is missing, builds, runs the C unit tests (also under valgrind
# memcheck) and the integration tests (real Pebble + real httpd on loopback),
# then a chosen part of the integration tests again against an ASan+UBSan
# build of mod_acme.so and acmectl (build/sanitize.sh), where any sanitizer
# report (a report file, or a sanitizer line in an error log or a command's
# output) fails the test that caused it. Exits non-zero on any failure.
#   build/test.sh --sanitize [pytest args]: only the sanitized integration
#   run, of the whole suite (the full sanitized run, one command).
#   ACME_VALGRIND=0: without the valgrind run.
#   ACME_SANITIZE=subset (the default): the tests of SANITIZE_SUBSET below,
#   those that feed the parsers hostile or broken input and drive the error
#   paths, run against the sanitized build instead of the plain one (the same
#   sources; the plain run leaves those files out), so CI pays for the
#   instrumented build and the slower instrumented tests only. The whole
#   suite sanitized takes about twice the plain run, more than CI's budget
#   allows: ACME_SANITIZE=full runs it after the plain run. ACME_SANITIZE=0 or
#   off: no sanitized run, and the plain run takes every file.
#   ACME_SANITIZE_JOBS: its pytest workers (default 6: the instrumented run
#   waits on Pebble and httpd as the plain one does, so more workers keep its
#   time near the plain run's; harness.deadline_factor widens the waits).
set -eu
cd "$(dirname "$0")/.."
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then
    sanitize=1
    shift
fi
build/deps.sh
# The sanitized part of CI: a malicious CA, hard faults, crashes, the
# privilege boundary and what the User plants, secrets, the status page, the
# challenge answers and an unreachable CA (the untrusted input of every
# parser and the error paths), plus the RFC variants of the CA's answers
# and the clock jumps (libfaketime preloaded after the ASan runtime).
# About 28% of the whole suite's sanitized test time (measured: 3,556 s of
# test time, 11 min with 6 workers at load 20-27); the CA
# behaviours and personalities, renewal, dns-01 and the rest run sanitized
# in the full run only.
SANITIZE_SUBSET="test_malicious_ca.py test_faults.py test_crash.py test_privsep.py
    test_custody.py test_staging_limits.py test_secrets.py test_status_page.py
    test_challenge.py test_challenge_tls.py test_unreachable_ca.py test_rfc_variants.py
    test_clock_jumps.py test_keys_thread.py"
sanitized_run() {
    echo "==> ASan+UBSan build"
    asan_dir=$(build/sanitize.sh | tail -1)
    build/stepca.sh
    echo "==> integration tests (ASan+UBSan build in $asan_dir)"
    ACME_BUILD_DIR=$asan_dir /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        -n "${ACME_SANITIZE_JOBS:-6}" "$@"
}
if [ "$sanitize" = 1 ]; then
    sanitized_run tests/integration "$@"
    echo "==> all tests passed (ASan+UBSan)"
    exit 0
fi
build/build.sh
echo "==> unit tests"
make -s -j"$(nproc)" check || { cat tests/unit/*.log 2>/dev/null | tail -50; exit 1; }
echo "==> fuzz smoke (make fuzz; tests/fuzz/run.sh: 5 s per target)"
make -s fuzz >/dev/null
tests/fuzz/run.sh 5
# dpkg-buildpackage builds mod_acme once more (about 211 s of CPU) and runs
# lintian; ACME_FULL_PACKAGE=0 checks a "make install" into a throw-away root
# instead (the same files, no .deb). It builds from its own copy of the
# sources and needs nothing of the steps below, so it runs in the background
# while step-ca and the benchmark smokes (which mostly wait on httpd, Pebble
# and Redis, and whose figures nothing judges) run; its output follows them.
echo "==> Debian package in the background (dpkg-buildpackage and lintian; ACME_FULL_PACKAGE=0: make install checks only)"
pkg_out=$(mktemp /tmp/mod-acme-pkgout.XXXXXX)
pkg_full=--full
[ "${ACME_FULL_PACKAGE:-1}" != 0 ] || pkg_full=
# shellcheck disable=SC2086 # empty or one word
build/package.sh $pkg_full >"$pkg_out" 2>&1 &
pkg_pid=$!
# a step below that fails ends the run: the package job with it
trap '[ -z "$pkg_pid" ] || kill "$pkg_pid" 2>/dev/null || :' EXIT
echo "==> step-ca (second ACME CA of the integration tests)"
build/stepca.sh
echo "==> benchmark option checks (tests/bench/test_bench_args.py: refused before anything starts)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/bench/test_bench_args.py
echo "==> benchmark smoke (tests/bench/run at 100 domains, one run)"
tests/bench/run --n 100 --runs 1 --md "" --wrk-seconds 1
echo "==> cluster benchmark smoke (tests/bench/run-cluster: 3 nodes, 2 domains, about 35 s)"
tests/bench/run-cluster --n 2 --setups cluster --idle 2
echo "==> Debian package (its output)"
pkg_rc=0
wait "$pkg_pid" || pkg_rc=$?
pkg_pid=
cat "$pkg_out"
rm -f "$pkg_out"
[ "$pkg_rc" = 0 ] || { echo "the Debian package checks failed (exit $pkg_rc)"; exit 1; }
echo "==> integration tests"
# The tests mostly wait on Pebble and httpd, so several run at once (each pytest
# worker has its own Pebble, challtestsrv and port block); ACME_TEST_JOBS=1 runs
# them one after the other.
mode=${ACME_SANITIZE:-subset}
case "$mode" in
0|off|full|1) plain_skip= ;;
*) plain_skip=$(for f in $SANITIZE_SUBSET; do echo "--ignore=tests/integration/$f"; done) ;;
esac
[ -z "$plain_skip" ] || echo "    (the files of SANITIZE_SUBSET run against the ASan+UBSan build below)"
# shellcheck disable=SC2086 # the paths have no blanks
# --durations: the 20 slowest tests, to keep the whole run inside CI's budget.
/usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=20 -n "${ACME_TEST_JOBS:-4}" --dist loadfile \
    tests/integration $plain_skip "$@"
if [ "${ACME_VALGRIND:-1}" != 0 ]; then
    echo "==> unit tests under valgrind memcheck (make check-valgrind, one program per CPU)"
    make -s check-valgrind
fi
case "$mode" in
0|off)
    echo "==> ASan+UBSan integration run left out (ACME_SANITIZE=$mode)"
    ;;
full|1)
    sanitized_run tests/integration "$@"
    ;;
*)
    echo "==> ASan+UBSan: the hostile-input, fault, crash, privilege, secrets, status,"
    echo "    challenge, unreachable-CA, RFC-variant and clock-jump tests; the whole suite"
    echo "    sanitized: build/test.sh --sanitize (or ACME_SANITIZE=full build/test.sh)"
    subset=$(for f in $SANITIZE_SUBSET; do echo "tests/integration/$f"; done)
    # shellcheck disable=SC2086 # the paths have no blanks
    sanitized_run $subset "$@"
    ;;
esac
echo "==> all tests passed"
