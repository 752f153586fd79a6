#!/bin/sh
# Checks mod_acme's log tags against mod_acme/LOGTAGS; run by `make check`.
# Fails (exit 1, one "file:line: problem" per violation) when
#  - a tag ACMEnnnnn appears in more than one place (a reused tag),
#  - a log call at debug level or above carries no tag: acme_log(), the
#    context's sink (ctx.log / ctx->log), ap_log_*error() and ap_log_*error_();
#    any other call that passes a log level constant fails as unknown, so a
#    new way to log is taught to this checker before it can hide a message,
#  - a level is computed (ACME_LOG_TRACE1 - 4 is a warning that looks like
#    trace): a level is a constant, a variable or a choice between constants,
#  - a "logtag: from caller" comment sits on a call whose format is text of
#    its own: it is only for a call whose tag comes in an argument (a format
#    that is not a literal, or one that starts with a conversion, "%s"),
#  - a tag lies outside the range of its file's part (files map to parts by
#    basename, so moving a file between folders changes nothing),
#  - a part's "next" number is not above every tag used in its range,
#  - a string literal holds a character outside ASCII (httpd's log writes
#    such bytes as \xNN, so "\u2192" becomes "\xe2\x86\x92": messages, log
#    lines and pages are plain ASCII; HTML spells others as entities).
# Usage: build/check-logtags.sh [source-root]   (default: the checkout holding this script)
root=${1:-"$(dirname "$0")/.."}
exec /usr/bin/python3 - "$root" <<'PYEOF'
import fnmatch, os, re, sys

root = sys.argv[1]
src = os.path.join(root, "mod_acme")
problems = []

def problem(where, msg):
    problems.append("%s: %s" % (where, msg))

# ---- LOGTAGS: "<part> <lo>-<hi> next <n> files <glob> ..." -----------------
parts = []
logtags = os.path.join(src, "LOGTAGS")
with open(logtags, encoding="utf-8") as f:
    for no, line in enumerate(f, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # A part may own several ranges, "lo-hi+lo-hi"; "next" lies in the last one.
        m = re.match(r"(\S+)\s+(\d{5}-\d{5}(?:\+\d{5}-\d{5})*)\s+next\s+(\d{5})\s+files\s+(.+)$",
                     line)
        if not m:
            problem("%s:%d" % (os.path.relpath(logtags, root), no),
                    "not '<part> lo-hi[+lo-hi...] next n files <glob>...'")
            continue
        ranges = [tuple(int(x) for x in r.split("-")) for r in m.group(2).split("+")]
        parts.append({"name": m.group(1), "ranges": ranges, "lo": ranges[-1][0], "hi": ranges[-1][1],
                      "spelled": m.group(2), "next": int(m.group(3)), "globs": m.group(4).split(),
                      "where": "%s:%d" % (os.path.relpath(logtags, root), no)})

def part_of(path):
    base = os.path.basename(path)
    for p in parts:
        if any(fnmatch.fnmatchcase(base, g) for g in p["globs"]):
            return p
    return None

# ---- C lexing: blank out comments, keep strings and line numbers -----------
def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1]); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)

STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')

def split_args(text, start):
    """Arguments of the call whose '(' is at text[start]: list of (offset, text)."""
    depth, i, args, begin = 0, start, [], start + 1
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append((begin, text[begin:i]))
                return args
        elif c == "," and depth == 1:
            args.append((begin, text[begin:i])); begin = i + 1
        i += 1
    return args

def literal(arg):
    """The first string literal of an argument that starts with one, else None."""
    m = re.match(r'\s*"((?:[^"\\\n]|\\.)*)"', arg)
    return m.group(1) if m else None

