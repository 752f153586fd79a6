#!/bin/sh
# Line coverage of the core by the unit tests (gcov): copies the source tree
# (tracked and untracked, not ignored files) to a separate build directory,
# builds it with --coverage, runs `make check` there and prints, per folder of
# mod_acme/core, the lines executed out of the executable lines (a line counts
# once even when several objects compile it).  The source tree is not touched.
# Usage: build/coverage.sh [BUILD_DIR]   (default: build-coverage/, ignored by git)
# Also: `make coverage`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-coverage}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
rm -rf "$out"
mkdir -p "$out"
echo "==> copy the source tree to $out"
(cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --) | tar -C "$out" -xf -
cd "$out"
echo "==> configure with --coverage"
autoreconf -fi >/dev/null 2>&1
./configure --quiet CFLAGS="-O0 -g --coverage" LDFLAGS="--coverage"
echo "==> make check"
make -s -j"$(nproc)" >/dev/null
make -s check >make-check.log 2>&1 || { tail -40 make-check.log; echo "make check failed"; exit 1; }
echo "==> gcov"
python3 - "$out" <<'PY'
import json, os, subprocess, sys
out = sys.argv[1]
lines = {}                      # source path -> {line: executed?}
for top, dirs, files in os.walk(out):
    for name in files:
        if not name.endswith('.gcda'):
            continue
        res = subprocess.run(['gcov', '--json-format', '--stdout', os.path.join(top, name)],
                             cwd=out, capture_output=True, text=True)
        for doc in res.stdout.splitlines():
            if not doc.startswith('{'):
                continue
            for f in json.loads(doc).get('files', []):
                path = os.path.normpath(os.path.join(out, f['file']))
                seen = lines.setdefault(os.path.relpath(path, out), {})
                for ln in f['lines']:
                    seen[ln['line_number']] = seen.get(ln['line_number'], False) or ln['count'] > 0
folders = {}
for path, seen in lines.items():
    parts = path.split(os.sep)
    if len(parts) != 4 or parts[:2] != ['mod_acme', 'core'] or not path.endswith('.c'):
        continue
    f = folders.setdefault(parts[2], [0, 0, []])
    f[0] += sum(seen.values())
    f[1] += len(seen)
    f[2].append((parts[3], sum(seen.values()), len(seen)))
print('%-14s %8s %8s %7s' % ('folder', 'executed', 'lines', 'cover'))
for name in sorted(folders):
    hit, total, _ = folders[name]
    print('%-14s %8d %8d %6.1f%%' % ('core/' + name, hit, total, 100.0 * hit / max(total, 1)))
if os.environ.get('COVERAGE_FILES'):
    for name in sorted(folders):
        for fname, hit, total in sorted(folders[name][2]):
            print('  %-32s %5d/%-5d %6.1f%%' % (name + '/' + fname, hit, total, 100.0 * hit / max(total, 1)))
PY
