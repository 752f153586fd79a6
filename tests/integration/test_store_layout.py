"""README's "Store layout" against a real store: every file and directory
of a store that issued a certificate and renewed it on `acmectl renew`
(watched while the renewal runs, so staging/ and the job's files are seen)
has the owner and mode README gives it, and every path seen is in the
table."""
import os
import pwd
import re
import stat
import time

from harness import HTTPD_USER, ssl_vhost, wait_for

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
ISSUE_TIMEOUT = 60
PLACEHOLDER = re.compile(r"<[a-z-]+>")
TEMP = re.compile(r"\.tmp\.[0-9]+\.[0-9a-f]{8}$")


def pattern(path):
    """README's path with <placeholders> as a regular expression."""
    parts = PLACEHOLDER.split(path)
    return "[^/]+".join(re.escape(p) for p in parts)


def owner_of(text):
    text = text.strip()
    assert text.startswith(("root", "child user")), text
    return "root" if text.startswith("root") else HTTPD_USER


def readme_layout(path=README):
    """[(compiled regex of a store-relative path, owner, mode or "link")]:
    the table's rows, then the "Directories:" paragraph after it."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Store layout"):]
    section = section[:section.index("\n## ", 3)]
    rules = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 4:
            continue
        paths = re.findall(r"`([^`]+)`", cells[0])
        modes = [m.strip() for m in cells[2].split(",")]
        first_dir = os.path.dirname(paths[0])
        for i, p in enumerate(paths):
            full = p if i == 0 or "/" in p else first_dir + "/" + p
            mode = modes[i] if len(modes) == len(paths) else modes[0]
            rules.append((re.compile(pattern(full) + "$"), owner_of(cells[1]), mode))
    para = section[section.index("Directories:"):]
    para = " ".join(para[:para.index("`acmectl check`")].split())
    for clause in para[len("Directories:"):].split(";"):
        mode = re.search(r"\b0[0-7]{3}\b", clause).group(0)
        owner = "root" if "root's" in clause else owner_of(clause[clause.index("child user"):])
        if "the store itself" in clause:
            rules.append((re.compile(r"\.$"), owner, mode))
        top = None
        for m in re.finditer(r"\(and (each|its|what is under it)( `([^`]+)`)?\)|`([^`]+)`", clause):
            if m.group(4):
                top = m.group(4).rstrip("/")
                rules.append((re.compile(pattern(top) + "$"), owner, mode))
            elif m.group(1) in ("each", "its"):
                rules.append((re.compile(pattern(top + "/" + m.group(3).rstrip("/")) + "$"),
                              owner, mode))
            else:
                rules.append((re.compile(pattern(top) + "/.*$"), owner, "dirs " + mode))
    return rules


def snapshot(store):
    """{relative path: (owner, mode or "link", is a directory)} of the store now."""
    seen = {".": None}
    for root, dirs, files in os.walk(store):
        for name in dirs + files:
            seen[os.path.relpath(os.path.join(root, name), store)] = None
    out = {}
    for rel in seen:
        if TEMP.search(rel):
            continue              # an atomic write in progress (acme_store.c)
        try:
            st = os.lstat(os.path.join(store, rel))
        except FileNotFoundError:
            continue              # gone between the walk and the stat
        owner = pwd.getpwuid(st.st_uid).pw_name
        mode = "link" if stat.S_ISLNK(st.st_mode) else "%04o" % stat.S_IMODE(st.st_mode)
        out[rel] = (owner, mode, stat.S_ISDIR(st.st_mode))
    return out


def test_every_store_path_has_the_owner_and_mode_readme_gives(httpd, unique):
    rules = readme_layout()
    assert len(rules) >= 30, rules
    name = unique("layout")
    httpd.write_config(vhosts=ssl_vhost(name))
    httpd.start()
    first = httpd.wait_for_pebble_cert(name, ISSUE_TIMEOUT)
    wait_for(lambda: httpd.domain_status(name).get("renew_at"), ISSUE_TIMEOUT, interval=0.5,
             what="the check after activation")
    seen = snapshot(httpd.store)
    r = httpd.acmectl("--store", httpd.store, "renew", name)
    assert r.returncode == 0, r.stdout + r.stderr
    seen.update(snapshot(httpd.store))
    deadline = time.monotonic() + ISSUE_TIMEOUT
    while True:
        seen.update(snapshot(httpd.store))
        try:
            if httpd.served_cert(name).serial_number != first.serial_number:
                break
        except OSError:
            pass                  # the graceful restart that makes it live
        assert time.monotonic() < deadline, "the renewal did not go live"
        time.sleep(0.05)
    seen.update(snapshot(httpd.store))
    # the walk saw what the table is about, renewal included
    for must in ("jobs/%s.renew" % name, "staging/%s/ready" % name, "configured.lock",
                 "fallback/.lock", "csr/%s.json" % name, "domains/%s" % name):
        assert must in seen, (must, sorted(seen))
    problems = []
    for rel, (owner, mode, is_dir) in sorted(seen.items()):
        # the most specific row: jobs/<name>.ari.json, not jobs/<name>.json
        rule = max(((len(rx.pattern), o, m) for rx, o, m in rules if rx.match(rel)
                    and (is_dir or not m.startswith("dirs "))), default=None)
        if rule is None:
            problems.append("%s (%s %s) is not in README's store layout" % (rel, owner, mode))
            continue
        _, want_owner, want_mode = rule
        want_mode = want_mode.replace("dirs ", "")
        if (owner, mode) != (want_owner, want_mode):
            problems.append("%s is %s %s, README says %s %s" % (rel, owner, mode, want_owner,
                                                                want_mode))
    assert not problems, "\n".join(problems)
