#!/bin/sh
# Installs what is missing, builds, runs the C unit tests and the integration
# tests (real Pebble + real httpd on loopback). Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
build/deps.sh
build/build.sh
echo "==> unit tests"
make -s -j"$(nproc)" check || { cat tests/unit/*.log 2>/dev/null | tail -50; exit 1; }
echo "==> Debian package (ACME_FULL_PACKAGE=1: dpkg-buildpackage and lintian)"
if [ "${ACME_FULL_PACKAGE:-0}" = 1 ]; then build/package.sh --full; else build/package.sh; fi
echo "==> step-ca (second ACME CA of the integration tests)"
build/stepca.sh
echo "==> benchmark smoke (tests/bench/run at 100 domains, one run)"
tests/bench/run --n 100 --runs 1 --md "" --wrk-seconds 1
echo "==> integration tests"
# The tests mostly wait on Pebble and httpd, so several run at once (each pytest
# worker has its own Pebble, challtestsrv and port block); ACME_TEST_JOBS=1 runs
# them one after the other.
/usr/bin/python3 -m pytest -q -p no:cacheprovider -n "${ACME_TEST_JOBS:-4}" tests/integration "$@"
echo "==> all tests passed"
