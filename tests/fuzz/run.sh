#!/bin/sh
# Runs every fuzz target (built by `make fuzz`) for SECONDS each, one after
# the other, from its seed corpus (tests/fuzz/corpus/<target>, read-only)
# plus what earlier runs found (tests/fuzz/work/<target>, not in git).
# Exits non-zero when a target finds a crash, a leak or a sanitizer report;
# the input is left in tests/fuzz/work/crash-* / leak-* / ... and the
# target's log in tests/fuzz/work/<target>.log. Prints one line per target:
# executions, coverage (cov: edges, ft: features) and corpus size.
#   tests/fuzz/run.sh SECONDS [TARGET...]
#   FUZZ_BIN=dir (default: tests/fuzz/bin of the build tree in ACME_BUILD_DIR or .)
set -u
cd "$(dirname "$0")/../.."
SRC=$PWD
secs=${1:-5}
[ $# -gt 0 ] && shift
BIN=${FUZZ_BIN:-${ACME_BUILD_DIR:-$SRC}/tests/fuzz/bin}
WORK=${FUZZ_WORK:-$SRC/tests/fuzz/work}
targets="$*"
[ -n "$targets" ] || targets=$(cd "$BIN" && ls fuzz_* | grep -v '\.d$' | sed 's/^fuzz_//')
[ -n "$targets" ] || { echo "no fuzz targets in $BIN: run make fuzz" >&2; exit 2; }
mkdir -p "$WORK"
# Leaks count as findings; a slow input (10 s) too; inputs stay small.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0 total_execs=0
for t in $targets; do
    mkdir -p "$WORK/$t"
    log="$WORK/$t.log"
    "$BIN/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$WORK/" "$WORK/$t" "$SRC/tests/fuzz/corpus/$t" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' )
    printf '%-12s rc=%d execs=%s %s\n' "$t" "$rc" "${execs:-0}" "${cov:-}"
    total_execs=$((total_execs + ${execs:-0}))
    if [ "$rc" -ne 0 ]; then
        failed=1
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5
    fi
done
echo "total executions: $total_execs"
exit $failed
