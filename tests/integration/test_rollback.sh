#!/usr/bin/env bash
# Rollback: clients killed at several offsets (FIN and RST), idle clients, the S3 server
# stopped mid-upload, over-limit bodies, a worker killed mid-upload, and full slots. After each:
# no drop, no staging object, ListMultipartUploads empty (after the janitor where the worker
# was killed), every slot free.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack rb
RGW_PID=$(cat "${S3_WORKDIR:-/nonexistent}/run/client.rgw.a.pid" 2>/dev/null || true)
before_exit() { [ -n "$RGW_PID" ] && kill -CONT "$RGW_PID" 2>/dev/null; return 0; }
export SLUICE_PREFIX="it-rb-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$
export SLUICE_SLOTS=2 SLUICE_IDLE=2s SLUICE_STALL=3s SLUICE_RETRIES=1 SLUICE_MAX_SIZE=20M
export SLUICE_BUFFER_CAP=12M SLUICE_PART_SIZE=5M SLUICE_THREADS=8 SLUICE_DRAIN=3s
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port); LP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
stack_start_lighttpd "$W" "$LP" || exit 1
NGINX=http://127.0.0.1:$NP
RAW="python3 tests/integration/rawclient.py"
MiB=$((1024 * 1024))

slots_free() { [ "$(metric sluice_slots_in_use "$NGINX")" = 0 ]; }
count() { # PREFIX-SUFFIX -> objects under it
    aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX$1" \
        --query 'length(Contents || `[]`)' --output text
}
uploads() {
    aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX" \
        --query 'length(Uploads || `[]`)' --output text
}
nothing_left() { # DESC
    wait_for "$1: every slot free" 30 slots_free
    check "$1: no multipart upload left" 0 "$(uploads)"
    check "$1: no reservation marker" 0 "$(count reserved/)"
    check "$1: no bytes" 0 "$(count drops/)"
    check "$1: no drop record" 0 "$(count meta/)"
}

# clients that go away mid-body
for port in "$NP" "$LP"; do
    front=nginx; [ "$port" = "$LP" ] && front=lighttpd
    for at in 0 100000 $((5 * MiB + 3)) $((13 * MiB)); do
        $RAW "$port" /api/drops/cut.bin "$SLUICE_TOKEN" $((20 * MiB)) --stop-at "$at" >/dev/null
        nothing_left "$front: client closed after $at bytes"
    done
    $RAW "$port" /api/drops/rst.bin "$SLUICE_TOKEN" $((20 * MiB)) --stop-at $((7 * MiB)) --rst >/dev/null
    nothing_left "$front: client reset after 7 MiB"
done
$RAW "$NP" /api/drops/cut.bin "$SLUICE_TOKEN" $((20 * MiB)) --chunked --stop-at $((6 * MiB)) >/dev/null
nothing_left "nginx: chunked client closed after 6 MiB"

# idle clients: 408 from sluice's own idle timeout (2 s), through both front servers
for port in "$NP" "$LP"; do
    front=nginx; [ "$port" = "$LP" ] && front=lighttpd
    out=$($RAW "$port" /api/drops/idle.bin "$SLUICE_TOKEN" $((20 * MiB)) --idle-at $((6 * MiB)) --timeout 20)
    check "$front: idle client gets 408" 408 "${out%% *}"
    contains "$front: idle client: JSON error" '"error":"request_timeout"' "$out"
    nothing_left "$front: idle client"
done

m=$(metrics "$NGINX")
check "rolled-back uploads are counted by reason" 2 \
    "$(metric_of 'sluice_uploads_rolled_back_total{reason="request_timeout"}' <<< "$m")"
check "aborted uploads are counted too" yes \
    "$(metric_of 'sluice_uploads_rolled_back_total{reason="client_gone"}' <<< "$m" | awk '{ print ($1 >= 1 ? "yes" : "no") }')"

# over the size limit (20M)
out=$($RAW "$NP" /api/drops/big.bin "$SLUICE_TOKEN" $((30 * MiB)))
check "Content-Length over the limit: 413" 413 "${out%% *}"
t0=$(date +%s.%N)
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SLUICE_TOKEN" \
       --data-binary @<(head -c $((30 * MiB)) /dev/zero) -X PUT "$NGINX/api/drops/big2.bin")
t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
check "curl gets 413 for an over-limit Content-Length" 413 "$code"
check "and at once (under 1 s: $t s)" 1 "$(awk -v t="$t" 'BEGIN{print (t < 1) ? 1 : 0}')"
out=$($RAW "$NP" /api/drops/big.bin "$SLUICE_TOKEN" $((30 * MiB)) --chunked)
check "chunked body crossing the limit: 413" 413 "${out%% *}"
nothing_left "over the limit"

# the S3 server stops mid-upload: 504 after the stall timeout, then the undo completes
if [ -n "$RGW_PID" ] && kill -0 "$RGW_PID" 2>/dev/null; then
    $RAW "$NP" /api/drops/stall.bin "$SLUICE_TOKEN" $((18 * MiB)) --rate $((4 * MiB)) --timeout 60 > "$W/stall.out" &
    cpid=$!
    sleep 1.5   # the upload is under way (6 MiB in: the first part is in S3's hands)
    kill -STOP "$RGW_PID"
    # paused for 8 s: longer than the stall timeout (3 s), so the upload fails; the rollback
    # keeps trying (S3 is why it is rolling back) and finishes once S3 is back
    sleep 8
    kill -CONT "$RGW_PID"
    wait_for "S3 stopped: the client gets an answer" 40 bash -c "[ -s '$W/stall.out' ]"
    wait "$cpid"
    out=$(cat "$W/stall.out")
    check "S3 stopped mid-upload: 504" 504 "${out%% *}"
    contains "S3 stopped: JSON error" '"error":"storage_timeout"' "$out"
    nothing_left "S3 stopped mid-upload"
