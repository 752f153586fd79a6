#!/bin/sh
# Line coverage of the core by the fuzz corpora: builds the targets without
# sanitizers and with clang's source-based coverage (`make fuzz-coverage`,
# tests/fuzz/cov-bin), replays each target's corpus once (tests/fuzz/work/<t>
# and the seeds tests/fuzz/corpus/<t>), merges the profiles (llvm-profdata)
# and prints llvm-cov's per-file table for the core files the corpora reach,
# then the count of core files linked in but not reached at all.
#   tests/fuzz/coverage.sh [TARGET...]        (default: every built target)
#   run from the source tree (or ACME_BUILD_DIR=build tree)
# Leaves tests/fuzz/work/coverage/{<t>.profraw,fuzz.profdata,report.txt}.
set -eu
cd "$(dirname "$0")/../.."
SRC=$PWD
BUILD=${ACME_BUILD_DIR:-$SRC}
WORK=${FUZZ_WORK:-$SRC/tests/fuzz/work}
COVBIN=$BUILD/tests/fuzz/cov-bin
OUTD=$WORK/coverage
PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
LLVMCOV=${LLVM_COV:-llvm-cov}
(cd "$BUILD" && nice -n 19 make -s fuzz-coverage >/dev/null)
targets="$*"
[ -n "$targets" ] || targets=$(cd "$COVBIN" && ls fuzz_* | grep -v '\.d$' | sed 's/^fuzz_//')
rm -rf "$OUTD"
mkdir -p "$OUTD"
objs=""
for t in $targets; do
    dirs=""
    for d in "$WORK/$t" "$SRC/tests/fuzz/corpus/$t"; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    # -runs=0: read and run every input of the corpus once, then stop
    LLVM_PROFILE_FILE="$OUTD/$t.profraw" nice -n 19 "$COVBIN/fuzz_$t" -runs=0 -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 $dirs >"$OUTD/$t.log" 2>&1 ||
        { echo "coverage replay of $t failed: $OUTD/$t.log" >&2; exit 1; }
    if [ -z "$objs" ]; then objs="$COVBIN/fuzz_$t"; else objs="$objs -object $COVBIN/fuzz_$t"; fi
done
"$PROFDATA" merge -sparse "$OUTD"/*.profraw -o "$OUTD/fuzz.profdata"
# core files only (not the targets, not the libraries)
"$LLVMCOV" report $objs -instr-profile="$OUTD/fuzz.profdata" \
    -ignore-filename-regex='(tests/|/usr/)' >"$OUTD/report.txt"
echo "line coverage of the core by the fuzz corpora ($(echo $targets | wc -w) targets):"
awk -v src="$SRC/" '
    /^Filename/ { next }
    /^-+$/ { next }
    NF >= 13 {
        f = $1; sub(src, "", f); sub(/^.*mod_acme\/core\//, "", f)
        lines = $8; missed = $9; pct = $10
        if ($1 == "TOTAL") { tl = lines; tm = missed; tp = pct; next }
        if (lines == missed) { unreached++; next }
        printf "  %-36s %6d lines %6d missed %8s\n", f, lines, missed, pct
        rl += lines; rm += missed
    }
    END {
        if (rl > 0) printf "  %-36s %6d lines %6d missed %7.2f%%\n", "reached files", rl, rm, 100 * (rl - rm) / rl
        printf "  %-36s %6d lines %6d missed %8s\n", "all linked core files", tl, tm, tp
        printf "  core files linked in but not reached: %d\n", unreached
    }' "$OUTD/report.txt"
