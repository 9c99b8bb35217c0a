#!/usr/bin/env bash
# The Companion-style routes @uppy/aws-s3 calls, driven the way Uppy drives them (with curl:
# the real-browser Uppy test is still to come): a simple upload by presigned POST, a multipart
# upload with batch-signed parts, abort, and keys that are not the caller's refused.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack uppy
# short lives: a signed URL lives 15 s, a reservation 2 s after its last sign of life
export SLUICE_PREFIX="it-uppy-$$-$(date +%s)/" SLUICE_TOKEN="alice-$$, bob-$$" SLUICE_RESERVE_TTL=2s SLUICE_DIRECT_EXPIRES=15s
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
A="Authorization: Bearer alice-$$" BOB="Authorization: Bearer bob-$$"
bytes_in() { metric sluice_upload_bytes_in_total "$B"; }
in0=$(bytes_in)

# simple upload: GET /s3/params, then the browser's multipart/form-data POST to S3
make_file "$W/small" 300000
json=$(curl -sS -H "$A" "$B/s3/params?filename=a%20b.txt&type=text/plain")
check "params: a presigned POST" POST "$(printf '%s' "$json" | jpath '["method"]')"
id=$(printf '%s' "$json" | jget id)
args=()
while IFS= read -r line; do args+=(-F "$line"); done < <(printf '%s' "$json" | form_fields)
code=$(curl -sS -o /dev/null -w '%{http_code}' "${args[@]}" -F "file=@$W/small;type=text/plain" "$(printf '%s' "$json" | jpath '["url"]')")
check "simple upload straight to S3" 201 "$code"
share=$(curl -sS -H 'Accept: application/json' "$B/d/$id")
check "committed on first sight: the share page has it" "a b.txt" "$(printf '%s' "$share" | jget name)"
check "its size" 300000 "$(printf '%s' "$share" | jget size)"
check "byte-identical" "$(sha "$W/small")" "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"

