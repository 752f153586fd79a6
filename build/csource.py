"""What the source checkers of build/ share: the C files of a tree, their
code without comments and strings, the functions they define, their command
line, their lists of known exceptions and their report.

A definition is a declaration at file scope, `type name(parameters)`, that
is followed by its body `{` and is not static.  The type may stand on lines of
its own (`int\nname(void)`, `static\nchar *\nname(...)`), and carry
attributes (`__attribute__((...))`) and pointers (`char *name(`).
"""
import argparse
import os
import re

# What stands before a body `{` at file scope when it is a function's:
# specifiers and type words, pointers, the name, one parameter list.
FUNCTION_HEAD = re.compile(
    r'^((?:[A-Za-z_]\w*[\s\*]+)+?)\**\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$', re.S)
NOT_FUNCTION = {'typedef', 'return', 'if', 'while', 'for',
                'switch', 'sizeof', 'do', 'else'}
PREPROCESSOR = re.compile(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', re.M)
ATTRIBUTE = re.compile(r'\b__attribute__\s*\(')
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


def _without_attributes(head):
    while True:
        m = ATTRIBUTE.search(head)
        if not m:
            return head
        depth, i = 0, m.end() - 1
        while i < len(head):
            depth += {'(': 1, ')': -1}.get(head[i], 0)
            if depth == 0:
                break
            i += 1
        head = head[:m.start()] + ' ' + head[i + 1:]


def function_definitions(text):
    """(name, is_static) of every function defined in text (C source), in
    order: each file-scope `head {` whose head is `type name(parameters)`."""
    code = PREPROCESSOR.sub(lambda m: '\n' * m.group(0).count('\n'), code_only(text))
    found, head, depth, i = [], [], 0, 0
    while i < len(code):
        c = code[i]
        if depth == 0 and c == ';':
            head = []
        elif c == '{':
            if depth == 0:
                found.extend(_head_function(''.join(head)))
                head = []
            depth += 1
        elif c == '}':
            depth = max(0, depth - 1)
        elif depth == 0:
            head.append(c)
        i += 1
    return found


def _head_function(head):
    head = _without_attributes(head).strip()
    if '=' in head:
        return []
    m = FUNCTION_HEAD.match(head)
    if not m:
        return []
    words = set(re.findall(r'[A-Za-z_]\w*', m.group(1)))
    if words & NOT_FUNCTION or m.group(2) in NOT_FUNCTION:
        return []
    return [(m.group(2), 'static' in words)]


LEXEME = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def string_literals(text):
    """(line, value) of every string literal of text outside comments, with
    adjacent literals joined as the compiler joins them ("a" "b" is "ab");
    value keeps its escapes as written."""
    found, last_end = [], None
    for m in LEXEME.finditer(text):
        token = m.group(0)
        if not token.startswith('"'):
            continue
        if last_end is not None and not text[last_end:m.start()].strip():
            found[-1] = (found[-1][0], found[-1][1] + token[1:-1])
        else:
            found.append((text.count('\n', 0, m.start()) + 1, token[1:-1]))
        last_end = m.end()
    return found


def definitions(text):
    """Names of the functions text defines without `static`."""
    return {name for name, is_static in function_definitions(text) if not is_static}


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


def report(name, problems, ok_message, quiet=False, where=''):
    """Prints what a checker found and returns its exit status: each of
    problems on a line of its own, then `name: N problem(s)` (followed by
    where, a pointer to the rule's description, if given), and 1; with no
    problems ok_message (unless quiet), and 0."""
    for line in problems:
        print(line)
    if problems:
        print('%s: %d problem(s)%s' % (name, len(problems), where))
        return 1
    if not quiet:
        print(ok_message)
    return 0
