#!/usr/bin/env python3
"""Tests of build/csource.py's definition finder and of the checkers built on
it, on small C inputs written the ways C allows (run by `make check`)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import csource  # noqa: E402


def defs(text):
    return csource.function_definitions(text)


class Definitions(unittest.TestCase):
    def test_one_line(self):
        self.assertEqual(defs('int foo(int x)\n{\n    return x;\n}\n'), [('foo', False)])

    def test_return_type_on_its_own_line(self):
        self.assertEqual(defs('int\npolicy_helper_wrong(int x)\n{\n    return x;\n}\n'),
                         [('policy_helper_wrong', False)])

    def test_static_on_its_own_line(self):
        self.assertEqual(defs('static\nint\nfoo(void)\n{\n    return 0;\n}\n'), [('foo', True)])
        self.assertEqual(defs('static int\nfoo(void) {\n    return 0;\n}\n'), [('foo', True)])

    def test_pointer_returned(self):
        self.assertEqual(defs('char *\nfoo(const char *s)\n{\n    return NULL;\n}\n'),
                         [('foo', False)])
        self.assertEqual(defs('const char **foo(void)\n{\n    return NULL;\n}\n'),
                         [('foo', False)])
        self.assertEqual(defs('struct acme_changes_t *acme_counters_changes(const int *c)\n'
                              '{\n    return NULL;\n}\n'),
                         [('acme_counters_changes', False)])

    def test_attributes(self):
        self.assertEqual(defs('static void __attribute__((noreturn))\nbar(void)\n{\n}\n'),
                         [('bar', True)])
        self.assertEqual(defs('__attribute__((format(printf, 2, 3)))\nvoid\n'
                              'baz(int a, const char *fmt, ...)\n{\n}\n'), [('baz', False)])

    def test_parameters_over_lines(self):
        self.assertEqual(defs('apr_status_t\nfoo(apr_pool_t *p,\n    const char *name,\n'
                              '    void (*cb)(void *))\n{\n    return 0;\n}\n'), [('foo', False)])

    def test_not_definitions(self):
        text = ('#include "x.h"\n'
                '#define WRAP(a) { a }\n'
                'int\nproto(int);\n'
                'static const int table[] = { 1, 2 };\n'
                'struct s { int (*f)(int); };\n'
                'typedef struct { int a; } t_t;\n'
                'enum e { A, B };\n'
                'static int counter;\n')
        self.assertEqual(defs(text), [])

    def test_body_is_not_searched(self):
        text = ('int outer(int x)\n{\n    if (x) {\n        inner(x);\n    }\n'
                '    while (x) { x--; }\n    return printf("{ %d", x);\n}\n'
                'static int after(void)\n{\n    return 0;\n}\n')
        self.assertEqual(defs(text), [('outer', False), ('after', True)])

    def test_definitions_leaves_out_static(self):
        self.assertEqual(csource.definitions('static int a(void)\n{\n}\nint\nb(void)\n{\n}\n'),
                         {'b'})


class StringLiterals(unittest.TestCase):
    def test_joined_and_outside_comments(self):
        text = ('a = "https://x" /* "no" */;\n'
                'b("not " \n  "staging/", \'"\');\n'
                '// "jobs/"\n'
                'c("q\\"x");\n')
        self.assertEqual(csource.string_literals(text),
                         [(1, 'https://x'), (2, 'not staging/'), (5, 'q\\"x')])


def tree(case, files):
    top = tempfile.mkdtemp(prefix='csource-test-')
    case.addCleanup(shutil.rmtree, top)
    for rel, text in files.items():
        path = os.path.join(top, 'mod_acme', rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
    return os.path.join(top, 'mod_acme')


def run(checker, root):
    out = subprocess.run([sys.executable, os.path.join(HERE, checker), '--quiet',
                          '--known', os.devnull, root],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return out.returncode, out.stdout


class Checkers(unittest.TestCase):
    def test_names_sees_gnu_style(self):
        root = tree(self, {
            'core/base/acme_policy.h': 'int policy_helper_wrong(int x);\n',
            'core/base/acme_policy.c': '#include "acme_policy.h"\n'
                                       'int\npolicy_helper_wrong(int x)\n{\n    return x;\n}\n',
        })
        rc, out = run('check-names.py', root)
        self.assertEqual(rc, 1, out)
        self.assertIn('policy_helper_wrong', out)

    def test_circles_sees_gnu_style(self):
        root = tree(self, {
            'core/base/acme_a.c': 'int\nacme_a_one(void)\n{\n    return acme_b_two();\n}\n',
            'core/base/acme_b.c': 'int\nacme_b_two(void)\n{\n    return acme_a_three();\n}\n'
                                  'int acme_a_three(void);\n',
            'core/base/acme_c.c': 'char *\nacme_a_three(void)\n{\n    return 0;\n}\n',
        })
        rc, out = run('check-circles.py', root)
        self.assertEqual(rc, 0, out)
        root = tree(self, {
            'core/base/acme_a.c': 'int\nacme_a_one(void)\n{\n    return acme_b_two();\n}\n',
            'core/base/acme_b.c': 'int\nacme_b_two(void)\n{\n    return acme_a_one();\n}\n',
        })
        rc, out = run('check-circles.py', root)
        self.assertEqual(rc, 1, out)
        self.assertIn('call circle', out)


if __name__ == '__main__':
    unittest.main()
