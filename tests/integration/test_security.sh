#!/usr/bin/env bash
# The attacks of the trust review, reproduced against the running stack (nginx -> sluice ->
# RGW) and refused. The attacker holds the same upload (bearer) token as everyone else — the
# documented shared-token setup — and knows only what a share link shows: the drop id. Each
# case prints "attack: CASE -> ANSWER" and then proves nothing changed: the victim's upload
# still completes and downloads byte-identical.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
[ -n "${S3_SIGNER_ACCESS_KEY_ID:-}" ] || echo "test_security: no signer users in this S3 env (scripts/ceph-rgw.sh makes them): the signing cases will fail" >&2
test_stack sec
PIDS=()
before_exit() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
export SLUICE_PREFIX="it-sec-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$-shared SLUICE_THREADS=8 SLUICE_SLOTS=4 \
    SLUICE_IDLE=3s SLUICE_MIN_RATE=64k
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port) LP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
stack_start_lighttpd "$W" "$LP" || exit 1
B=http://127.0.0.1:$NP L=http://127.0.0.1:$LP
AUTH="Authorization: Bearer $SLUICE_TOKEN"
say() { printf 'attack: %-64s -> %s\n' "$1" "$2"; }
code() { curl -sS -o "$W/out" -w '%{http_code}' "$@"; }   # status; the body in $W/out
answer() { echo "$1 $(jget error < "$W/out")"; }
dl_sha() { curl -sS -L "$B/d/$1/download" | sha256sum | cut -d' ' -f1; }
make_file "$W/victim" $((1024 * 1024 + 11))
cp "$W/victim" "$W/evil"; printf 'EVIL' | dd of="$W/evil" conv=notrunc status=none   # same size, other bytes
make_file "$W/secret" 77777
check "the attacker's bytes differ from the victim's" 1 "$([ "$(sha "$W/evil")" != "$(sha "$W/victim")" ] && echo 1)"
VSHA=$(sha "$W/victim")

# -- a streamed upload's reservation (POST /api/drops?reserve): the link is public at once
json=$(curl -sS -H "$AUTH" -d "{\"name\":\"victim.bin\",\"size\":$(stat -c %s "$W/victim")}" "$B/api/drops?reserve")
id=$(printf '%s' "$json" | jget id) ut=$(printf '%s' "$json" | jget upload_token)
check "a reservation hands out an upload token" 43 "${#ut}"
a=$(code -H "$AUTH" -T "$W/evil" "$B/api/drops/evil.bin?id=$id"); a=$(answer "$a")
say "PUT ?id=<victim's id>, no upload token" "$a"; check "stream into another's reservation: 403" "403 forbidden" "$a"
a=$(code -H "$AUTH" -H "X-Upload-Token: $(printf 'A%.0s' $(seq 43))" -T "$W/evil" "$B/api/drops/evil.bin?id=$id"); a=$(answer "$a")
say "PUT ?id=<victim's id>, a made-up upload token" "$a"; check "with a wrong upload token: 403" "403 forbidden" "$a"
check "the victim's link still says uploading" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)"
a=$(code -H "$AUTH" -H "X-Upload-Token: $ut" -H 'Accept: application/json' -T "$W/victim" "$B/api/drops/victim.bin?id=$id")
check "the owner streams into it" 201 "$a"
check "and it downloads byte-identical" "$VSHA" "$(dl_sha "$id")"

# -- a direct upload (POST /api/uploads): complete, cancel, a wrong sha256
direct() { curl -sS -H "$AUTH" -d "{\"name\":\"v.bin\",\"size\":$(stat -c %s "$W/victim"),\"mode\":\"put\"}" "$B/api/uploads"; }
json=$(direct)
id=$(printf '%s' "$json" | jget id) ut=$(printf '%s' "$json" | jget upload_token)
djson=$json
check "the owner's presigned PUT" 200 "$(direct_put "$djson" "$W/victim")"
a=$(code -H "$AUTH" -d "{\"sha256\":\"$(printf '0%.0s' $(seq 64))\"}" "$B/api/uploads/$id/complete"); a=$(answer "$a")
say "complete <victim's id> with a wrong sha256, no upload token" "$a"
check "complete another's upload: 403" "403 forbidden" "$a"
check "the answer does not leak the real hash" 0 "$(grep -c "$VSHA" "$W/out")"
a=$(code -H "$AUTH" -X DELETE "$B/api/uploads/$id"); a=$(answer "$a")
say "cancel <victim's id>, no upload token" "$a"; check "cancel another's upload: 403" "403 forbidden" "$a"
check "the owner completes it" 201 "$(code -H "$AUTH" -H "X-Upload-Token: $ut" -X POST "$B/api/uploads/$id/complete")"
check "byte-identical" "$VSHA" "$(dl_sha "$id")"
vid=$id