else
    bad "S3 stopped mid-upload" "no radosgw pid (S3_WORKDIR not set by the runner)"
fi

# a worker killed mid-upload: the kernel frees its slot; the janitor aborts its upload and
# removes its reservation
$RAW "$NP" /api/drops/killed.bin "$SLUICE_TOKEN" $((18 * MiB)) --rate $((2 * MiB)) --timeout 20 > "$W/killed.out" &
cpid=$!
wait_for "killed worker: its upload is under way" 10 bash -c "[ \"\$(aws_s3() { /usr/bin/aws --endpoint-url $AWS_ENDPOINT_URL s3api \"\$@\"; }; aws_s3 list-multipart-uploads --bucket $S3_BUCKET --prefix $SLUICE_PREFIX --query 'length(Uploads || \`[]\`)' --output text)\" = 1 ]"
kill -9 "$(cat "$W/workers.pid")"
wait "$cpid"
out=$(cat "$W/killed.out")
check "killed worker: the client gets a 502 from nginx" 502 "${out%% *}"
stack_start_workers "$W" || exit 1
wait_for "killed worker: its slot is free again" 10 slots_free
check "killed worker: its multipart upload is still there" 1 "$(uploads)"
out=$("$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" janitor --older-than 0s)
contains "killed worker: the janitor aborts it" "1 aborted, 1 reservations removed" "$out"
nothing_left "killed worker, after the janitor"

# slots: with both held by slow uploads, the next one gets 503 + Retry-After at once
$RAW "$NP" /api/drops/slow1.bin "$SLUICE_TOKEN" $((20 * MiB)) --rate 200000 --timeout 5 >/dev/null 2>&1 &
s1=$!
$RAW "$NP" /api/drops/slow2.bin "$SLUICE_TOKEN" $((20 * MiB)) --rate 200000 --timeout 5 >/dev/null 2>&1 &
s2=$!
wait_for "slots: both held by slow uploads" 10 bash -c "[ \"\$(metrics $NGINX | awk '\$1==\"sluice_slots_in_use\"{print \$2}')\" = 2 ]"
t0=$(date +%s%N)
hdrs=$(curl -sS -D- -o "$W/busy.out" -H "Authorization: Bearer $SLUICE_TOKEN" -T <(head -c $((5 * MiB)) /dev/zero) "$NGINX/api/drops/third.bin" | tr -d '\r')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
contains "slots full: 503" "HTTP/1.1 503" "$hdrs"
contains "slots full: Retry-After" "Retry-After: 2" "$hdrs"
check "slots full: JSON error" busy "$(jget error < "$W/busy.out")"
check "slots full: answered in under 500 ms ($ms ms)" 1 "$([ "$ms" -lt 500 ] && echo 1 || echo 0)"
kill "$s1" "$s2" 2>/dev/null; wait "$s1" "$s2" 2>/dev/null
wait_for "slots: free again once the slow uploads are gone" 30 slots_free
json=$(curl -sS -H "Authorization: Bearer $SLUICE_TOKEN" -T <(head -c $MiB /dev/zero) "$NGINX/api/drops/fourth.bin")
check "slots: the next upload succeeds" "fourth.bin" "$(printf '%s' "$json" | jget name)"
check "slots: exactly that one drop exists" 1 "$(count meta/)"
check "slots: and its bytes" 1 "$(count drops/)"
check "no multipart upload left at the end" 0 "$(uploads)"
check "no reservation marker left at the end" 0 "$(count reserved/)"

# SIGTERM drains: an upload that ends within server.drain_timeout (3 s) completes; one that
# does not is rolled back with 503; the worker exits either way
aws_s3 s3 rm --quiet --recursive "s3://$S3_BUCKET/$SLUICE_PREFIX" >/dev/null 2>&1
drain_case() { # BYTES RATE EXPECTED-STATUS DESC
    local wpid out mark
    wpid=$(cat "$W/workers.pid")
    $RAW "$NP" /api/drops/drain.bin "$SLUICE_TOKEN" "$1" --rate "$2" --timeout 30 > "$W/drain.out" &
    local cpid=$!
    wait_for "$4: the upload is under way" 10 bash -c "[ \"\$(metrics $NGINX | awk '\$1==\"sluice_slots_in_use\"{print \$2}')\" = 1 ]"
    mark=$(log_mark "$W/worker.log")   # the log is appended to: only what follows counts
    kill -TERM "$wpid"
    wait "$cpid"
    out=$(cat "$W/drain.out")
    check "$4: answer" "$3" "${out%% *}"
    wait_for "$4: the worker exited" 15 bash -c ". scripts/stack-lib.sh; ! alive $wpid"
    out=$(log_since "$W/worker.log" "$mark")
    contains "$4: worker log says it drained" "sluice-fcgi: Terminated: draining" "$out"
    contains "$4: worker log says it stopped" "sluice-fcgi: stopped" "$out"
    stack_start_workers "$W" || exit 1
}
drain_case $((4 * MiB)) $((2 * MiB)) 201 "SIGTERM, short upload"
check "SIGTERM, short upload: its drop exists" 1 "$(count meta/)"
aws_s3 s3 rm --quiet --recursive "s3://$S3_BUCKET/$SLUICE_PREFIX" >/dev/null 2>&1
drain_case $((20 * MiB)) $((1 * MiB)) 503 "SIGTERM, long upload"
contains "SIGTERM, long upload: shutting_down error" '"error":"shutting_down"' "$(cat "$W/drain.out")"
nothing_left "SIGTERM, long upload"
finish
