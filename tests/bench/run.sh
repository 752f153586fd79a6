#!/bin/sh
# Side-by-side benchmark of mod_acme and mod_md on a local Pebble; see tests/bench/README.md
# (usage, columns, options); the figures are in README.md and docs/benchmarks.md.
# ACME_BUILD_DIR names the build directory holding .libs/mod_acme.so [repository root].
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
export ACME_BUILD_DIR="${ACME_BUILD_DIR:-$(cd "$here/../.." && pwd)}"
exec /usr/bin/python3 "$here/bench.py" "$@"
