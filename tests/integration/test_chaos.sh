#!/usr/bin/env bash
# The randomized fault run (tests/integration/chaos.py): concurrent uploads through nginx and
# two sluice workers whose S3 traffic passes through faultproxy.py, one fault per round (S3
# 5xx/SlowDown once or for good, connection resets mid-body, stalls, latency, bandwidth caps,
# refused connections, RGW paused with SIGSTOP or killed and restarted, a worker SIGKILLed or
# SIGTERMed (its master replaces it), the janitor at its real ages while uploads run, drops
# deleted while S3 fails), clients that abort at random offsets or go idle; invariants
# checked after every round, and a last sweep that must find no orphan.
#   test_chaos.sh [chaos.py options]    e.g. --seed 42, --uploads 5000 --minutes 10 (the soak)
# Defaults: CHAOS_UPLOADS (240) uploads or CHAOS_MINUTES (4) minutes, whichever ends first.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack chaos
PROXY_PID=
before_exit() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    # RGW may have been left paused by an interrupted run
    [ -n "${S3_WORKDIR:-}" ] && kill -CONT "$(cat "$S3_WORKDIR/run/client.rgw.a.pid" 2>/dev/null)" 2>/dev/null
    return 0
}
UP_PORT=${AWS_ENDPOINT_URL##*:}
PX=$(free_port) PXC=$(free_port) NP=$(free_port)
python3 tests/integration/faultproxy.py "$PX" "$UP_PORT" --control "$PXC" > "$W/proxy.out" 2> "$W/proxy.log" &
PROXY_PID=$!
wait_for "fault proxy up" 10 grep -q ready "$W/proxy.out" || exit 1
export SLUICE_PREFIX="it-chaos-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$
export SLUICE_SLOTS=12 SLUICE_THREADS=16 SLUICE_BUFFER_CAP=8M SLUICE_PART_SIZE=5M
export SLUICE_IDLE=2s SLUICE_STALL=3s SLUICE_RETRIES=2 SLUICE_RETRY_BASE_MS=50 SLUICE_DRAIN=5s
AWS_ENDPOINT_URL=http://127.0.0.1:$PX stack_write_conf "$W"
# the janitor is run by chaos.py against the real server, not through the proxy
sed "s#^endpoint = .*#endpoint = $AWS_ENDPOINT_URL#" "$W/sluice.conf" > "$W/janitor.conf"
# its sweep spares little for being young (1 s, the least): what it finds at the end is a real orphan
# (the sweep spares objects younger than a PUT URL's life as well: 1 s in its own config)
printf '[janitor]\nsweep_grace = 1s\n[upload]\ndirect_expires = 1s\n' >> "$W/janitor.conf"
stack_start_master "$W" 2 || exit 1
stack_start_nginx "$W" "$NP" || exit 1
"$SLUICE_BUILD/tests/mkimage" jpeg 1600 1200 "$W/photo.jpg" || exit 1

# under ASan the quarantine and shadow memory make RSS meaningless: that bound is not checked
ldd "$SLUICE_BUILD/sluice-fcgi" | grep -q libasan && export CHAOS_NO_RSS=1
export CHAOS_PORT=$NP CHAOS_PROXY_CTL=$PXC CHAOS_DIR=$W CHAOS_IDLE_S=2 CHAOS_STALL_S=3 \
    CHAOS_BUILD=$SLUICE_BUILD CHAOS_WORKERS=2 CHAOS_JPEG=$W/photo.jpg CHAOS_JANITOR_CONF=$W/janitor.conf \
    CHAOS_MASTER=$(tr -d '\n' < "$W/master.pid")
/usr/bin/python3 tests/integration/chaos.py --uploads "${CHAOS_UPLOADS:-240}" \
    --minutes "${CHAOS_MINUTES:-4}" "$@" | tee "$W/chaos.out"
rc=${PIPESTATUS[0]}
check "chaos run: the last sweep found no orphan" 0 "$(sed -n 's/^| orphans the last sweep found | \([0-9]*\) |$/\1/p' "$W/chaos.out")"
check "chaos run: 0 invariant violations" "0" "$(sed -n 's/^| invariant violations | \([0-9]*\) |$/\1/p' "$W/chaos.out")"
check "chaos run: exit status" 0 "$rc"
tried=$(sed -n 's/^| tried | \([0-9]*\) |$/\1/p' "$W/chaos.out")
[ "${tried:-0}" -ge 40 ] && ok "chaos run: $tried uploads tried" || bad "chaos run: too few uploads" "${tried:-0}"
# a round of the delete fault must have deleted something (it draws from committed drops)
drounds=$(sed -n 's/^| delete | \([0-9]*\) |$/\1/p' "$W/chaos.out")
ddone=$(sed -n 's/^| DELETE of a drop: [^|]* | \([0-9]*\) |$/\1/p' "$W/chaos.out" | awk '{ n += $1 } END { print n + 0 }')
check "chaos run: the report has its delete row" yes "$(case "$drounds" in ''|*[!0-9]*) ;; *) echo yes ;; esac)"
if [ "${drounds:-0}" -gt 0 ]; then
    check "chaos run: its $drounds delete rounds sent DELETEs" yes "$([ "$ddone" -gt 0 ] && echo yes)"
fi
contains "the workers logged the faults they met" "upload" "$(cat "$W/worker.log" 2>/dev/null | head -c 100000)"
# no sanitizer or crash report from the workers (the SIGKILLs the run sends leave none)
check "no crash or sanitizer report in the worker log" 0 \
    "$(grep -cE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|Segmentation fault|Aborted' "$W/worker.log" 2>/dev/null || true)"
finish