# Log calls: name -> (index of the level argument, index of the format argument).
# ap_log_*error() take APLOG_MARK (three arguments in one) first; written with
# __FILE__, __LINE__, APLOG_MODULE_INDEX instead, their indices move by two.
# "log" is the context's sink, called as ctx.log(baton, level, rv, message).
CALLS = {"acme_log": (1, 3), "ap_log_error": (1, 4), "ap_log_rerror": (1, 4),
         "ap_log_cerror": (1, 4), "ap_log_perror": (1, 4), "ap_log_cserror": (1, 5),
         "ap_log_error_": (3, 6), "ap_log_rerror_": (3, 6), "ap_log_cerror_": (3, 6),
         "ap_log_perror_": (3, 6), "ap_log_cserror_": (3, 7), "log": (1, 3)}
CALL = re.compile(r"(?:\b(%s)|(?:\.|->)\s*(log))\s*\(" % "|".join(n for n in CALLS if n != "log"))
LEVEL = re.compile(r"\b(?:ACME_LOG|APLOG)_(?:EMERG|ALERT|CRIT|ERR|ERROR|WARN|WARNING|NOTICE|INFO|"
                   r"DEBUG|TRACE\d?)\b")
CALLEE = re.compile(r"([A-Za-z_]\w*)\s*$")
TAG = re.compile(r"ACME(\d{5})")
# A call that logs a message tagged elsewhere ("%s", msg) says so in a comment
# on its lines or on the line above it.
PASS = "logtag: from caller"
QUIET = ("TRACE",)

uses = {}
files = []
for d, dirs, names in os.walk(src):
    dirs.sort()
    files += [os.path.join(d, n) for n in sorted(names) if n.endswith((".c", ".h"))]

for path in files:
    rel = os.path.relpath(path, root)
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    code = strip_comments(raw)
    lineno = lambda off: code.count("\n", 0, off) + 1
    for m in STRING.finditer(code):
        odd = re.search(r"[^\x00-\x7f]", m.group(1))
        if odd:
            problem("%s:%d" % (rel, lineno(m.start())), "string literal holds %r (U+%04X): "
                    "write ASCII (\"->\", \"section\") or an HTML entity"
                    % (odd.group(0), ord(odd.group(0))))
        for t in TAG.finditer(m.group(1)):
            uses.setdefault(int(t.group(1)), []).append((rel, lineno(m.start()), path))
    # Every call that passes a level constant must be one of CALLS.
    for m in LEVEL.finditer(code):
        depth, i = 0, m.start() - 1
        while i >= 0 and not (depth == 0 and code[i] in ";{}"):
            if code[i] == ")":
                depth += 1
            elif code[i] == "(":
                if depth == 0:
                    break
                depth -= 1
            i -= 1
        if i < 0 or code[i] != "(":
            continue
        callee = CALLEE.search(code, 0, i)
        if not callee and code[:i].rstrip().endswith(")"):
            # (*ctx->log)(...), (fn)(...): a call through an expression
            problem("%s:%d" % (rel, lineno(m.start())),
                    "a call through a function pointer expression is given log level %s, and "
                    "check-logtags cannot see whether its message is tagged; the rule: every "
                    "message at debug level and above starts with 'ACMEnnnnn: '. Fix: log "
                    "through acme_log() or ap_log_*error(APLOG_MARK, ...)" % m.group(0))
            continue
        if not callee or callee.group(1) in CALLS or callee.group(1) in ("if", "while", "return",
                                                                         "switch", "sizeof"):
            continue
        if re.search(r"\b(void|int|static|extern)\s*\**\s*$", code[max(0, callee.start() - 40):callee.start()]):
            continue
        problem("%s:%d" % (rel, lineno(m.start())),
                "%s() is given log level %s, and check-logtags does not know it as a log call, "
                "so it cannot see whether its message is tagged; the rule: every message at debug "
                "level and above starts with 'ACMEnnnnn: '. Fix: log through acme_log() or "
                "ap_log_*error(APLOG_MARK, ...), or add %s to CALLS in build/check-logtags.sh with "
                "the positions of its level and format"
                % (callee.group(1), m.group(0), callee.group(1)))
    for m in CALL.finditer(code):
        name = m.group(1) or m.group(2)
        if re.search(r"\b(void|int|static|extern)\s*\**\s*$", code[max(0, m.start() - 40):m.start()]):
            continue    # the prototype or definition, not a call
        args = split_args(code, m.end() - 1)
        where = "%s:%d" % (rel, lineno(m.start()))
        lvl_i, fmt_i = CALLS[name]
        if name.startswith("ap_log_") and not name.endswith("_") and \
                (not args or args[0][1].strip() != "APLOG_MARK"):
            lvl_i, fmt_i = lvl_i + 2, fmt_i + 2
        if len(args) <= fmt_i:
            problem(where, "%s() with too few arguments to find its format" % name)
            continue
        level = args[lvl_i][1]
        lv = re.findall(r"(?:ACME_LOG|APLOG)_([A-Z0-9]+)", level)
        if LEVEL.search(level) and re.search(r"[-+*/%<>]", level):
            problem(where, "%s() at level '%s': a computed level hides what it is (ACME_LOG_TRACE1 "
                    "- 4 is a warning); the rule: a level is a constant, a variable or a choice "
                    "between constants. Fix: write the constant meant, and tag the message if it "
                    "is debug or above" % (name, " ".join(level.split())))
            continue
        lv = [x for x in lv if x not in ("STARTUP", "NOMODULE")]
        if lv and all(x.startswith(QUIET) for x in lv):
            continue
        fmt = literal(args[fmt_i][1])
        if fmt is not None and re.match(r"ACME\d{5}: ", fmt):
            continue
        end = args[-1][0] + len(args[-1][1])
        if PASS in raw[raw.rfind("\n", 0, raw.rfind("\n", 0, m.start())):raw.find("\n", end)]:
            if fmt is None or fmt.startswith("%"):
                continue
            problem(where, "%s() at level %s has a '%s' comment but its format \"%s\" is text of "
                    "its own; the rule: that comment is only for a call whose tag comes in an "
                    "argument (a format that is not a literal, or starts with \"%%s\"). Fix: "
                    "start the message with its own 'ACMEnnnnn: ' tag and drop the comment"
                    % (name, " ".join(level.split()), PASS, fmt[:40]))
            continue
        problem(where, "%s() at level %s without a leading 'ACMEnnnnn: ' tag; the rule: every "
                "message at debug level and above starts with its own tag. Fix: take the part's "
                "next number from mod_acme/LOGTAGS and bump next (or, when the tag comes in an "
                "argument, say '%s' in a comment above the call)"
                % (name, " ".join(level.split()), PASS))

