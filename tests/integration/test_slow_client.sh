#!/usr/bin/env bash
# Slow clients against a store that drops a stalled request body, as AWS does after ~20 s:
# sluice must open an S3 request only once its bytes are in the queue, so no part (nor a
# single PUT) sits idle on the wire while the client fills the bytes before it.
#
# This test starts an RGW of its own whose beast frontend drops a request that sends nothing
# for RGW_REQUEST_TIMEOUT_MS, and first proves that it does. Two variants:
# - short (default, for `make test`): timeout 2 s, 5 MiB parts, 2 in flight, no S3 retries.
#   A 20 MiB upload whose first part comes fast and whose next 400 kB come at 50 kB/s (8 s),
#   then fast again: the old code's part 3, opened as soon as part 1 was acknowledged, sat
#   idle those 8 s while part 2 filled and was dropped (a 502 here; with retries the retry,
#   sent once the bytes were there, got through: one error per stalled request). That is
#   what a constant 50 kB/s does to every part after the first, once instead of three
#   times. And a 1 MiB single PUT whose client pauses 7 s after 64 KiB.
# - full (SLOW_FULL=1, or `make soak-slow`): timeout 20 s (AWS's), the default 8 MiB parts
#   and retries, the whole 20 MiB at a constant 50 kB/s (~7 min); the single PUT pauses 25 s.
# Both: 201, byte-identical, and no S3 request of the upload failed (an old-code run that
# survived on retries fails that check).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack slow
MiB=$((1024 * 1024))
if [ "${SLOW_FULL:-0}" = 1 ]; then
    variant=full TIMEOUT_MS=20000 PAUSE=25
    export SLUICE_PART_SIZE=8M SLUICE_BUFFER_CAP=16M SLUICE_RETRIES=4
    SLOW=(--rate 50000)
else
    variant=short TIMEOUT_MS=2000 PAUSE=7
    export SLUICE_PART_SIZE=5M SLUICE_BUFFER_CAP=10M SLUICE_RETRIES=0
    SLOW=(--rate 50000 --rate-from $((5 * MiB)) --rate-to $((5 * MiB + 400000)))
fi
echo "# variant: $variant (RGW request_timeout_ms=$TIMEOUT_MS, part size $SLUICE_PART_SIZE, client ${SLOW[*]})"

# an RGW of our own (the shared one keeps its default timeout); the cluster is thrown away
# whole at the end, so nothing needs removing from its bucket
RGW_W=$W/rgw
before_exit() {
    stack_stop "$W"
    scripts/ceph-rgw.sh stop "$RGW_W" >/dev/null 2>&1
    unset SLUICE_PREFIX
}
env_out=$(RGW_REQUEST_TIMEOUT_MS=$TIMEOUT_MS BLUESTORE_BYTES=$((4 << 30)) \
          scripts/ceph-rgw.sh start "$RGW_W" 2>"$W/rgw.err") || { bad "start RGW" "$(tail -5 "$W/rgw.err")"; finish; exit 1; }
eval "$env_out"
export AWS_ENDPOINT_URL=$S3_ENDPOINT
RGW_PORT=${S3_ENDPOINT##*:}

# the premise: this RGW drops a request that sends nothing for the timeout (here, headers
# that never end), and not much later
dropped_after=$(python3 - "$RGW_PORT" "$TIMEOUT_MS" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PUT /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n")
s.settimeout(int(sys.argv[2]) / 1000 * 3 + 5)
t = time.time()
try:
    while s.recv(4096):
        pass
except OSError:
    pass
print(round(time.time() - t))
PY
)
timeout_s=$((TIMEOUT_MS / 1000))
if [ "$dropped_after" -ge "$timeout_s" ] && [ "$dropped_after" -le $((timeout_s + 2)) ]; then
    ok "the store drops a stalled request after ${dropped_after}s"
else
    bad "the store drops a stalled request after ${timeout_s}s" "after ${dropped_after}s"
fi

export SLUICE_PREFIX="it-slow-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$ SLUICE_PARALLEL=2
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
RAW="python3 tests/integration/rawclient.py"
# S3 requests that failed, all operations together (each one is a drop or a retry)
# ("unreadable" when /metrics did not answer with sluice's metrics: never a silent 0)
s3_errors() {
    local m
    m=$(metrics "$B") && printf '%s\n' "$m" | grep -q '^sluice_slots_in_use ' || { echo unreadable; return; }
    printf '%s\n' "$m" | awk '$1 ~ /^sluice_s3_errors_total/ { n += $2 } END { print n + 0 }'
}

upload() { # DESC NAME SIZE RAWCLIENT-ARGS...
    local desc=$1 name=$2 size=$3 out id e0
    shift 3
    e0=$(s3_errors)
    check "$desc: the error count is readable" yes "$([ "$e0" != unreadable ] && echo yes)"
    out=$($RAW "$NP" "/api/drops/$name" "$SLUICE_TOKEN" "$size" --sha-file "$W/$name.sha" --timeout 60 "$@")
    check "$desc: 201" 201 "${out%% *}"
    id=$(printf '%s' "$out" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')   # (the body is cut at 300)
    check "$desc: byte-identical" "$(cat "$W/$name.sha")" \
        "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"
    check "$desc: no S3 request dropped or retried" "$e0" "$(s3_errors)"
}

t0=$SECONDS
upload "20 MiB multipart, $variant slow client" slow.bin $((20 * MiB)) "${SLOW[@]}"
echo "# multipart took $((SECONDS - t0)) s"
upload "1 MiB single PUT, client pausing ${PAUSE}s" pause.bin $((1 * MiB)) \
    --pause-at 65536 --pause "$PAUSE"
finish
