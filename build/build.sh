#!/bin/sh
# Configures (once) and builds mod_acme in the source tree.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    echo "==> autoreconf"
    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
    echo "==> configure"
    ./configure --quiet
fi
echo "==> make"
make -s -j"$(nproc)"
