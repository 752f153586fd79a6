#!/bin/sh
# Demo: installs what is missing, builds mod_acme, then lets a local ACME CA
# (Pebble) issue a certificate for demo.test to an httpd that only says
# "AcmeDomain". Everything runs on 127.0.0.1 in a temporary directory; the
# site stays up (it prints how to open it) until "build/demo.sh stop".
# "build/demo.sh --once" stops everything at the end. Exits 0 on success.
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = stop ]; then
    exec /usr/bin/python3 build/demo.py stop
fi
build/deps.sh
build/build.sh
ACME_BUILD_DIR="${ACME_BUILD_DIR:-$(pwd)}" exec /usr/bin/python3 build/demo.py "$@"
