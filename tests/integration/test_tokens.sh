#!/usr/bin/env bash
# Named tokens ([token NAME]): each its own secret and limits — max file size, upload slots
# held at once, open reservations — plus the host's cap on reservations. A token at its limit
# hears 429 + Retry-After while the others go on; the host at its cap, 503 + Retry-After.
# The attacker here is a token holder making many cheap reservations or slow uploads.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack tok
PIDS=()
before_exit() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
export SLUICE_PREFIX="it-tok-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$-legacy SLUICE_THREADS=8 SLUICE_SLOTS=4
export SLUICE_CONF_EXTRA="[upload]
reservations = 8
[token alice]
secret = alice-$$-secret-1
secret = alice-$$-secret-2
max_size = 1M
slots = 1
reservations = 3
[token bob]
secret = bob-$$-secret"
stack_write_conf "$W"
stack_start_workers "$W" 1 || exit 1     # one process: its /metrics are the whole count
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
ALICE="Authorization: Bearer alice-$$-secret-1" ALICE2="Authorization: Bearer alice-$$-secret-2"
BOB="Authorization: Bearer bob-$$-secret" LEGACY="Authorization: Bearer $SLUICE_TOKEN"
code() { curl -sS -o "$W/out" -D "$W/hdr" -w '%{http_code}' "$@"; }
answer() { echo "$1 $(jget error < "$W/out")"; }
retry_after() { tr -d '\r' < "$W/hdr" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }'; }
m() { metric "$1" "$B"; }
make_file "$W/small" 4096
make_file "$W/two" $((2 * 1024 * 1024))
make_file "$W/slow" $((600 * 1024))

check "a wrong secret: 401" 401 "$(code -H 'Authorization: Bearer nobody' -T "$W/small" "$B/api/drops/x")"
# -- max_size: alice's is 1 MiB, the host's 5 GiB
a=$(answer "$(code -H "$ALICE" -T "$W/two" "$B/api/drops/two.bin")")
check "alice's 2 MiB upload: over her max_size" "413 too_large" "$a"
check "alice's 2 MiB direct upload: refused before a reservation" 413 \
    "$(code -H "$ALICE" -d '{"name":"two.bin","size":2097152,"mode":"put"}' "$B/api/uploads")"
check "bob's 2 MiB upload: 201" 201 "$(code -H "$BOB" -T "$W/two" "$B/api/drops/two.bin")"
check "the legacy token still uploads" 201 "$(code -H "$LEGACY" -T "$W/small" "$B/api/drops/s.bin")"
check "alice's second secret is alice too" 201 "$(code -H "$ALICE2" -T "$W/small" "$B/api/drops/s.bin")"

# -- open reservations: alice may hold 3, whichever route makes them
resv() { code -H "$1" -d '{"name":"r.bin","size":4096}' "$B/api/reservations"; }
ids=() uts=()
for i in 1 2; do
    check "alice's reservation $i" 201 "$(resv "$ALICE")"
    ids+=("$(jget id < "$W/out")") uts+=("$(jget upload_token < "$W/out")")
