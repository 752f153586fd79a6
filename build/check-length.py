#!/usr/bin/env python3
"""Reports source files of more than 800 lines.

The rule.  A file under mod_acme/ (.c, .h), a checker or tool in build/
(*.py) and a unit test in tests/unit/ (*.c) stays at 800 lines or fewer, so
one concept fits one file a reader can hold.  A file that grows past it is
split by concept (a family: acme_store.h with acme_store_io.c,
acme_store_paths.c, ...; a test file per part of what it tests).

Exceptions are listed in LONG_FILES below, each with its reason; mod_acme/
has none and takes none.

Usage: check-length.py [--quiet] [TOP]   (TOP: the checkout holding build/)
"""
import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from csource import report  # noqa: E402

LIMIT = 800
PATTERNS = ('mod_acme/**/*.c', 'mod_acme/**/*.h', 'build/*.py', 'tests/unit/*.c')
# path relative to TOP -> why it may be longer (never under mod_acme/).
LONG_FILES = {
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('top', nargs='?', default=os.path.dirname(here))
    ap.add_argument('--quiet', action='store_true', help='print only what fails')
    args = ap.parse_args()
    top = os.path.abspath(args.top)
    problems, count = [], 0
    for rel in sorted(LONG_FILES):
        if rel.startswith('mod_acme/'):
            problems.append('build/check-length.py: LONG_FILES lists %s; the rule: no exception '
                            'under mod_acme/. Fix: split the file and remove the entry' % rel)
    for pattern in PATTERNS:
        for path in sorted(glob.glob(os.path.join(top, pattern), recursive=True)):
            rel = os.path.relpath(path, top)
            count += 1
            with open(path, encoding='utf-8', errors='replace') as f:
                lines = sum(1 for _ in f)
            if lines <= LIMIT or (rel in LONG_FILES and not rel.startswith('mod_acme/')):
                continue
            problems.append('%s: %d lines, over the limit of %d; the rule: one concept per file, '
                            'a reader holds it whole. Fix: split it by concept (a family of files '
                            'under one header, as acme_store_*.c or acme_job_*.c do; a test file '
                            'per part), not by cutting at line %d'
                            % (rel, lines, LIMIT, LIMIT))
    return report('check-length', problems,
                  'check-length: %d files, none over %d lines' % (count, LIMIT), args.quiet)


if __name__ == '__main__':
    sys.exit(main())
