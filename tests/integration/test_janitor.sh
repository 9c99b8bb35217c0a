#!/usr/bin/env bash
# The janitor's sweep against the real RGW: objects under drops/ and thumbs/ that neither a
# record nor a reservation refers to are deleted once older than the grace period (and than a
# PUT URL's life); a live drop's objects and a live reservation's bytes are not. A small bound
# per run pages through everything, run after run; janitors at once (sluicectl and a worker's
# start-up pass in the background) agree.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack jan
RGW_PID=$(cat "${S3_WORKDIR:-/nonexistent}/run/client.rgw.a.pid" 2>/dev/null || true)
before_exit() { [ -n "$RGW_PID" ] && kill -CONT "$RGW_PID" 2>/dev/null; return 0; }
# URLs live 15 s; the sweep's own grace is shorter (5 s), so the URL's life is what counts
# (15 s: making the objects below takes several seconds on a loaded machine, and they must all
# still be young at the first run)
export SLUICE_PREFIX="it-jan-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$ SLUICE_RESERVE_TTL=1h \
    SLUICE_DIRECT_EXPIRES=15s SLUICE_SWEEP_GRACE=5s
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
AUTH="Authorization: Bearer $SLUICE_TOKEN"
P=$SLUICE_PREFIX
make_file "$W/small" 1000
has() { aws_s3 s3api head-object --bucket "$S3_BUCKET" --key "$P$1" >/dev/null 2>&1 && echo yes || echo no; }
put_raw() { aws_s3 s3api put-object --bucket "$S3_BUCKET" --key "$P$1" --body "$W/small" >/dev/null; }
janitor() { "$SLUICE_BUILD"/sluicectl -c "${JCONF:-$W/sluice.conf}" janitor; }
reserve() {
    curl -sS -H "$AUTH" -d '{"name":"d.bin","size":1000,"content_type":"application/x-test","mode":"put"}' "$B/api/uploads"
}

# live: three streamed drops (bytes and record), a thumbnail of the first, and a direct
# upload whose bytes are in but which nobody completed yet (its reservation lives)
live=()
for n in 1 2 3; do
    live+=("$(curl -sS -H "$AUTH" -T "$W/small" "$B/api/drops/live$n.bin" | jget id)")
done
put_raw "thumbs/${live[0]}"
json=$(reserve)
rid=$(printf '%s' "$json" | jget id)
check "a live reservation's bytes are in" 200 "$(direct_put "$json" "$W/small")"
# a drop deleted while its PUT URL lives, and the URL replayed: bytes nothing refers to
json=$(reserve)
did=$(printf '%s' "$json" | jget id) dtok=$(printf '%s' "$json" | jget delete_token)
direct_put "$json" "$W/small" >/dev/null
check "deleted drop: committed" 201 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -H "X-Upload-Token: $(printf '%s' "$json" | jget upload_token)" -X POST "$B/api/uploads/$did/complete")"
check "deleted drop: deleted" 204 "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "X-Delete-Token: $dtok" "$B/api/drops/$did")"
check "deleted drop: its URL replayed writes the bytes again" 200 "$(direct_put "$json" "$W/small")"
# orphans made directly (ids that sort after the live ones: a sweep that always started from
# the beginning would never reach them with a small bound)
orphans=()
for n in 1 2 3; do orphans+=("drops/zzzzzzzzzzzzzzzzzzzzz$n"); done
for n in 4 5; do orphans+=("thumbs/zzzzzzzzzzzzzzzzzzzzz$n"); done
for k in "${orphans[@]}"; do put_raw "$k"; done
orphans+=("drops/$did")
t0=$SECONDS   # the last of them written

# young orphans are left alone
out=$(janitor)
contains "young orphans: none swept" "0 orphans swept" "$out"
check "young orphans: still there" yes "$(has "${orphans[0]}")"
check "young orphans: the replayed bytes still there" yes "$(has "drops/$did")"

