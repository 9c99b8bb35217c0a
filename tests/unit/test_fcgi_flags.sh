#!/usr/bin/env bash
# sluice-fcgi's flags are settings like the file's: checked the same way and applied before
# the validation (-t once came after it, so -t could take server.threads down to
# upload.slots). No S3 server needed: every case ends before the first request.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/sluice-flags.XXXXXX)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; fi; rm -rf "$T"' EXIT
cat > "$T/sluice.conf" <<CONF
[s3]
endpoint = http://127.0.0.1:9
bucket = b
access_key_id = AK
secret_access_key = SK
[upload]
slots = 8
slot_dir = $T/slots
anonymous = true
[server]
threads = 16
janitor_on_start = false
CONF
fcgi() { "$BUILD/sluice-fcgi" -c "$T/sluice.conf" "$@" </dev/null 2>&1; }

out=$(fcgi -t 4); rc=$?
check "-t 4 with slots = 8: refused" 1 "$rc"
check "-t 4 with slots = 8: the rule is named" "sluice-fcgi: upload.slots (8) must be below server.threads (4), so pages and 503 answers are served while every slot is busy" "$out"
check "-t 0: out of range" "sluice-fcgi: -t: server.threads: out of range (got '0')" "$(fcgi -t 0)"
check "-t abc: not a number" "sluice-fcgi: -t: server.threads: expected a whole number (got 'abc')" "$(fcgi -t abc)"
# accepted: -t 12 is what the worker runs with, on the socket -s names
"$BUILD/sluice-fcgi" -c "$T/sluice.conf" -t 12 -s "$T/fcgi.sock" </dev/null >"$T/out" 2>&1 &
pid=$!
wait_for "-t 12 -s PATH: the worker serves" 10 grep -q "serving with" "$T/out"
contains "-t 12: its threads" "serving with 12 threads, 8 upload slots" "$(cat "$T/out")"
check "-s PATH: it listens there" yes "$([ -S "$T/fcgi.sock" ] && echo yes || echo no)"
kill -TERM "$pid" 2>/dev/null
wait "$pid"
check "SIGTERM: it exits 0" 0 "$?"
finish