# -- no write after the fact: the presigned PUT replayed after complete, other bytes
a=$(direct_put "$djson" "$W/evil")
say "re-PUT other bytes with the drop's presigned URL after complete" "S3 $a"
a=$(code "$B/d/$vid/download"); a=$(answer "$a")
say "  ... then GET /d/<id>/download" "$a"
check "the changed drop is refused, not served" "409 changed" "$a"
contains "and reported in the worker's log" "its bytes changed after the commit" "$(cat "$W/worker.log")"

# a wrong sha256 by the owner: refused, and the real hash is not in the answer either
json=$(direct)
id=$(printf '%s' "$json" | jget id) ut=$(printf '%s' "$json" | jget upload_token)
direct_put "$json" "$W/victim" >/dev/null
a=$(code -H "$AUTH" -H "X-Upload-Token: $ut" -d "{\"sha256\":\"$(printf '0%.0s' $(seq 64))\"}" "$B/api/uploads/$id/complete")
check "the owner's wrong sha256: 422" 422 "$a"
check "its answer has no hash in it" 0 "$(grep -c "$VSHA" "$W/out")"
check "the owner cancels: 204" 204 "$(code -H "$AUTH" -H "X-Upload-Token: $ut" -X DELETE "$B/api/uploads/$id")"
check "after cancel: no such drop" 404 "$(code "$B/d/$id")"

# -- least-privilege signing: what a client adds to a signed URL unsigned gets it nothing
aws_s3 s3api put-object --bucket "$S3_BUCKET" --key "private-$$/secret.txt" --body "$W/secret" >/dev/null
SSHA=$(sha "$W/secret")
anon_get() { curl -sS -o /dev/null -w '%{http_code}' "$AWS_ENDPOINT_URL/$S3_BUCKET/$1"; }
json=$(direct)
id=$(printf '%s' "$json" | jget id) ut=$(printf '%s' "$json" | jget upload_token)
a=$(REPLACE='x-amz-acl: public-read' direct_put "$json" "$W/evil")
say "direct PUT with x-amz-acl: public-read instead of the signed one" "S3 $a"
check "the ACL is signed: S3 refuses another" 403 "$a"
a=$(direct_put "$json" "$W/evil" -H 'x-amz-acl: public-read')
say "direct PUT + a second x-amz-acl: public-read" "S3 $a, anonymous GET $(anon_get "${SLUICE_PREFIX}drops/$id")"
check "with a second ACL header: not readable anonymously" 403 "$(anon_get "${SLUICE_PREFIX}drops/$id")"
a=$(direct_put "$json" "$W/evil" -H 'x-amz-grant-read: uri="http://acs.amazonaws.com/groups/global/AllUsers"')
say "direct PUT + unsigned x-amz-grant-read: AllUsers" "S3 $a, anonymous GET $(anon_get "${SLUICE_PREFIX}drops/$id")"
check "the object is never readable anonymously" 403 "$(anon_get "${SLUICE_PREFIX}drops/$id")"
anon_json=$json
a=$(REPLACE='Content-Disposition: inline' direct_put "$json" "$W/evil")
say "direct PUT with Content-Disposition: inline instead of the signed one" "S3 $a"
check "Content-Disposition is signed: S3 refuses another" 403 "$a"
direct_put "$json" "$W/evil" -H 'Content-Disposition: inline' >/dev/null
a=$(aws_s3 s3api head-object --bucket "$S3_BUCKET" --key "${SLUICE_PREFIX}drops/$id" --query ContentDisposition --output text 2>&1)
say "direct PUT + a second Content-Disposition: inline" "stored: $a"
contains "whatever is sent, the object is stored as an attachment" "attachment" "$a"
a=$(direct_put "$json" "$W/evil" -H "x-amz-copy-source: /$S3_BUCKET/private-$$/secret.txt")
say "direct PUT + x-amz-copy-source: <a private object>" "S3 $a"
check "the signer cannot read, so it cannot copy" 403 "$a"
json=$(curl -sS -H "$AUTH" -d '{"filename":"copy.bin"}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) cid=$(printf '%s' "$json" | jget id)
u=$(curl -sS -H "$AUTH" "$B/s3/multipart/$(urlq "$uid")/1?key=$(urlq "$key")" | jget url)
a=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "x-amz-copy-source: /$S3_BUCKET/private-$$/secret.txt" "$u")
say "part URL + x-amz-copy-source: <a private object>" "S3 $a"
check "UploadPartCopy with the part signer: refused" 403 "$a"
check "with no part stored, its complete commits nothing" 409 "$(code -H "$AUTH" -d '{"parts":[{"PartNumber":1,"ETag":"x"}]}' "$B/s3/multipart/$(urlq "$uid")/complete?key=$(urlq "$key")")"
check "so its link still says uploading" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$cid" | jget status)"
check "the secret never becomes a drop" 1 "$([ "$(dl_sha "$cid")" != "$SSHA" ] && echo 1)"
json=$(curl -sS -H "$AUTH" -d "{\"name\":\"page.html\",\"size\":$(stat -c %s "$W/victim"),\"content_type\":\"text/html\"}" "$B/api/uploads")
check "active content is stored as bytes" "application/octet-stream" "$(printf '%s' "$json" | jpath '["upload"]["headers"]["Content-Type"]')"
check "a size-0 direct upload is refused" 400 "$(code -H "$AUTH" -d '{"name":"e","size":0}' "$B/api/uploads")"
check "after all that, the owner's own PUT works" 200 "$(direct_put "$anon_json" "$W/victim")"
check "and the object is still not readable anonymously" 403 "$(anon_get "${SLUICE_PREFIX}drops/$(printf '%s' "$anon_json" | jget id)")"
check "and the worker reads it (complete)" 201 "$(code -H "$AUTH" -H "X-Upload-Token: $(printf '%s' "$anon_json" | jget upload_token)" -X POST "$B/api/uploads/$(printf '%s' "$anon_json" | jget id)/complete")"
aws_s3 s3 rm --quiet "s3://$S3_BUCKET/private-$$/secret.txt"

