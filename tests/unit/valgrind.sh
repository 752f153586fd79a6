#!/bin/sh
# The unit test programs under valgrind memcheck, JOBS at a time (make
# check-valgrind): any memcheck error, or a definite leak, fails. Each
# program's log goes to <program>.valgrind.log.
#   tests/unit/valgrind.sh SRCDIR JOBS PROGRAM...
set -u
if [ "$1" = "--one" ]; then
    srcdir=$2 prog=$3
    # Time bounds of CPU work do not hold under valgrind (test_cluster.c's
    # silent-server test leaves its upper bound out there).
    export ACME_UNDER_VALGRIND=1
    if valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
            --errors-for-leak-kinds=definite --suppressions="$srcdir/tests/unit/valgrind.supp" \
            "./$prog" >"$prog.valgrind.log" 2>&1; then
        echo "PASS: $prog (valgrind)"
        exit 0
    fi
    echo "FAIL: $prog (valgrind)"
    tail -60 "$prog.valgrind.log"
    exit 1
fi
srcdir=$1 jobs=$2
shift 2
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh "$0" --one "$srcdir" {}
