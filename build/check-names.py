#!/usr/bin/env python3
"""Reports exported functions of mod_acme whose name does not say their file.

The rule.  An exported function is one defined at file scope without `static`
in a .c file under mod_acme/ and declared in a header under mod_acme/.  Let S
be the base name of its .c file without `.c` (acme_store_io, acmectl_cmds).
Its name must be S itself or start with `S_`, or start with `P_` where P is a
shorter leading part of S that ends at an underscore and names a header P.h in
the same folder: the family header (acme_store.h for acme_store_io.c,
acmectl.h for acmectl_cmds.c, acme_job.h for acme_job_pace.c).  So a reader
who sees acme_store_stage looks in store/acme_store.c or store/acme_store_*.c,
and acme_crypto_jws_sign is in crypto/acme_crypto.c.

Names listed in the known-names file (one `path name` a line, '#' starts a
comment) are reported but do not fail: they are being worked on.  Any other
offender fails (exit status 1), and so does a known one that is gone, so the
list shrinks with the code.

Usage: check-names.py [--known FILE] [--quiet] [ROOT]   (ROOT: mod_acme)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from csource import checker_args, code_only, definitions, known_entries, read, sources

DECLARED = re.compile(r'\b([A-Za-z_]\w*)\s*\(')


def allowed_prefixes(path):
    """S and every family header's P for the .c file at path."""
    folder = os.path.dirname(path)
    stem = os.path.basename(path)[:-2]
    prefixes = [stem]
    parts = stem.split('_')
    for n in range(len(parts) - 1, 0, -1):
        family = '_'.join(parts[:n])
        if os.path.exists(os.path.join(folder, family + '.h')):
            prefixes.append(family)
    return prefixes


def offenders(root):
    files = sources(root)
    declared = set()
    for path in files:
        if path.endswith('.h'):
            declared.update(DECLARED.findall(code_only(read(path))))
    found = []
    for path in files:
        if not path.endswith('.c'):
            continue
        prefixes = allowed_prefixes(path)
        for name in sorted(definitions(read(path))):
            if name not in declared:
                continue
            if any(name == p or name.startswith(p + '_') for p in prefixes):
                continue
            found.append((path, name, prefixes))
    return found


def load_known(path):
    return {tuple(w) for w in known_entries(path) if len(w) == 2}


def main():
    args, top = checker_args(__doc__, 'names-known.txt')

    root = os.path.abspath(args.root)
    base = os.path.dirname(root)
    known = load_known(args.known)
    found, failed = set(), False
    for path, name, prefixes in offenders(root):
        rel = os.path.relpath(path, base)
        found.add((rel, name))
        text = '%s %s (wants %s)' % (rel, name, ' or '.join(p + '_*' for p in prefixes))
        if (rel, name) in known:
            if not args.quiet:
                print('known ' + text)
        else:
            failed = True
            print('NEW ' + text)
    for gone in sorted(known - found):
        failed = True
        print('gone (remove it from %s): %s %s' % (os.path.relpath(args.known, top), *gone))
    if not args.quiet:
        print('%d misnamed exported function(s), %d known' % (len(found), len(found & known)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