out=$("$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" check 2>&1)
for line in "ok   s3.signer cannot read objects" "ok   s3.signer cannot write a public-read object" \
            "ok   s3.signer cannot write outside" "ok   s3.signer writes drops (bucket-owner-full-control) the worker can read" \
            "ok   s3.part_signer cannot read objects" "ok   s3.part_signer cannot write outside" \
            "warn the store applies x-amz-* headers a client adds to a presigned URL unsigned"; do
    contains "sluicectl check: $line" "$line" "$out"
done

# -- Uppy's routes: the upload token rides in the uploadId
json=$(curl -sS -H "$AUTH" -d '{"filename":"uppy.bin"}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
s3uid=${uid#*.}
a=$(code -H "$AUTH" -X DELETE "$B/s3/multipart/bogus?key=$(urlq "$key")"); a=$(answer "$a")
say "DELETE /s3/multipart/bogus?key=<victim's key>" "$a"; check "abort with a made-up uploadId: 400" "400 bad_request" "$a"
a=$(code -H "$AUTH" -X DELETE "$B/s3/multipart/$(urlq "$s3uid")?key=$(urlq "$key")"); a=$(answer "$a")
say "DELETE /s3/multipart/<S3's real upload id>?key=<victim's key>" "$a"; check "abort with S3's upload id alone: 4xx" 4 "${a:0:1}"
fake="$(printf 'A%.0s' $(seq 43)).$s3uid"
a=$(code -H "$AUTH" "$B/s3/multipart/$(urlq "$fake")/1?key=$(urlq "$key")"); a=$(answer "$a")
say "sign a part of the victim's upload with a made-up upload token" "$a"; check "sign another's part: 403" "403 forbidden" "$a"
a=$(code -H "$AUTH" -X POST "$B/s3/multipart/$(urlq "$fake")/complete?key=$(urlq "$key")"); a=$(answer "$a")
say "complete the victim's multipart upload with a made-up upload token" "$a"; check "complete another's multipart: 403" "403 forbidden" "$a"
check "the victim's multipart upload is still there" 1 "$(aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$key" --query 'length(Uploads || `[]`)' --output text)"
u=$(curl -sS -H "$AUTH" "$B/s3/multipart/$(urlq "$uid")/1?key=$(urlq "$key")" | jget url)
check "the owner's part" 200 "$(code -D "$W/hdrs" -T "$W/victim" "$u")"
etag=$(tr -d '\r' < "$W/hdrs" | awk 'tolower($1) == "etag:" { print $2 }')
check "the owner completes" 200 "$(code -H "$AUTH" -d "{\"parts\":[{\"PartNumber\":1,\"ETag\":$etag}]}" "$B/s3/multipart/$(urlq "$uid")/complete?key=$(urlq "$key")")"
check "byte-identical" "$VSHA" "$(dl_sha "$id")"

# -- names: no bidi or C1 controls survive; one Cache-Control per reply
a=$(curl -sS -H "$AUTH" -T "$W/victim" "$B/api/drops/$(urlq $'evil\u202etxt.exe')" | jget name)
say "upload named \"evil<U+202E>txt.exe\"" "stored as $a"; check "the bidi override is gone" "eviltxt.exe" "$a"
a=$(curl -sS -H "$AUTH" -T "$W/victim" "$B/api/drops/$(urlq $'c1\u0085\u009b.txt')" | jget name)
check "C1 controls are gone" "c1.txt" "$a"
check "a reply has one Cache-Control" 1 "$(curl -sS -D - -o /dev/null "$B/healthz" | grep -ci '^cache-control:')"
printf '\xff\xd8\xff\xe0 not a jpeg' > "$W/broken.jpg"
bid=$(curl -sS -H "$AUTH" -T "$W/broken.jpg" "$B/api/drops/broken.jpg" | jget id)
curl -sS -D "$W/th.h" -o /dev/null "$B/d/$bid/thumbnail"
check "a thumbnail answer has one Cache-Control" 1 "$(grep -ci '^cache-control:' "$W/th.h")"

# -- thumbnails: a broken image is decoded once, remembered in S3, then answered at once;
# the decoder runs in a sandbox (no credentials, no descriptors, no syscalls but memory and I/O)
codes=""
for i in 1 2 3 4 5; do codes="$codes $(code "$B/d/$bid/thumbnail")"; done
say "GET /d/<broken image>/thumbnail x5" "$codes"
check "a broken image: 422 every time" " 422 422 422 422 422" "$codes"
check "and it was fetched and decoded once" 1 "$(grep -c "sluice-thumbd: $bid:" "$W/worker.log")"
check "the failure is remembered in S3, for every host" 1 "$(aws_s3 s3api head-object --bucket "$S3_BUCKET" --key "${SLUICE_PREFIX}thumbs/$bid" --query 'Metadata.failed' --output text | grep -c .)"
out=$("$SLUICE_BUILD"/sluice-thumbd --sandbox-check 2>&1)
printf '%s\n' "$out" | sed 's/^/attack: decoder sandbox: /'
for probe in env fd open socket exec big; do
    contains "the decoder cannot: $probe" "ok   $probe:" "$out"
done

# -- cheap denial of service: every thread held by half-sent small bodies; a huge body
# without a token; a trickle that would hold an upload slot
hold() { # PORT PATH COUNT: COUNT connections sending headers + "{" of a 1000-byte body, then nothing
    python3 - "$@" <<'PY' &
import socket, sys, time
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
               "Content-Length: 1000\r\n\r\n{" % (path, sys.argv[4] if len(sys.argv) > 4 else "")).encode())
    socks.append(s)