# multipart: create, batch-sign, PUT the parts, list, complete
make_file "$W/big" $((6 * 1024 * 1024 + 123))
json=$(curl -sS -H "$A" -H 'Content-Type: application/json' \
       -d '{"filename":"big.bin","type":"application/octet-stream","metadata":{"name":"big.bin","type":"x"}}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
contains "create: a key made by sluice" "${SLUICE_PREFIX}drops/$id" "$key"
ekey=$(urlq "$key")
euid=$(urlq "$uid")
check "another client cannot sign its parts" 403 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$BOB" "$B/s3/multipart/$euid/1?key=$ekey")"
other=$(urlq "${SLUICE_PREFIX}drops/AAAAAAAAAAAAAAAAAAAAAA")
check "a key it did not make is refused" 403 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$A" "$B/s3/multipart/$euid/1?key=$other")"
urls=$(curl -sS -H "$A" "$B/s3/multipart/$euid/batch?key=$ekey&partNumbers=1,2")
head -c $((5 * 1024 * 1024)) "$W/big" > "$W/p1"; tail -c +$((5 * 1024 * 1024 + 1)) "$W/big" > "$W/p2"
for n in 1 2; do
    u=$(printf '%s' "$urls" | jpath "[\"presignedUrls\"][\"$n\"]")
    code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$W/p$n" "$u")
    check "part $n straight to S3" 200 "$code"
done
one=$(curl -sS -H "$A" "$B/s3/multipart/$euid/1?key=$ekey")
contains "sign one part" "partNumber=1" "$(printf '%s' "$one" | jget url)"
parts=$(curl -sS -H "$A" "$B/s3/multipart/$euid?key=$ekey")
check "list parts" 2 "$(printf '%s' "$parts" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
done_json=$(curl -sS -H "$A" -H 'Content-Type: application/json' -d '{"parts":[{"PartNumber":1,"ETag":"x"}]}' "$B/s3/multipart/$euid/complete?key=$ekey")
check "complete: location is the share link" "$B/d/$id" "$(printf '%s' "$done_json" | jget location)"
check "complete: the drop's size" $((6 * 1024 * 1024 + 123)) "$(printf '%s' "$done_json" | jget size)"
check "multipart: byte-identical" "$(sha "$W/big")" "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"
check "the worker carried no payload bytes" "$in0" "$(bytes_in)"

# abort
json=$(curl -sS -H "$A" -d '{"filename":"gone.bin"}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
ekey=$(urlq "$key")
euid=$(urlq "$uid")
check "abort" "{}" "$(curl -sS -H "$A" -X DELETE "$B/s3/multipart/$euid?key=$ekey")"
left=$(aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX" --query 'length(Uploads || `[]`)' --output text)
check "after abort: no multipart upload left" 0 "$left"
check "after abort: no reservation" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id")"
uploads_left() { aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX" --query 'length(Uploads || `[]`)' --output text; }
janitor() { build/sluicectl -c "${JCONF:-$W/sluice.conf}" janitor; }
# a multipart upload that keeps going across a janitor run: older than reserve_ttl, but each
# part it signs is a sign of life (the janitor used to abort it, and part 2 was refused)
json=$(curl -sS -H "$A" -d '{"filename":"long.bin"}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
ekey=$(urlq "$key") euid=$(urlq "$uid") s3uid=${uid#*.}
u=$(curl -sS -H "$A" "$B/s3/multipart/$euid/1?key=$ekey" | jget url) t0=$SECONDS
check "long: part 1" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -T "$W/p1" "$u")"
past_ttl() { [ $((SECONDS - t0)) -ge 3 ]; }
wait_for "long: the reservation is older than reserve_ttl" 10 past_ttl
out=$(janitor)
case "$out" in *"$s3uid"*|*"reservation $id"*) bad "long: the janitor leaves the live upload alone" "$out" ;;
               *) ok "long: the janitor leaves the live upload alone" ;; esac
u=$(curl -sS -H "$A" "$B/s3/multipart/$euid/2?key=$ekey" | jget url)
check "long: part 2, signed after the janitor ran" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -T "$W/p2" "$u")"
done_json=$(curl -sS -H "$A" -X POST "$B/s3/multipart/$euid/complete?key=$ekey")
check "long: complete commits it" "$B/d/$id" "$(printf '%s' "$done_json" | jget location)"
check "long: byte-identical" "$(sha "$W/big")" "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"

# a browser that signed every part at the start and uploads them slowly: the marker's time
# says dead (this janitor is told URLs live 1 s), the part S3 stored a moment ago says alive
json=$(curl -sS -H "$A" -d '{"filename":"batch.bin"}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
ekey=$(urlq "$key") euid=$(urlq "$uid") s3uid=${uid#*.} t0=$SECONDS
urls=$(curl -sS -H "$A" "$B/s3/multipart/$euid/batch?key=$ekey&partNumbers=1,2")
sed -e 's/^reserve_ttl = .*/reserve_ttl = 4s/' -e 's/^direct_expires = .*/direct_expires = 1s/' "$W/sluice.conf" > "$W/j-short.conf"
past_marker() { [ $((SECONDS - t0)) -ge 7 ]; }
wait_for "batch: the marker alone would make it dead" 15 past_marker
check "batch: part 1, late" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -T "$W/p1" "$(printf '%s' "$urls" | jpath '["presignedUrls"]["1"]')")"
out=$(JCONF=$W/j-short.conf janitor)
contains "batch: the janitor keeps it for its fresh part" "kept reservation $id: its upload stored a part" "$out"
check "batch: its multipart upload is still there" 1 "$(uploads_left)"
check "batch: part 2" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -T "$W/p2" "$(printf '%s' "$urls" | jpath '["presignedUrls"]["2"]')")"
done_json=$(curl -sS -H "$A" -X POST "$B/s3/multipart/$euid/complete?key=$ekey")
check "batch: complete commits it" "$B/d/$id" "$(printf '%s' "$done_json" | jget location)"

# a browser that gives up halfway: alive while its URL lives, aborted by the janitor once dead
# (its last URL expired and reserve_ttl passed with no part stored)
json=$(curl -sS -H "$A" -d '{"filename":"halfway.bin"}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
u=$(curl -sS -H "$A" "$B/s3/multipart/$(urlq "$uid")/1?key=$(urlq "$key")" | jget url)
check "halfway: one part uploaded" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -T "$W/p1" "$u")"
s3uid=${uid#*.}   # the uploadId sluice hands out is "<upload token>.<S3's upload id>"
out=$(janitor)
case "$out" in *"$s3uid"*) bad "halfway: not aborted while alive" "$out" ;; *) ok "halfway: not aborted while alive" ;; esac
check "halfway: its multipart upload is there while alive" 1 "$(uploads_left)"
janitor_cleaned() { janitor | grep -q "aborted $key upload-id $s3uid (its reservation expired)"; }
wait_for "halfway: the janitor aborts its upload once it is dead" 40 janitor_cleaned
check "halfway: no multipart upload left" 0 "$(uploads_left)"
check "without a token" 401 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/s3/params?filename=x")"
finish
