#!/bin/sh
# Installs what is missing, builds, runs the C unit tests and the integration
# tests (real Pebble + real httpd on loopback). Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
build/deps.sh
build/build.sh
echo "==> unit tests"
make -s -j"$(nproc)" check || { cat tests/unit/*.log 2>/dev/null | tail -50; exit 1; }
echo "==> step-ca (second ACME CA of the integration tests)"
build/stepca.sh
echo "==> integration tests"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
echo "==> all tests passed"
