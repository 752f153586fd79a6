"""What the source checkers of build/ share: the C files of a tree, their
code without comments and strings, the functions they define, their command
line and their lists of known exceptions.

A definition is a line at column 0 of the form `type name(` that is not
static and does not end in ';'.
"""
import argparse
import os
import re

DEFINITION = re.compile(
    r'^(?!static\b|typedef\b|extern\b|return\b|struct\b[^(]*\{|#)'
    r'[A-Za-z_][\w \t\*]*?[\s\*](\w+)\s*\(')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
IDENT = re.compile(r'\b[A-Za-z_]\w*\b')


def sources(root):
    found = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(('.c', '.h')):
                found.append(os.path.join(top, name))
    return found


def read(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def code_only(text):
    """The text without comments and string literals (lines kept)."""
    text = COMMENT.sub(lambda m: '\n' * m.group(0).count('\n'), text)
    return STRING.sub('""', text)


def definitions(text):
    names = set()
    for line in code_only(text).splitlines():
        m = DEFINITION.match(line)
        if m and not line.rstrip().endswith(';'):
            names.add(m.group(1))
    return names


def known_entries(path):
    """The entries of a known-exceptions file: one list of words per line
    that is not empty once its '#' comment is cut off; none without a file."""
    entries = []
    if path and os.path.exists(path):
        for line in read(path).splitlines():
            words = line.split('#', 1)[0].split()
            if words:
                entries.append(words)
    return entries


def checker_args(doc, known_file):
    """The command line every checker takes: the tree (default mod_acme/
    beside build/), --known (default build/<known_file>) and --quiet.
    Returns (args, top) with top the project's root."""
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=doc.split('\n')[0])
    ap.add_argument('root', nargs='?', default=os.path.join(top, 'mod_acme'))
    ap.add_argument('--known', default=os.path.join(here, known_file))
    ap.add_argument('--quiet', action='store_true', help='print only what fails')
    return ap.parse_args(), top
