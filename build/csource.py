"""What the source checkers of build/ share: the C files of a tree, their
code without comments and strings, and the functions they define.

A definition is a line at column 0 of the form `type name(` that is not
static and does not end in ';'.
"""
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
