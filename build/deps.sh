#!/bin/sh
# Installs the Debian packages mod_acme needs to build, test and demo.
# Only packages that are missing are installed. The Go packages are the source
# of step-ca, the second ACME CA of the integration tests (build/stepca.sh);
# faketime (libfaketime) moves httpd's clock in tests/integration/test_clock_jumps.py
# and test_dns01.py; strace counts the opens of test_custody.py's configtest;
# chromium renders the status page (test_status_page.py), python3-jsonschema
# checks its JSON; debhelper, dpkg-dev, fakeroot and lintian build and check
# the Debian package (build/package.sh). This is the whole test toolchain.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config apache2 apache2-dev
      libapr1-dev libaprutil1-dev libssl-dev libjansson-dev libcurl4-openssl-dev
      libcmocka-dev libhiredis-dev redis-server clang valgrind pebble wrk curl openssl python3
      python3-pytest python3-cryptography python3-requests python3-pytest-xdist python3-prometheus-client iproute2 faketime strace
      golang-go golang-github-smallstep-certificates-dev golang-github-smallstep-cli-dev
      chromium python3-jsonschema debhelper dpkg-dev fakeroot lintian"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "==> installing:$missing"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "==> dependencies present"
