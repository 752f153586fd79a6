#!/bin/sh
# The long fuzz run: every target built by `make fuzz` in turn (one fuzzing
# process at a time, under nice -n 19) until TOTAL executions in all, then the
# line coverage of the core files the final corpora reach.
#   tests/fuzz/long.sh [TOTAL-EXECS [TARGET...]]     (default 10000000, all)
#   FUZZ_SECS=N   stop after about N seconds in all (default: no limit); each
#                 target gets an equal share of the executions and of the time
#                 left, and a target that ends early (slower than its share)
#                 leaves the executions it did not do to the ones after it.
#   FUZZ_COVERAGE=0  skip the coverage part (tests/fuzz/coverage.sh).
# Each target fuzzes its corpus in tests/fuzz/work/<target> (not in git) with
# the seeds of tests/fuzz/corpus/<target>; at the end the corpus is merged
# (libFuzzer -merge=1: only inputs that add coverage are kept). A crash, leak,
# timeout or sanitizer report is kept as tests/fuzz/work/<kind>-<hash>, the
# target's log says where; the target then goes on with the executions it has
# left (at most 3 findings per target). Prints one line per target:
# executions, exec/s, corpus size before/after, coverage (edges) at the start
# and the end, findings; then the total and the coverage table. Exits non-zero
# on any finding.
set -u
cd "$(dirname "$0")/../.."
SRC=$PWD
total=${1:-10000000}
[ $# -gt 0 ] && shift
BIN=${FUZZ_BIN:-${ACME_BUILD_DIR:-$SRC}/tests/fuzz/bin}
WORK=${FUZZ_WORK:-$SRC/tests/fuzz/work}
targets="$*"
[ -n "$targets" ] || targets=$(cd "$BIN" && ls fuzz_* | grep -v '\.d$' | sed 's/^fuzz_//')
targets=$(echo $targets)
[ -n "$targets" ] || { echo "no fuzz targets in $BIN: run make fuzz" >&2; exit 2; }
mkdir -p "$WORK"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
NICE="nice -n 19"

# The slow targets first, so the fast ones make up what the slow ones leave.
order=""
for t in store conf client jws der_cert pem_chain key_pem; do
    case " $targets " in *" $t "*) order="$order $t" ;; esac
done
for t in $targets; do
    case " $order " in *" $t "*) ;; *) order="$order $t" ;; esac
done
n=$(echo $order | wc -w)
start=$(date +%s)
left_execs=$total left_n=$n all_execs=0 failed=0
summary="$WORK/long-summary.txt"
printf '%-12s %10s %7s %13s %13s %8s\n' target execs exec/s corpus edges findings >"$summary"
for t in $order; do
    share=$((left_execs / left_n))
    tlimit=0
    if [ -n "${FUZZ_SECS:-}" ]; then
        tlimit=$(( (FUZZ_SECS - ($(date +%s) - start)) / left_n ))
        [ "$tlimit" -ge 10 ] || tlimit=10
    fi
    mkdir -p "$WORK/$t"
    corp0=$(ls "$WORK/$t" | wc -l)
    log="$WORK/$t.long.log"
    : >"$log"
    done_execs=0 finds=0 cov0="" cov1="" t0=$(date +%s)
    while [ "$done_execs" -lt "$share" ] && [ "$finds" -lt 3 ]; do
        spent=$(( $(date +%s) - t0 ))
        secs=0
        if [ "$tlimit" -gt 0 ]; then
            secs=$((tlimit - spent))
            [ "$secs" -gt 0 ] || break
        fi
        $NICE "$BIN/fuzz_$t" -runs=$((share - done_execs)) -max_total_time="$secs" \
            -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
            -artifact_prefix="$WORK/" "$WORK/$t" "$SRC/tests/fuzz/corpus/$t" >"$log.part" 2>&1
        rc=$?
        cat "$log.part" >>"$log"
        e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.part" | tail -1)
        # a crash ends before the final stats: count up to the last status line
        [ -n "$e" ] || e=$(grep -oE '^#[0-9]+' "$log.part" | tail -1 | tr -d '#')
        done_execs=$((done_execs + ${e:-0}))
        [ -n "$cov0" ] || cov0=$(grep -E 'INITED' "$log.part" | grep -oE 'cov: [0-9]+' | head -1 | cut -d' ' -f2)
        c=$(grep -E '^#[0-9]+' "$log.part" | grep -oE 'cov: [0-9]+' | tail -1 | cut -d' ' -f2)
        [ -z "$c" ] || cov1=$c
        if [ "$rc" -ne 0 ]; then
            finds=$((finds + 1))
            failed=1
            grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log.part" | head -5 | sed "s/^/  $t: /"
        fi
        [ "${e:-0}" -gt 0 ] || [ "$rc" -ne 0 ] || break
    done
    rm -f "$log.part"
    secs=$(( $(date +%s) - t0 ))
    [ "$secs" -gt 0 ] || secs=1
    # keep only the inputs that add coverage
    mkdir -p "$WORK/$t.merged"
    $NICE "$BIN/fuzz_$t" -merge=1 -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        "$WORK/$t.merged" "$WORK/$t" "$SRC/tests/fuzz/corpus/$t" >"$WORK/$t.merge.log" 2>&1 &&
        rm -rf "$WORK/$t" && mv "$WORK/$t.merged" "$WORK/$t"
    rm -rf "$WORK/$t.merged"
    corp1=$(ls "$WORK/$t" | wc -l)
    printf '%-12s %10d %7d %6d->%-6d %6s->%-6s %8d\n' "$t" "$done_execs" $((done_execs / secs)) \
        "$corp0" "$corp1" "${cov0:-?}" "${cov1:-?}" "$finds" | tee -a "$summary"
    all_execs=$((all_execs + done_execs))
    left_execs=$((total - all_execs))
    [ "$left_execs" -gt 0 ] || left_execs=0
    left_n=$((left_n - 1))
done
echo "total executions: $all_execs in $(( $(date +%s) - start )) s" | tee -a "$summary"
if [ "${FUZZ_COVERAGE:-1}" != 0 ]; then
    sh "$SRC/tests/fuzz/coverage.sh" $order || failed=1
fi
exit $failed
