#!/usr/bin/env bash
# The Companion-style routes @uppy/aws-s3 calls, driven the way Uppy drives them (with curl:
# the real-browser Uppy test is still to come): a simple upload by presigned POST, a multipart
# upload with batch-signed parts, abort, and keys that are not the caller's refused.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack uppy
# (max_size 12M: three 5 MiB parts are too many, a fourth is not signed)
# short lives: a signed URL lives 15 s, a reservation 2 s after its last sign of life
export SLUICE_PREFIX="it-uppy-$$-$(date +%s)/" SLUICE_TOKEN="alice-$$, bob-$$" SLUICE_RESERVE_TTL=2s SLUICE_DIRECT_EXPIRES=15s
export SLUICE_MAX_SIZE=12M
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
A="Authorization: Bearer alice-$$" BOB="Authorization: Bearer bob-$$"
bytes_in() { metric sluice_upload_bytes_in_total "$B"; }
# put_part URL FILE: the part straight to S3; prints "STATUS ETAG" (S3's ETag header, quoted)
put_part() {
    curl -sS -o /dev/null -D - -T "$2" "$1" | tr -d '\r' |
        awk '/^HTTP\// { st = $2 } tolower($1) == "etag:" { e = $2 } END { print st, e }'
}
# parts_json N:ETAG...: the body @uppy/aws-s3 sends to complete
parts_json() { python3 -c '
import json, sys
print(json.dumps({"parts": [{"PartNumber": int(a.split(":", 1)[0]), "ETag": a.split(":", 1)[1]} for a in sys.argv[1:]]}))' "$@"; }
# complete UID KEY BODY: prints the status, the answer in $W/complete.json
complete() {
    curl -sS -o "$W/complete.json" -w '%{http_code}' -H "$A" -H 'Content-Type: application/json' \
        -d "$3" "$B/s3/multipart/$(urlq "$1")/complete?key=$(urlq "$2")"
}
# new_mpu NAME: a multipart upload; sets key uid id
new_mpu() {
    json=$(curl -sS -H "$A" -d "{\"filename\":\"$1\"}" "$B/s3/multipart")
    key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
}
sign() { curl -sS -H "$A" "$B/s3/multipart/$(urlq "$1")/$3?key=$(urlq "$2")" | jget url; }
mpus_left() { aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$1" --query 'length(Uploads || `[]`)' --output text; }
# meta/<id>: 1 a drop's record, 0 nothing or a reservation's pending record (it has no token
# hash); anything else (aws failing) is printed as it is, so that no check of 0 can pass on it
committed() {
    local out
    if out=$(aws_s3 s3api head-object --bucket "$S3_BUCKET" --key "${SLUICE_PREFIX}meta/$1" --query 'Metadata."token-hash"' --output text 2>&1); then
        [ "$out" != None ] && echo 1 || echo 0
    else
        case "$out" in *"Not Found"*|*404*) echo 0 ;; *) echo "aws failed: $out" ;; esac
    fi
}
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
etags=()
for n in 1 2; do
    u=$(printf '%s' "$urls" | jpath "[\"presignedUrls\"][\"$n\"]")
    read -r code etag < <(put_part "$u" "$W/p$n")
    check "part $n straight to S3" 200 "$code"
    etags+=("$n:$etag")
done
one=$(curl -sS -H "$A" "$B/s3/multipart/$euid/1?key=$ekey")
contains "sign one part" "partNumber=1" "$(printf '%s' "$one" | jget url)"
parts=$(curl -sS -H "$A" "$B/s3/multipart/$euid?key=$ekey")
check "list parts" 2 "$(printf '%s' "$parts" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
check "complete with a made-up ETag: 409" 409 "$(complete "$uid" "$key" '{"parts":[{"PartNumber":1,"ETag":"x"},{"PartNumber":2,"ETag":"y"}]}')"
check "complete without the parts: 400" 400 "$(complete "$uid" "$key" '')"
done_json=$(curl -sS -H "$A" -H 'Content-Type: application/json' -d "$(parts_json "${etags[@]}")" "$B/s3/multipart/$euid/complete?key=$ekey")
check "complete: location is the share link" "$B/d/$id" "$(printf '%s' "$done_json" | jget location)"
check "complete: the drop's size" $((6 * 1024 * 1024 + 123)) "$(printf '%s' "$done_json" | jget size)"
check "multipart: byte-identical" "$(sha "$W/big")" "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"
check "the worker carried no payload bytes" "$in0" "$(bytes_in)"

# the client's part list against what S3 holds
make_file "$W/p3" 1000
new_mpu gap.bin
read -r _ e1 < <(put_part "$(sign "$uid" "$key" 1)" "$W/p1")
read -r _ e3 < <(put_part "$(sign "$uid" "$key" 3)" "$W/p3")
code=$(complete "$uid" "$key" "$(parts_json "1:$e1" "2:$e1" "3:$e3")")
check "part 2 of 3 missing in S3: complete refused (409)" 409 "$code"
contains "  and says which part" "part 2 is not in the storage" "$(cat "$W/complete.json")"
check "  nothing committed" 0 "$(committed "$id")"
check "  the drop link is not a drop" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id/download")"
check "  the link still says uploading" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)"
check "  the multipart upload is left for a retry (Uppy keeps it)" 1 "$(mpus_left "$key")"
check "a list with a gap (1, 3): 400" 400 "$(complete "$uid" "$key" "$(parts_json "1:$e1" "3:$e3")")"
check "  nothing committed" 0 "$(committed "$id")"
read -r _ e2 < <(put_part "$(sign "$uid" "$key" 2)" "$W/p1")
check "part 2 uploaded, the retry completes" 200 "$(complete "$uid" "$key" "$(parts_json "1:$e1" "2:${e2//\"/}" "3:$e3")")"
cat "$W/p1" "$W/p1" "$W/p3" > "$W/gap.bin"
check "  byte-identical (ETags without quotes are the same ETags)" "$(sha "$W/gap.bin")" "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"