time.sleep(20)
PY
    PIDS+=($!)
}
timed() { curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 "$@"; }
under_1s() { awk -v t="${1#* }" 'BEGIN { exit !(t < 1.0) }'; }
dos_cases() { # FRONT BASE PORT TEMPDIR
    local front=$1 base=$2 port=$3 tmp=$4 a
    # buffered routes (the front server holds them) and the one it cannot buffer (?reserve
    # lives on the upload route): sluice's own small-body limit and deadline hold that one
    hold "$port" /api/uploads 16 "$SLUICE_TOKEN"; local hp=$!
    hold "$port" "/api/drops?reserve" 16 "$SLUICE_TOKEN"; local rp=$!
    sleep 1
    a=$(timed "$base/healthz")
    say "$front: /healthz while 2x16 half-sent small bodies hold on" "$a s"
    check "$front: /healthz answers" 200 "${a%% *}"
    if under_1s "$a"; then ok "$front: /healthz in under 1 s"; else bad "$front: /healthz in under 1 s" "$a"; fi
    a=$(timed "$base/d/$vid")
    say "$front: a share page meanwhile" "$a s"
    if [ "${a%% *}" = 200 ] && under_1s "$a"; then ok "$front: share page in under 1 s"; else bad "$front: share page in under 1 s" "$a"; fi
    a=$(curl -sS -o "$W/out" -w '%{http_code}' --max-time 5 -H "$AUTH" -d '{"name":"r.bin"}' "$base/api/reservations")
    say "$front: POST /api/reservations meanwhile (buffered by the front server)" "$a"
    check "$front: reservations still work" 201 "$a"
    kill "$hp" "$rp" 2>/dev/null; wait "$hp" "$rp" 2>/dev/null
    a=$(curl -sS -o "$W/out" -w '%{http_code} %{time_total}' --max-time 10 -X POST \
        -H 'Content-Length: 5000000000' --data-binary 'x' "$base/s3/multipart")
    say "$front: POST /s3/multipart, no token, Content-Length 5 GB" "$a s"
    check "$front: refused at once" 413 "${a%% *}"
    check "$front: nothing spooled to the temp dir" 0 "$(find "$tmp" -type f | wc -l)"
}
dos_cases nginx "$B" "$NP" "$W/nginx/tmp"
dos_cases lighttpd "$L" "$LP" "$W/lighttpd/upload"
# the trickle: one byte every 2 s into an upload (min_rate 64k/s, measured over idle_timeout 3 s)
python3 - "$NP" "$SLUICE_TOKEN" > "$W/trickle.out" <<'PY'
import select, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("PUT /api/drops/trickle.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Length: 100000\r\n\r\n" % sys.argv[2]).encode())
t0 = time.time()
while time.time() - t0 < 40:
    r, _, _ = select.select([s], [], [], 2.0)
    if r:
        print(s.recv(4096).split(b" ", 2)[1].decode(), "%.1f" % (time.time() - t0))
        sys.exit(0)
    s.sendall(b"x")
