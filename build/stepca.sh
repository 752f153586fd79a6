#!/bin/sh
# Builds smallstep's step-ca server from Debian's Go source packages, offline
# (GOPATH mode, nothing downloaded), for the integration tests that use it as a
# second ACME CA next to Pebble (tests/integration/test_stepca.py).
#
# Debian ships the CA as a library (golang-github-smallstep-certificates-dev)
# without its cmd/step-ca; build/stepca/main.go is that command. The binary is
# cached under $STEPCA_CACHE (default /var/tmp/mod_acme-stepca), keyed by the
# versions of the Go packages and main.go: a second run builds nothing.
# Prints the binary's path as its last line.
set -eu
cd "$(dirname "$0")/.."
src="$PWD/build/stepca/main.go"
cache="${STEPCA_CACHE:-/var/tmp/mod_acme-stepca}"
command -v go >/dev/null 2>&1 || { echo "stepca.sh: go not found (build/deps.sh installs golang-go)" >&2; exit 1; }
[ -d /usr/share/gocode/src/github.com/smallstep/certificates ] || {
    echo "stepca.sh: /usr/share/gocode has no smallstep/certificates (build/deps.sh installs golang-github-smallstep-certificates-dev)" >&2
    exit 1; }
key=$( { dpkg-query -W -f='${Package} ${Version}\n' golang-go golang-github-smallstep-certificates-dev \
             golang-github-smallstep-cli-dev 2>/dev/null; go version; cat "$src"; } | sha256sum | cut -c1-16)
bin="$cache/$key/step-ca"
if [ ! -x "$bin" ]; then
    echo "==> building step-ca into $cache/$key" >&2
    work="$cache/$key.tmp.$$"
    rm -rf "$work"
    mkdir -p "$work/gopath/src/mod_acme/stepca"
    cp "$src" "$work/gopath/src/mod_acme/stepca/main.go"
    start=$(date +%s)
    ( cd "$work/gopath/src/mod_acme/stepca" &&
      GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$cache/gocache" \
      GOFLAGS= GOPROXY=off CGO_ENABLED=0 \
      go build -o "$work/step-ca" . ) >&2
    mkdir -p "$cache/$key"
    mv "$work/step-ca" "$bin"
    rm -rf "$work"
    echo "==> step-ca built in $(( $(date +%s) - start )) s" >&2
    # binaries of older package versions or an older main.go
    for d in "$cache"/*; do
        case "${d##*/}" in "$key"|gocache|*.tmp.*) ;; *) rm -rf "$d" ;; esac
    done
fi
echo "$bin"
