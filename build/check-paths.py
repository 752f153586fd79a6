#!/usr/bin/env python3
"""Reports store paths spelled by hand outside the store layout's own file.

The rule.  The store layout is named once, in store/acme_store_paths.h (its
folders as ACME_STORE_* constants, its paths as acme_store_rel_*()), and
built in store/acme_store_paths.c.  Anywhere else a path in the store comes
from those functions and constants, so moving or renaming an entry is one
change that reaches every reader and writer.  A string literal (adjacent
literals joined) that is a path starting with one of the layout's top-level
folders, `jobs/`, `status/%s.json`, fails; a message that names a folder
in a sentence ("jobs/ changed") has a space in it and passes.

Exit status 1 on any violation, one line each, with the fix.

Usage: check-paths.py [--quiet] [ROOT]   (ROOT: mod_acme)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from csource import checker_args, read, report, sources, string_literals

LAYOUT_H = os.path.join('core', 'store', 'acme_store_paths.h')
LAYOUT_C = os.path.join('core', 'store', 'acme_store_paths.c')
FOLDER = re.compile(r'^#define\s+(ACME_STORE_\w+)\s+"([A-Za-z][\w-]*)"\s*$', re.M)


def layout_folders(root):
    """{folder: constant} of the layout header's top-level names without a dot."""
    return {name: const for const, name in FOLDER.findall(read(os.path.join(root, LAYOUT_H)))}


def problems_in(root):
    folders = layout_folders(root)
    if not folders:
        return ['%s: no top-level folder found (#define ACME_STORE_X "name"); check-paths.py '
                'reads them from there' % LAYOUT_H]
    path_literal = re.compile(r'^(%s)/\S*$' % '|'.join(re.escape(f) for f in sorted(folders)))
    base = os.path.dirname(root)
    problems = []
    for path in sources(root):
        if os.path.relpath(path, root) == LAYOUT_C:
            continue
        for line, value in string_literals(read(path)):
            m = path_literal.match(value)
            if not m:
                continue
            problems.append(
                '%s:%d: "%s" spells a store path by hand; the rule: the store layout is named once, '
                'in store/acme_store_paths.h, and built only in acme_store_paths.c. Fix: use its '
                'acme_store_rel_*() function for the entry (acme_store_rel_job(), '
                'acme_store_rel_status(), ...) or %s, adding a function there if none fits'
                % (os.path.relpath(path, base), line, value, folders[m.group(1)]))
    return problems


def main():
    args, top = checker_args(__doc__, 'paths-known.txt')
    root = os.path.abspath(args.root)
    return report('check-paths', problems_in(root),
                  'check-paths: no store path spelled outside %s' % LAYOUT_C, args.quiet)


if __name__ == '__main__':
    sys.exit(main())