done
check "alice's third, a direct upload" 201 "$(code -H "$ALICE" -d '{"name":"d.bin","size":4096,"mode":"put"}' "$B/api/uploads")"
did=$(jget id < "$W/out") dut=$(jget upload_token < "$W/out")
a=$(answer "$(resv "$ALICE")")
check "alice's fourth: 429" "429 over_limit" "$a"; check "  with Retry-After" 30 "$(retry_after)"
check "  by the direct route too" 429 "$(code -H "$ALICE" -d '{"name":"d.bin","size":4096,"mode":"put"}' "$B/api/uploads")"
check "  by Uppy's multipart route" 429 "$(code -H "$ALICE" -d '{"filename":"u.bin","type":"x"}' "$B/s3/multipart")"
check "  by Uppy's simple route" 429 "$(code -H "$ALICE" "$B/s3/params?filename=u.bin&type=x")"
check "  by ?reserve on the upload route" 429 "$(code -H "$ALICE" -d '{"name":"r.bin","size":4096}' "$B/api/drops?reserve")"
check "the refusals left no reservation: 3 open" 3 "$(m 'sluice_token_reservations_open{token="alice"}')"
check "  and were counted" 5 "$(m 'sluice_token_refused_reservation_total{token="alice"}')"
check "bob reserves while alice is at her limit" 201 "$(resv "$BOB")"
# cancelling one frees its place; so does completing one
check "alice cancels her direct upload" 204 "$(code -H "$ALICE" -H "X-Upload-Token: $dut" -X DELETE "$B/api/uploads/$did")"
check "then alice reserves again" 201 "$(resv "$ALICE")"
rid=$(jget id < "$W/out") rut=$(jget upload_token < "$W/out")
check "alice is full again" 429 "$(resv "$ALICE")"
check "alice streams into a reservation" 201 "$(code -H "$ALICE" -H "X-Upload-Token: $rut" -T "$W/small" "$B/api/drops/r.bin?id=$rid")"
check "the completed one no longer counts" 2 "$(m 'sluice_token_reservations_open{token="alice"}')"
check "alice reserves once more" 201 "$(resv "$ALICE")"
# a reservation is charged to the token that made it, whoever streams into it (bob holds its
# upload token): alice's max_size applies, and it is her ledger entry that goes
a=$(answer "$(code -H "$BOB" -H "X-Upload-Token: ${uts[0]}" -T "$W/two" "$B/api/drops/r.bin?id=${ids[0]}")")
check "bob's 2 MiB into alice's reservation: her max_size" "413 too_large" "$a"
check "bob streams into alice's reservation" 201 "$(code -H "$BOB" -H "X-Upload-Token: ${uts[0]}" -T "$W/small" "$B/api/drops/r.bin?id=${ids[0]}")"
check "  it was alice's that closed" 2 "$(m 'sluice_token_reservations_open{token="alice"}')"
check "  bob's count is untouched" 1 "$(m 'sluice_token_reservations_open{token="bob"}')"
check "alice reserves in its place" 201 "$(resv "$ALICE")"
# the host's cap (8): alice 3, bob 1 so far; bob's own cap (100) is far
for i in 2 3 4 5; do check "bob's reservation $i" 201 "$(resv "$BOB")"; done
a=$(answer "$(resv "$BOB")")
check "the host is full: 503 for bob" "503 busy" "$a"; check "  with Retry-After" 30 "$(retry_after)"
contains "  saying it is the server's limit" "this server has all the open reservations" "$(cat "$W/out")"
check "reservations open on the host" 8 "$(ls "$W/slots/reservations" | grep -c .)"

# -- slots: alice may hold 1 at once; bob is not held up by her
curl -sS -o "$W/slow.out" -w '%{http_code}' -H "$ALICE" --limit-rate 100k -T "$W/slow" "$B/api/drops/slow.bin" > "$W/slow.code" &
PIDS+=($!)
alice_holds_slot() { [ "$(m 'sluice_token_slots_in_use{token="alice"}')" = 1 ]; }
wait_for "alice's slow upload holds her slot" 10 alice_holds_slot
a=$(answer "$(code -H "$ALICE" -T "$W/small" "$B/api/drops/s.bin")")
check "alice's second upload at once: 429" "429 over_limit" "$a"; check "  with Retry-After" 5 "$(retry_after)"
check "bob uploads meanwhile" 201 "$(code -H "$BOB" -T "$W/small" "$B/api/drops/s.bin")"
wait "${PIDS[@]}"; PIDS=()
check "alice's slow upload completes" 201 "$(cat "$W/slow.code")"
check "and downloads byte-identical" "$(sha "$W/slow")" \
    "$(curl -sS -L "$B/d/$(jget id < "$W/slow.out")/download" | sha256sum | cut -d' ' -f1)"
check "her slot is free again: she uploads" 201 "$(code -H "$ALICE" -T "$W/small" "$B/api/drops/s.bin")"

# -- the counters, by token
check "alice's committed uploads (one streamed by bob)" 5 "$(m 'sluice_token_uploads_committed_total{token="alice"}')"
check "bob's committed uploads" 2 "$(m 'sluice_token_uploads_committed_total{token="bob"}')"
check "the legacy token is 'default'" 1 "$(m 'sluice_token_uploads_committed_total{token="default"}')"
check "alice's slot refusals" 1 "$(m 'sluice_token_refused_slot_total{token="alice"}')"
check "bob's body bytes" $((2 * 1024 * 1024 + 4096)) "$(m 'sluice_token_upload_bytes_in_total{token="bob"}')"
finish