new_mpu swapped.bin
read -r _ e1 < <(put_part "$(sign "$uid" "$key" 1)" "$W/p1")
read -r _ e2 < <(put_part "$(sign "$uid" "$key" 2)" "$W/p3")
check "ETag of part 2 not S3's: complete refused (409)" 409 "$(complete "$uid" "$key" "$(parts_json "1:$e1" "2:$e1")")"
check "  nothing committed" 0 "$(committed "$id")"
check "  the drop link is not a drop" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id/download")"
check "  Uppy's abort (what it calls when the user cancels)" "{}" "$(curl -sS -H "$A" -X DELETE "$B/s3/multipart/$(urlq "$uid")?key=$(urlq "$key")")"
check "  then the link is gone" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id")"

new_mpu toobig.bin
for n in 1 2 3; do read -r _ e < <(put_part "$(sign "$uid" "$key" $n)" "$W/p1"); eval "e$n=\$e"; done
code=$(complete "$uid" "$key" "$(parts_json "1:$e1" "2:$e2" "3:$e3")")
check "15 MiB of parts, max_size 12M: complete refused (413)" 413 "$code"
check "  nothing committed" 0 "$(committed "$id")"
check "  the multipart upload is aborted" 0 "$(mpus_left "$key")"
check "  the link is gone" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id")"

new_mpu many.bin
check "sign part 3 (12M at 5 MiB a part)" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$A" "$B/s3/multipart/$(urlq "$uid")/3?key=$(urlq "$key")")"
check "sign part 4: more than max_size allows (413)" 413 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$A" "$B/s3/multipart/$(urlq "$uid")/4?key=$(urlq "$key")")"
check "batch-sign parts 3,4: 413" 413 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$A" "$B/s3/multipart/$(urlq "$uid")/batch?key=$(urlq "$key")&partNumbers=3,4")"
curl -sS -o /dev/null -H "$A" -X DELETE "$B/s3/multipart/$(urlq "$uid")?key=$(urlq "$key")"

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
janitor() { "$SLUICE_BUILD"/sluicectl -c "${JCONF:-$W/sluice.conf}" janitor; }
# a multipart upload that keeps going across a janitor run: older than reserve_ttl, but each
# part it signs is a sign of life (the janitor used to abort it, and part 2 was refused)
json=$(curl -sS -H "$A" -d '{"filename":"long.bin"}' "$B/s3/multipart")
key=$(printf '%s' "$json" | jget key) uid=$(printf '%s' "$json" | jget uploadId) id=$(printf '%s' "$json" | jget id)
ekey=$(urlq "$key") euid=$(urlq "$uid") s3uid=${uid#*.}
u=$(curl -sS -H "$A" "$B/s3/multipart/$euid/1?key=$ekey" | jget url) t0=$SECONDS
read -r st e1 < <(put_part "$u" "$W/p1"); check "long: part 1" 200 "$st"
past_ttl() { [ $((SECONDS - t0)) -ge 3 ]; }
wait_for "long: the reservation is older than reserve_ttl" 10 past_ttl
out=$(janitor)
case "$out" in *"$s3uid"*|*"reservation $id"*) bad "long: the janitor leaves the live upload alone" "$out" ;;
               *) ok "long: the janitor leaves the live upload alone" ;; esac
u=$(curl -sS -H "$A" "$B/s3/multipart/$euid/2?key=$ekey" | jget url)
read -r st e2 < <(put_part "$u" "$W/p2"); check "long: part 2, signed after the janitor ran" 200 "$st"
check "long: complete" 200 "$(complete "$uid" "$key" "$(parts_json "1:$e1" "2:$e2")")"
check "long: complete commits it" "$B/d/$id" "$(jget location < "$W/complete.json")"
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
read -r st e1 < <(put_part "$(printf '%s' "$urls" | jpath '["presignedUrls"]["1"]')" "$W/p1")
check "batch: part 1, late" 200 "$st"
out=$(JCONF=$W/j-short.conf janitor)
contains "batch: the janitor keeps it for its fresh part" "kept reservation $id: its upload stored a part" "$out"
check "batch: its multipart upload is still there" 1 "$(uploads_left)"
read -r st e2 < <(put_part "$(printf '%s' "$urls" | jpath '["presignedUrls"]["2"]')" "$W/p2")
check "batch: part 2" 200 "$st"
check "batch: complete" 200 "$(complete "$uid" "$key" "$(parts_json "1:$e1" "2:$e2")")"
check "batch: complete commits it" "$B/d/$id" "$(jget location < "$W/complete.json")"

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
