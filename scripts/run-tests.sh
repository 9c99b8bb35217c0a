#!/usr/bin/env bash
# The test runner behind `make test` / `make unit` / `make integration` / `make valgrind`.
#   scripts/run-tests.sh unit|integration|all|only SCRIPT [ARGS]
# Integration tests need a real S3 server: unless AWS_ENDPOINT_URL (or S3_ENDPOINT) is set,
# a throwaway Ceph RGW is started here and stopped on exit, by its pid files.
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
what=${1:-all}
passed=0 failed=0 broken=()
LOG=$(mktemp -d /tmp/sluice-tests.XXXXXX)
RGW_DIR=

cleanup() {
    if [ -n "$RGW_DIR" ]; then scripts/ceph-rgw.sh stop "$RGW_DIR" >/dev/null 2>&1; fi
    rm -rf "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run one test program; count what its output says it passed and failed
run_one() {
    local name=$1; shift
    local out="$LOG/$(basename "$name").out" rc p f
    echo "== $name"
    "$@" >"$out" 2>&1
    rc=$?
    grep -v -E '^\[ +(RUN|OK) +\]|^ok [0-9]' "$out" | sed 's/^/   /'
    p=$(sed -n -E 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p; s/^([0-9]+) passed, [0-9]+ failed.*/\1/p' "$out" | tail -1)
    f=$(sed -n -E 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p; s/^[0-9]+ passed, ([0-9]+) failed.*/\1/p' "$out" | tail -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        failed=$((failed + 1))            # it crashed or could not start: count it
        broken+=("$name (exit $rc)")
    fi
}

unit() {
    local t
    # the layering of fcgi/ (no handler calls another, no cycles), from the built objects
    run_one "fcgi layering" python3 scripts/fcgi-graph.py --build "$BUILD"
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        if [ -n "${VALGRIND:-}" ]; then
            run_one "$t (valgrind)" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
                --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$t"
        else
            run_one "$t" "$t"
        fi
    done
    # script tests of the built programs that need no servers (e.g. sluice-fcgi's flags)
    for t in tests/unit/test_*.sh; do
        [ -f "$t" ] && run_one "$t" env BUILD="$BUILD" bash "$t"
    done
}

start_s3() {
    if [ -z "${AWS_ENDPOINT_URL:-}" ] && [ -n "${S3_ENDPOINT:-}" ]; then
        export AWS_ENDPOINT_URL=$S3_ENDPOINT
    fi
    if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
        echo "== using the S3 server at $AWS_ENDPOINT_URL (bucket ${S3_BUCKET:-?})"
        return 0
    fi
    RGW_DIR=$(mktemp -d /tmp/sluice-rgw.XXXXXX)
    local env
    if ! env=$(scripts/ceph-rgw.sh start "$RGW_DIR" 2>"$LOG/rgw.err"); then
        cat "$LOG/rgw.err" >&2
        RGW_DIR=
        echo "could not start the local S3 server" >&2
        return 1
    fi
    eval "$env"
    export AWS_ENDPOINT_URL=$S3_ENDPOINT
    tail -1 "$LOG/rgw.err"
}

integration() {
    if ! start_s3; then
        failed=$((failed + 1)); broken+=("S3 server"); return
    fi
    local t
    for t in "$BUILD"/tests/it_*; do
        [ -x "$t" ] && run_one "$t" "$t"
    done
    for t in tests/integration/test_*.sh; do
        [ -f "$t" ] && run_one "$t" env BUILD="$BUILD" bash "$t"
    done
}

# one integration script against a fresh S3 server, e.g. the soak:
#   scripts/run-tests.sh only tests/integration/test_chaos.sh --minutes 10
only() {
    if ! start_s3; then
        failed=$((failed + 1)); broken+=("S3 server"); return
    fi
    local t=$1; shift
    run_one "$t" env BUILD="$BUILD" bash "$t" "$@"
}

case "$what" in
    unit) unit ;;
    integration) integration ;;
    all) unit; integration ;;
    only) shift; only "$@" ;;
    *) echo "usage: $0 unit|integration|all|only SCRIPT [ARGS]" >&2; exit 2 ;;
esac

# sanitizer reports written by processes whose stderr nobody reads (make asan sets log_path)
for f in "$BUILD"/san.*; do
    [ -f "$f" ] || continue
    echo "== sanitizer report $f"; sed 's/^/   /' "$f" | head -40
    failed=$((failed + 1)); broken+=("sanitizer report $f")
done
for b in "${broken[@]}"; do echo "broken: $b"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