past_grace() { [ $((SECONDS - t0)) -ge 16 ]; }
wait_for "the orphans are older than the grace and the URL's life" 25 past_grace
# at most 2 objects per run: each run goes on where the last one stopped
{ cat "$W/sluice.conf"; printf '[janitor]\nsweep_max = 2\n'; } > "$W/j2.conf"
total=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${P}drops/" --query 'length(Contents || `[]`)' --output text)
total=$((total + $(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${P}thumbs/" --query 'length(Contents || `[]`)' --output text)))
check "objects under drops/ and thumbs/ before the sweep" 11 "$total"
runs=0 swept=0 over=0 cursor_seen=no
gone_all() { local k; for k in "${orphans[@]}"; do [ "$(has "$k")" = no ] || return 1; done; }
while [ $runs -lt 12 ]; do
    out=$(JCONF=$W/j2.conf janitor)
    runs=$((runs + 1))
    looked=$(printf '%s\n' "$out" | sed -n 's/.*orphans swept (\([0-9]*\) looked at).*/\1/p')
    [ "${looked:-99}" -le 2 ] || over=$((over + 1))
    swept=$((swept + $(printf '%s\n' "$out" | grep -c '^swept ')))
    [ "$(has janitor/sweep)" = yes ] && cursor_seen=yes
    gone_all && break
done
check "bounded sweep: no run looked at more than 2 objects" 0 "$over"
check "bounded sweep: the pass kept its place between runs" yes "$cursor_seen"
[ $runs -le 6 ] && ok "bounded sweep: every orphan gone in $runs runs of 2 (11 objects)" ||
    bad "bounded sweep: every orphan gone within 6 runs of 2" "$runs runs"
check "bounded sweep: orphans swept" "${#orphans[@]}" "$swept"
for k in "${orphans[@]}"; do check "swept: $k" no "$(has "$k")"; done
for id in "${live[@]}"; do
    check "live drop $id: bytes kept" yes "$(has "drops/$id")"
    check "live drop $id: record kept" yes "$(has "meta/$id")"
done
check "live drop: its thumbnail kept" yes "$(has "thumbs/${live[0]}")"
check "live reservation: its bytes kept" yes "$(has "drops/$rid")"
check "live reservation: its marker kept" yes "$(has "reserved/$rid")"
out=$(janitor)   # an unbounded run ends whatever pass is under way: the place it kept goes
check "bounded sweep: no cursor left once a pass ended" no "$(has janitor/sweep)"
check "the live drops are served" 1000 "$(curl -sS -H 'Accept: application/json' "$B/d/${live[2]}" | jget size)"

# several janitors at once: sluicectl and a restarted worker's start-up pass (in the background:
# the worker answers while it sweeps), over new orphans
more=()
for n in 6 7 8; do more+=("drops/zzzzzzzzzzzzzzzzzzzzz$n"); put_raw "drops/zzzzzzzzzzzzzzzzzzzzz$n"; done
t0=$SECONDS
wait_for "the new orphans are older than the grace" 25 past_grace
stack_stop_workers "$W"
: > "$W/worker.log"
stack_start_workers "$W" || exit 1
janitor > "$W/j.out" 2>&1 & jp=$!
check "the restarted worker answers while its janitor runs" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/healthz")"
wait $jp
worker_done() { grep -q "janitor: .* orphans swept" "$W/worker.log"; }
wait_for "the worker's start-up janitor reports its sweep in the log" 20 worker_done
for k in "${more[@]}"; do check "two janitors: $k swept" no "$(has "$k")"; done
failed_of() { sed -n 's/.* \([0-9][0-9]*\) failed$/\1/p'; }   # the whole count, not "10 failed"
check "two janitors: sluicectl failed nothing" 0 "$(tail -1 "$W/j.out" | failed_of)"
check "two janitors: the worker failed nothing" 0 "$(grep "orphans swept" "$W/worker.log" | failed_of)"
for id in "${live[@]}"; do check "two janitors: live drop $id kept" yes "$(has "meta/$id")"; done
check "two janitors: the live reservation kept" yes "$(has "reserved/$rid")"

# the start-up pass runs in the background: with S3 paused a new worker still answers at once
# (it used to run the janitor before serving, so it answered nothing until S3 came back)
if [ -n "$RGW_PID" ]; then
    stack_stop_workers "$W"
    : > "$W/worker.log"
    kill -STOP "$RGW_PID"
    stack_start_workers "$W" || exit 1
    check "S3 paused: a new worker answers at once" 200 "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$B/healthz")"
    kill -CONT "$RGW_PID"
    wait_for "S3 back: the worker's janitor finishes in the background" 90 worker_done
else
    bad "S3 paused" "no radosgw pid (S3_WORKDIR not set by the runner)"
fi
finish