print("none", "%.1f" % (time.time() - t0))
PY
a=$(cut -d' ' -f1 "$W/trickle.out")
say "PUT at one byte every 2 s" "$a after $(cut -d' ' -f2 "$W/trickle.out") s"
check "a trickle is cut: 408" 408 "$a"
wait_for "its slot is free again" 10 bash -c "[ \"\$(metrics $B | awk '\$1==\"sluice_slots_in_use\"{print \$2}')\" = 0 ]"

# -- the link is public at once: someone who has it cannot commit before the owner does
json=$(direct)
id=$(printf '%s' "$json" | jget id) ut=$(printf '%s' "$json" | jget upload_token)
direct_put "$json" "$W/victim" >/dev/null
a=$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)
say "GET /d/<id> after the bytes landed, before the owner's complete" "$a"
check "looking at the link commits nothing" uploading "$a"
check "the owner's complete, with its checksum" 201 "$(code -H "$AUTH" -H "X-Upload-Token: $ut" -d "{\"sha256\":\"$VSHA\"}" "$B/api/uploads/$id/complete")"
check "and its sha256 is on the drop" "$VSHA" "$(jget sha256 < "$W/out")"
# a token in a URL is a token in a log: nginx's access log masks Uppy's uploadId
check "no upload token in nginx's access log" 0 "$(grep -c '/s3/multipart/[A-Za-z0-9_-]\{43\}[.]' "$W/nginx/access.log")"
contains "the log still says which call it was" "/s3/multipart/<token>." "$(cat "$W/nginx/access.log")"

# -- /metrics: its own token, even from 127.0.0.1
check "/metrics without its token: 401" 401 "$(code "$B/metrics")"
check "/metrics with the upload token: 401" 401 "$(code -H "$AUTH" "$B/metrics")"
contains "/metrics with its token" "sluice_requests_total" "$(metrics "$B")"

# -- anonymous mode: no bearer token at all, the upload token is the only key
stack_stop_workers "$W"
SLUICE_ANONYMOUS=true stack_write_conf "$W"
stack_start_workers "$W" || exit 1
json=$(curl -sS -d '{"name":"anon.bin"}' "$B/api/drops?reserve")
id=$(printf '%s' "$json" | jget id) ut=$(printf '%s' "$json" | jget upload_token)
a=$(code -T "$W/evil" "$B/api/drops/evil.bin?id=$id"); a=$(answer "$a")
say "anonymous: PUT ?id=<someone's id>" "$a"; check "anonymous: stream into another's reservation: 403" "403 forbidden" "$a"
check "anonymous: the owner streams into it" 201 "$(code -H "X-Upload-Token: $ut" -H 'Accept: application/json' -T "$W/victim" "$B/api/drops/anon.bin?id=$id")"
check "anonymous: byte-identical" "$VSHA" "$(dl_sha "$id")"
json=$(curl -sS -d "{\"name\":\"v.bin\",\"size\":$(stat -c %s "$W/victim")}" "$B/api/uploads")
id=$(printf '%s' "$json" | jget id)
direct_put "$json" "$W/victim" >/dev/null
a=$(code -X POST "$B/api/uploads/$id/complete"); a=$(answer "$a")
say "anonymous: complete someone's direct upload" "$a"; check "anonymous: complete another's: 403" "403 forbidden" "$a"
finish
