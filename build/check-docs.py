#!/usr/bin/env python3
"""Checks that the docs keep up with the sources; run by `make check`.
Fails (exit 1, one line per problem) when
 - a directive httpd registers (AP_INIT_*("Acme...") in mod_acme/httpd) has
   no section "## Name" in docs/directives.md with its Syntax, Default and
   Context rows and an ```apache example, or no row in README's table;
 - docs/directives.md has a section for a directive that does not exist;
 - docs/troubleshooting.md is not what build/logtags-doc.py writes from the
   sources (a warn-or-worse message added or changed without the page).
Usage: build/check-docs.py [source-root]   (default: the checkout holding this script)"""
import glob
import importlib.util
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from csource import report  # noqa: E402

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..")
problems = []

directives = set()
for path in sorted(glob.glob(os.path.join(root, "mod_acme", "httpd", "*.c"))):
    with open(path, encoding="utf-8") as f:
        directives |= set(re.findall(r'AP_INIT_[A-Z0-9_]+\s*\(\s*"(Acme\w+)"', f.read()))
if not directives:
    problems.append("no directives found in mod_acme/httpd (AP_INIT_*)")

ref_path = os.path.join(root, "docs", "directives.md")
with open(ref_path, encoding="utf-8") as f:
    ref = f.read()
sections = {}
for m in re.finditer(r"^## (Acme\w+)\n(.*?)(?=^## |\Z)", ref, re.M | re.S):
    sections[m.group(1)] = m.group(2)
for name in sorted(directives):
    body = sections.get(name)
    if body is None:
        problems.append("docs/directives.md: no section '## %s'" % name)
        continue
    for row in ("Syntax", "Default", "Context"):
        if not re.search(r"^\| %s \| \S" % row, body, re.M):
            problems.append("docs/directives.md: %s has no '| %s |' row" % (name, row))
    if not re.search(r"^```apache\n.*\b%s\b" % name, body, re.M | re.S):
        problems.append("docs/directives.md: %s has no ```apache example using it" % name)
for name in sorted(set(sections) - directives):
    problems.append("docs/directives.md: section '## %s' names no directive of the module" % name)

with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
    readme_rows = set(re.findall(r"^\| `(Acme\w+)", f.read(), re.M))
for name in sorted(directives - readme_rows):
    problems.append("README.md: no row for %s in the directive table" % name)

spec = importlib.util.spec_from_file_location("logtags_doc", os.path.join(
    root, "build", "logtags-doc.py"))
logtags_doc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(logtags_doc)
logtags_doc.ROOT = root
with open(os.path.join(root, "docs", "troubleshooting.md"), encoding="utf-8") as f:
    if f.read() != logtags_doc.render():
        problems.append("docs/troubleshooting.md is not what the sources say: run "
                        "python3 build/logtags-doc.py and commit the page")

sys.exit(report("check-docs", problems,
                "check-docs: %d directives documented, troubleshooting.md current"
                % len(directives)))
