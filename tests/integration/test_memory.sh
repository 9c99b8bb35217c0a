#!/usr/bin/env bash
# Memory and latency of one worker: during a 1 GiB upload with the S3 server paused and
# resumed twice, the worker's resident memory stays under its idle level + the per-upload
# buffer cap + a small constant, and returns to idle afterwards. It also prints the time from
# the client's last byte to the 201 for 1 MiB and 1 GiB (reported, not asserted: timings on a
# shared 2-core machine are not a test; bench/ measures them properly).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack mem
RGW_PID=$(cat "${S3_WORKDIR:-/nonexistent}/run/client.rgw.a.pid" 2>/dev/null || true)
before_exit() {
    [ -n "$RGW_PID" ] && kill -CONT "$RGW_PID" 2>/dev/null
    [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null
    return 0
}
export SLUICE_PREFIX="it-mem-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$
export SLUICE_BUFFER_CAP=16M SLUICE_PART_SIZE=8M SLUICE_THREADS=4 SLUICE_SLOTS=2
CAP_KB=$((16 * 1024))
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
WPID=$(cat "$W/workers.pid")
RAW="python3 tests/integration/rawclient.py"
GiB=$((1024 * 1024 * 1024)) MiB=$((1024 * 1024))
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$WPID/status"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# warm up (libraries, TLS-free curl handles, the first connection), then the idle level
lat_1m=()
for i in 1 2 3 4 5; do
    out=$($RAW "$NP" /api/drops/small.bin "$SLUICE_TOKEN" $MiB)
    check "1 MiB upload $i" 201 "${out%% *}"
    lat_1m+=("$(echo "$out" | cut -d' ' -f2)")
done
idle=$(rss_kb)

( while alive "$WPID"; do rss_kb; sleep 0.05; done > "$W/rss.log" ) &
SAMPLER=$!
if [ -n "$RGW_PID" ]; then
    ( sleep 1; for k in 1 2; do kill -STOP "$RGW_PID"; sleep 2; kill -CONT "$RGW_PID"; sleep 1; done ) &
    PAUSER=$!
fi
out=$($RAW "$NP" /api/drops/big.bin "$SLUICE_TOKEN" $GiB --timeout 300)
check "1 GiB upload with S3 paused twice" 201 "${out%% *}"
[ -n "${PAUSER:-}" ] && wait "$PAUSER"
kill "$SAMPLER"; SAMPLER=
peak=$(sort -n "$W/rss.log" | tail -1)
samples=$(wc -l < "$W/rss.log")
after=$(rss_kb)
echo "# worker RSS: idle $idle kB, peak $peak kB during 1 GiB ($samples samples), after $after kB; cap $CAP_KB kB"
if ldd "$SLUICE_BUILD/sluice-fcgi" | grep -q libasan; then
    echo "# (ASan build: its shadow memory and quarantine make RSS meaningless; bounds not checked)"
else
check "peak RSS within idle + cap + 8 MiB ($peak <= $idle + $CAP_KB + 8192 kB)" 1 \
    "$([ "$peak" -le $((idle + CAP_KB + 8192)) ] && echo 1 || echo 0)"
check "RSS back near idle after the upload ($after <= $idle + 4096 kB)" 1 \
    "$([ "$after" -le $((idle + 4096)) ] && echo 1 || echo 0)"
fi

lat_1g=()
for i in 1 2 3; do
    out=$($RAW "$NP" /api/drops/big.bin "$SLUICE_TOKEN" $GiB --timeout 300)
    check "1 GiB upload $i" 201 "${out%% *}"
    lat_1g+=("$(echo "$out" | cut -d' ' -f2)")
done
echo "# last byte -> 201: 1 MiB median $(printf '%s\n' "${lat_1m[@]}" | median) s (${lat_1m[*]});" \
     "1 GiB median $(printf '%s\n' "${lat_1g[@]}" | median) s (${lat_1g[*]})"
finish
