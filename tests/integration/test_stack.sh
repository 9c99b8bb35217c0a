#!/usr/bin/env bash
# `make run` / `make stop` (scripts/stack.sh) in a folder of its own (SLUICE_RUN) on a free
# port, so it never meets a developer's `make run`: start brings up RGW, two workers, thumbd
# and nginx; one worker then dies on its own (SIGTERM, as an operator or a crash would do);
# stop must still end every process that start recorded, and say so.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
T=$(mktemp -d /tmp/sluice-stack.XXXXXX)
R=$T/run
PORT=$(free_port)
export SLUICE_RUN=$R SLUICE_PORT=$PORT
PIDS=() REAPER=
# every pid the stack recorded (pid files), and its workers (found by their config path)
recorded() {
    local f
    for f in "$R"/s3/run/*.pid "$R"/workers.pid "$R"/thumbd.pid "$R"/nginx/nginx.pid; do
        [ -f "$f" ] && { cat "$f"; echo; }
    done
    pgrep -f "^$SLUICE_BUILD/sluice-fcgi -c $R/sluice.conf( |\$)"
}
# this test's own cleanup: whatever stop left behind (that is a failure, asserted below) goes
# too, and the folder with it (KEEP_LOGS: copied there first)
cleanup() {
    local p
    kill "$REAPER" 2>/dev/null
    for p in "${PIDS[@]}"; do
        if alive "$p"; then kill -9 "$p" 2>/dev/null; fi
    done
    if [ -d "$R/s3" ]; then scripts/ceph-rgw.sh stop "$R/s3" >/dev/null 2>&1; fi
    if [ -n "${KEEP_LOGS:-}" ]; then cp -r "$T" "$KEEP_LOGS"; fi
    rm -rf "$T"
}
trap cleanup EXIT

# start runs under a child subreaper that reaps the daemons when they exit, as init does on
# a normal machine (here nobody may reap orphans: a dead worker would stay a zombie, whose pid
# still takes a signal, and stop would never meet a pid that is really gone). Output goes to a
# file: the daemons must not hold a pipe of ours open.
python3 -c '
import ctypes, os, signal, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)          # PR_SET_CHILD_SUBREAPER
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
cmd = os.fork()
if cmd == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
rc = os.waitstatus_to_exitcode(os.waitpid(cmd, 0)[1])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % rc)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:                                      # the orphans: reap each as it ends
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.1)
' "$T/start.rc" scripts/stack.sh start > "$T/start.out" 2>&1 &
REAPER=$!
wait_for "stack.sh start finished" 300 test -f "$T/start.rc"
rc=$(cat "$T/start.rc" 2>/dev/null || echo none)
check "stack.sh start" 0 "$rc"
[ "$rc" -eq 0 ] || { tail -20 "$T/start.out"; finish; exit 1; }
mapfile -t PIDS < <(recorded | grep . | sort -un)
mapfile -t WORKERS < <(pgrep -f "^$SLUICE_BUILD/sluice-fcgi -c $R/sluice.conf( |\$)")
check "two workers running" 2 "${#WORKERS[@]}"
# RGW's three daemons, two workers, thumbd, nginx
check "every process has its pid recorded" 7 "${#PIDS[@]}"
check "the stack answers on its own port" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz")"

# one worker dies first (a SIGTERM drains, then exits; the subreaper reaps it: its pid is gone)
kill -TERM "${WORKERS[0]}"
wait_for "one worker is gone before the stop" 15 bash -c "! test -e /proc/${WORKERS[0]}"

scripts/stack.sh stop > "$T/stop.out" 2>&1
rc=$?
check "stack.sh stop with a dead worker: exit 0" 0 "$rc"
contains "stack.sh stop says it stopped" "stack: stopped" "$(cat "$T/stop.out")"
for p in "${PIDS[@]}"; do
    name=$(cat "/proc/$p/cmdline" 2>/dev/null | tr '\0' ' ' | cut -c1-60)
    if alive "$p"; then bad "pid $p is gone after stop" "still running: $name"; else ok "pid $p is gone after stop"; fi
done
check "stop removed the S3 data" no "$([ -d "$R/s3" ] && echo yes || echo no)"
finish
