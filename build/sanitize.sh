#!/bin/sh
# Builds mod_acme.so and acmectl with AddressSanitizer and UndefinedBehavior-
# Sanitizer (gcc) into build-asan/ (or $ACME_ASAN_DIR), for
# `build/test.sh --sanitize`: the integration harness sees the sanitized build
# (ACME_BUILD_DIR) and preloads the ASan runtime into httpd.
# The sources are copied there (only what git tracks or would track):
# automake refuses a second, out-of-tree build of a tree configured in place,
# which build/build.sh does. Prints the build directory last.
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
OUT=${ACME_ASAN_DIR:-$SRC/build-asan}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
mkdir -p "$OUT"
echo "==> sources to $OUT"
git ls-files -co --exclude-standard | grep -v '^build-asan/' | tar -cf - -T - | (cd "$OUT" && tar -xf -)
cd "$OUT"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    echo "==> autoreconf"
    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
    echo "==> configure (ASan+UBSan)"
    ./configure --quiet CC=gcc CFLAGS="-g -O1 $SAN" LDFLAGS="$SAN"
fi
echo "==> make (ASan+UBSan)"
make -s -j"$(nproc)" >/dev/null
echo "$OUT"
