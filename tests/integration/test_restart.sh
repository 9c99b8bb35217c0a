#!/usr/bin/env bash
# Restarts without an outage. A master (sluice-fcgi -w 3, under spawn-fcgi as in production)
# keeps the socket; traffic at concurrency 4 (uploads of random sizes, share pages, downloads,
# health) runs through nginx, then lighttpd, while (1) every worker is SIGTERMed one after
# another — each drains, the master replaces it — and (2) the documented upgrade: a new binary
# installed over the old path, a changed config, SIGHUP. Allowed failures: none, except 503 +
# Retry-After. Every 201 must download byte-identical afterwards.
# (Before the drain stopped calling shutdown() on the shared socket, the first SIGTERM ended
# accepting in every sibling: all 502.)
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack restart
LOADPID=
before_exit() {
    [ -n "$LOADPID" ] && kill "$LOADPID" 2>/dev/null
    [ -f "$W/master.pid" ] && stop_pids "$(cat "$W/master.pid")"
}
export SLUICE_PREFIX="it-restart-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$-restart SLUICE_THREADS=8 \
    SLUICE_SLOTS=4 SLUICE_THUMBS=false SLUICE_DRAIN=20s
stack_write_conf "$W"
mkdir -p "$W/bin"
install -m 755 "$SLUICE_BUILD/sluice-fcgi" "$W/bin/sluice-fcgi"
rm -f "$W/fcgi.sock"
spawn-fcgi -s "$W/fcgi.sock" -M 0600 -F 1 -P "$W/master.pid" -- \
    "$W/bin/sluice-fcgi" -w 3 -c "$W/sluice.conf" -l "$W/worker.log" >>"$W/workers.log" 2>&1 ||
    { cat "$W/workers.log"; exit 1; }
M=$(tr -d '\n' < "$W/master.pid")
children() { pgrep -P "$M" | sort; }
three_workers() { [ "$(children | wc -l)" -eq 3 ]; }
wait_for "the master runs 3 workers" 10 three_workers
NP=$(free_port) LP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
stack_start_lighttpd "$W" "$LP" || exit 1

# under_load BASE NAME ACTION: traffic to BASE while ACTION runs, then the checks
under_load() {
    local base=$1 name=$2 action=$3
    rm -f "$W/stop"
    python3 tests/integration/restart_load.py "$base" "$SLUICE_TOKEN" "$W/$name.uploads" "$W/stop" \
        --threads 4 --seconds 300 > "$W/$name.load" 2>&1 &
    LOADPID=$!
    sleep 2   # traffic first
    local t_a t_b; t_a=$(date +%s.%N)
    $action
    t_b=$(date +%s.%N)
    sleep 2   # and after
    touch "$W/stop"
    wait "$LOADPID"; local rc=$?; LOADPID=
    sed 's/^/   /' "$W/$name.load"
    check "$name: no failed request (503 + Retry-After aside), no upload differs" 0 "$rc"
    contains "$name: the traffic lasted until the end" "load: stopped by the stop file" "$(cat "$W/$name.load")"
    local n during
    n=$(wc -l < "$W/$name.uploads")
    # counted inside the action's own window, not the seconds of traffic around it
    during=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if float(sys.argv[2]) <= json.loads(l)["t"] <= float(sys.argv[3])))' "$W/$name.uploads" "$t_a" "$t_b")
    echo "   # $during uploads answered 201 while the workers were being replaced ($(python3 -c "print(round($t_b - $t_a, 1))") s)"
    # (an upgrade by SIGHUP takes under a second: 18-26 uploads in it here, fewer under ASan)
    check "$name: uploads went on while the workers were replaced (>= 5)" 1 "$([ "$during" -ge 5 ] && echo 1)"
    contains "$name: every 201 downloads byte-identical" "load: $n of $n uploads download byte-identical" \
        "$(cat "$W/$name.load")"
}

replaced_one_by_one() {
    local pid before
    for pid in $(children); do
        before=$(children | tr '\n' ' ')
        kill -TERM "$pid"
        replaced() { ! alive "$pid" && three_workers; }
        wait_for "worker $pid drained and was replaced" 30 replaced
        sleep 1
    done
}
upgrade() {
    local old lines; old=$(children | tr '\n' ' ') lines=$(wc -l < "$W/worker.log")
    # the documented upgrade: install the new binary over the old path (a rename: running
    # processes keep their own), change the config, SIGHUP the master
    cp "$SLUICE_BUILD/sluice-fcgi" "$W/bin/sluice-fcgi.new" && mv "$W/bin/sluice-fcgi.new" "$W/bin/sluice-fcgi"
    sed -i "s/^threads = .*/threads = $1/" "$W/sluice.conf"
    kill -HUP "$M"
    old_gone() { local p; for p in $old; do alive "$p" && return 1; done; three_workers; }
    wait_for "SIGHUP: the old generation drained, 3 new workers" 40 old_gone
    # only what was logged after the SIGHUP, once by each of the 3 new workers
    check "the new generation has the new config (3 workers say so)" 3 \
        "$(tail -n +$((lines + 1)) "$W/worker.log" | grep -c "serving with $1 threads")"
}

under_load "http://127.0.0.1:$NP" "nginx, workers replaced one by one" replaced_one_by_one
under_load "http://127.0.0.1:$NP" "nginx, upgrade by SIGHUP" "upgrade 7"
under_load "http://127.0.0.1:$LP" "lighttpd, workers replaced one by one" replaced_one_by_one
under_load "http://127.0.0.1:$LP" "lighttpd, upgrade by SIGHUP" "upgrade 6"
# a failed reload keeps the old generation serving
old=$(children | tr '\n' ' ')
echo "nonsense = 1" >> "$W/sluice.conf"
kill -HUP "$M"
failed_reload() { grep -q "reload failed" "$W/worker.log"; }
wait_for "a reload with a broken config is refused" 30 failed_reload
check "and the old workers still serve" "$old" "$(children | tr '\n' ' ')"
check "health answers" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NP/healthz")"
# the master's SIGTERM drains every worker, then it exits
kill -TERM "$M"
master_gone() { ! alive "$M"; }
wait_for "SIGTERM: the master and its workers end" 30 master_gone
check "no worker left" 0 "$(for p in $old; do alive "$p" && echo "$p"; done | wc -l)"
finish