for num in sorted(uses):
    places = uses[num]
    tag = "ACME%05d" % num
    if len(places) > 1:
        for rel, ln, _ in places[1:]:
            problem("%s:%d" % (rel, ln), "%s reused (first at %s:%d)"
                    % (tag, places[0][0], places[0][1]))
    for rel, ln, path in places:
        p = part_of(path)
        if p is None:
            problem("%s:%d" % (rel, ln), "%s: no part in LOGTAGS lists file %s"
                    % (tag, os.path.basename(path)))
        elif not any(lo <= num <= hi for lo, hi in p["ranges"]):
            problem("%s:%d" % (rel, ln), "%s is outside part %s (%s)"
                    % (tag, p["name"], p["spelled"]))

for p in parts:
    used = [n for n in uses if p["lo"] <= n <= p["hi"]]
    # Earlier ranges are full: next moved on to the last one.
    if not p["lo"] <= p["next"] <= p["hi"] + 1:
        problem(p["where"], "next %05d is outside %05d-%05d" % (p["next"], p["lo"], p["hi"]))
    if used and p["next"] <= max(used):
        problem(p["where"], "next %05d of part %s is not above ACME%05d, which is in use"
                % (p["next"], p["name"], max(used)))

for line in sorted(set(problems)):
    print(line)
if problems:
    print("check-logtags: %d problem(s); tags are listed in mod_acme/LOGTAGS" % len(problems))
    sys.exit(1)
print("check-logtags: %d tags in %d files OK" % (len(uses), len(files)))
PYEOF
