#!/usr/bin/env python3
"""Reports call and include circles between the source files of mod_acme.

Call graph: a .c file depends on the .c file that defines a function it uses.
A definition is a file-scope `type name(parameters) {` that is not static,
the type on the name's line or on lines of its own (build/csource.py); a use is any mention of that name in another .c file (a call, or a
function pointer in a table).  Include graph: a file depends on each header it
includes with #include "..." that is part of mod_acme.

A circle is a strongly connected component of more than one file.  Circles
listed in the known-circles file (one per line, the files sorted and joined by
spaces; '#' starts a comment) are reported but do not fail: they are being
worked on.  Any other circle fails (exit status 1), and so does a known one
that is gone, so the list shrinks with the code.

Usage: check-circles.py [--known FILE] [--quiet] [ROOT]   (ROOT: mod_acme)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from csource import INCLUDE, IDENT, checker_args, code_only, definitions, known_entries, read, sources


def call_graph(files, texts):
    owner = {}
    for path in files:
        if path.endswith('.c'):
            for name in definitions(texts[path]):
                owner.setdefault(name, path)
    graph = {path: set() for path in files if path.endswith('.c')}
    why = {}
    for path in graph:
        for ident in set(IDENT.findall(code_only(texts[path]))):
            target = owner.get(ident)
            if target and target != path:
                graph[path].add(target)
                why.setdefault((path, target), []).append(ident)
    return graph, why


def include_graph(files, texts):
    by_name = {}
    for path in files:
        if path.endswith('.h'):
            by_name.setdefault(os.path.basename(path), []).append(path)
    graph = {path: set() for path in files}
    why = {}
    for path in files:
        for inc in INCLUDE.findall(texts[path]):
            for target in by_name.get(os.path.basename(inc), []):
                if target != path:
                    graph[path].add(target)
                    why.setdefault((path, target), []).append('#include "%s"' % inc)
    return graph, why


def circles(graph):
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return sorted(result)


def describe(kind, component, graph, why, base):
    rel = [os.path.relpath(p, base) for p in component]
    lines = ['%s circle: %s' % (kind, ' '.join(rel))]
    members = set(component)
    for src in component:
        for dst in sorted(graph[src] & members):
            names = sorted(set(why[(src, dst)]))
            shown = ', '.join(names[:6]) + (', ...' if len(names) > 6 else '')
            lines.append('    %s -> %s: %s' % (os.path.relpath(src, base),
                                               os.path.relpath(dst, base), shown))
    return ' '.join(rel), '\n'.join(lines)


def load_known(path):
    return {' '.join(sorted(w)) for w in known_entries(path)}


def main():
    args, top = checker_args(__doc__, 'circles-known.txt')

    base = os.path.dirname(os.path.abspath(args.root))
    files = sources(os.path.abspath(args.root))
    texts = {path: read(path) for path in files}
    known = load_known(args.known)
    found, failed = set(), False
    for kind, (graph, why) in (('call', call_graph(files, texts)),
                               ('include', include_graph(files, texts))):
        for component in circles(graph):
            key, text = describe(kind, component, graph, why, base)
            found.add(key)
            if key in known:
                if not args.quiet:
                    print('known ' + text)
            else:
                failed = True
                print('NEW ' + text)
    for gone in sorted(known - found):
        failed = True
        print('gone (remove it from %s): %s' % (os.path.relpath(args.known, top), gone))
    if not args.quiet:
        print('%d circle(s), %d known' % (len(found), len(found & known)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
