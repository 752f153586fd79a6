#!/usr/bin/env python3
"""Reports #include lines of mod_acme that reach a layer above their own.

The rule.  mod_acme's folders are layers; a file may include headers of its
own folder and of the folders below it, never of one above or beside it:

    base <- crypto <- {store, protocol} <- issue <- {httpd, cli}
    base <- cluster <- {httpd, cli}

(store and protocol do not see each other; httpd and cli do not see each
other.)  So a change in a layer never has to look upwards, and libacme
builds without httpd.  An include is checked by the folder of the header it
names (headers are found by base name, they are unique in mod_acme/), not by
what the compiler would find: a quoted include also searches the including
file's own folder, so `#include "../protocol/acme_http.h"` would compile from
core/base/ whatever the -I list says.  Hence also:

  - no include spells a path ("../x.h", "core/x.h"): name the header alone,
    the -I list of the layer says where it may come from;
  - the -I lists of the layer libraries in Makefile.am (`*_INC`, used as
    `libacme_<layer>_la_CPPFLAGS`) name only folders the layer may see, so
    widening one does not make an upward include legal.

Exit status 1 on any violation, one line each, with the fix.

Usage: check-layers.py [--quiet] [ROOT]   (ROOT: mod_acme)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from csource import checker_args, read, report, sources

CORE = ('base', 'crypto', 'store', 'protocol', 'issue', 'cluster')
# What each layer may include, itself among them.
SEES = {
    'base': {'base'},
    'crypto': {'base', 'crypto'},
    'store': {'base', 'crypto', 'store'},
    'protocol': {'base', 'crypto', 'protocol'},
    'issue': {'base', 'crypto', 'store', 'protocol', 'issue'},
    'cluster': {'base', 'cluster'},
    'httpd': set(CORE) | {'httpd'},
    'cli': set(CORE) | {'cli'},
}
DIRECTION = ('base <- crypto <- {store, protocol} <- issue <- {httpd, cli}; '
             'base <- cluster <- {httpd, cli}')


def layer_of(path, root):
    """The layer of a file under root (mod_acme/), or None."""
    parts = os.path.relpath(path, root).split(os.sep)
    if parts[0] == 'core' and len(parts) > 2:
        return parts[1] if parts[1] in SEES else None
    return parts[0] if parts[0] in SEES and len(parts) > 1 else None


# Every #include, quoted or <angled>, with or without a space after the
# keyword; an include by macro (`#include HEADER`) hides its header from this
# check, so it is refused as such.
ANY_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*(?:"([^"\n]+)"|<([^>\n]+)>|([A-Za-z_]\w*))',
                         re.M)


def include_problems(root):
    files = sources(root)
    headers = {}
    for path in files:
        if path.endswith('.h'):
            headers.setdefault(os.path.basename(path), []).append(path)
    base = os.path.dirname(root)
    problems = []
    for path in files:
        layer = layer_of(path, root)
        if layer is None:
            continue
        text = read(path)
        for m in ANY_INCLUDE.finditer(text):
            where = '%s:%d' % (os.path.relpath(path, base), text.count('\n', 0, m.start()) + 1)
            if m.group(3):
                problems.append(
                    '%s: #include %s names its header through a macro; the rule: a mod_acme file '
                    'names each header it includes, so its layer can be checked (%s). Fix: '
                    '#include "the_header.h" itself' % (where, m.group(3), DIRECTION))
                continue
            inc = m.group(1) or m.group(2)
            angled = m.group(2) is not None
            if angled and os.path.basename(inc) not in headers:
                continue            # a system or library header
            if '/' in inc:
                problems.append(
                    '%s: #include "%s" spells a path; the rule: include a mod_acme header by its '
                    'name alone, so only the layer\'s -I list decides what it may see (%s). '
                    'Fix: #include "%s" when %s/ may see its folder, else move the code down or '
                    'pass what it needs in an argument or callback'
                    % (where, inc, DIRECTION, os.path.basename(inc), layer))
            for target in headers.get(os.path.basename(inc), []):
                above = layer_of(target, root)
                if above is None or above in SEES[layer]:
                    continue
                problems.append(
                    '%s: %s/ includes %s, which is in %s/, a layer above or beside it; the rule: '
                    '%s (a layer includes only its own and lower layers\' headers). Fix: move '
                    'what %s needs down to a layer %s may see, or have the caller in %s/ pass '
                    'it in (an argument, a callback in acme_ctx_t)'
                    % (where, layer, os.path.relpath(target, base), above, DIRECTION,
                       layer, layer, above))
    return problems


ASSIGN = re.compile(r'^([A-Za-z_]\w*)\s*(\+|:|\?)?=(.*)$')
# -I dir, -Idir, -iquote dir, -isystem dir, -idirafter dir
INCLUDE_DIR = re.compile(r'-(?:I|iquote|isystem|idirafter)\s*\S*?mod_acme/core/(\w+)')


def makefile_vars(text):
    text = text.replace('\\\n', ' ')
    found = {}
    for line in text.splitlines():
        m = ASSIGN.match(line)
        if m:
            if m.group(2) == '+':
                found[m.group(1)] = found.get(m.group(1), '') + ' ' + m.group(3)
            else:
                found[m.group(1)] = m.group(3)
    return found


def expand(value, variables, depth=0):
    if depth > 20:
        return value
    return re.sub(r'\$\((\w+)\)',
                  lambda m: expand(variables.get(m.group(1), ''), variables, depth + 1)
                  if m.group(1) in variables else m.group(0), value)


def makefile_problems(makefile, top):
    if not os.path.exists(makefile):
        return []
    variables = makefile_vars(read(makefile))
    problems = []
    for layer in CORE:
        name = 'libacme_%s_la_CPPFLAGS' % layer
        if name not in variables:
            problems.append('%s: no %s; the rule: every core layer builds with its own -I list '
                            '(%s). Fix: add it' % (os.path.relpath(makefile, top), name, DIRECTION))
            continue
        flags = ' '.join(expand(value, variables) for var, value in variables.items()
                         if var.startswith('libacme_%s_la_' % layer)
                         and var.endswith(('CPPFLAGS', 'CFLAGS')))
        seen = sorted(set(INCLUDE_DIR.findall(flags)))
        for folder in seen:
            if folder not in SEES[layer]:
                problems.append(
                    '%s: %s (or another libacme_%s_la_ flags variable) lets %s/ see core/%s/, a layer above or beside it; the rule: %s. '
                    'Fix: take -I.../core/%s out of that list (the *_INC variables) and move what '
                    '%s needs down instead'
                    % (os.path.relpath(makefile, top), name, layer, layer, folder, DIRECTION, folder,
                       layer))
    return problems


def main():
    args, top = checker_args(__doc__, 'layers-known.txt')
    root = os.path.abspath(args.root)
    problems = include_problems(root)
    problems += makefile_problems(os.path.join(os.path.dirname(root), 'Makefile.am'), top)
    return report('check-layers', problems,
                  'check-layers: every #include stays in its layer or below', args.quiet,
                  '; the layers are described in docs/internals.md "Layers"')


if __name__ == '__main__':
    sys.exit(main())
