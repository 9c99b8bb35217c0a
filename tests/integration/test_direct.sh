#!/usr/bin/env bash
# Direct-to-S3 uploads against the real RGW: sluice signs (POST /api/uploads) and verifies
# (POST /api/uploads/{id}/complete); the bytes go from curl straight to S3.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack di
# short lives, so that reservations die within the test: a URL lives 8 s, a reservation 2 s
# after its last URL expired
export SLUICE_PREFIX="it-di-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$ SLUICE_RESERVE_TTL=2s SLUICE_DIRECT_EXPIRES=8s
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
AUTH="Authorization: Bearer $SLUICE_TOKEN"
make_file "$W/f" $((3 * 1024 * 1024 + 7))
SIZE=$(stat -c %s "$W/f") WANT=$(sha "$W/f")
reserve() { # MODE [SIZE] -> JSON; keeps the upload token it hands out in $W/ut-<id>
    local j
    j=$(curl -sS -H "$AUTH" -H 'Content-Type: application/json' \
         -d "{\"name\":\"direct file.bin\",\"size\":${2:-$SIZE},\"content_type\":\"application/x-test\",\"mode\":\"$1\"}" \
         "$B/api/uploads")
    printf '%s' "$j" | jget upload_token > "$W/ut-$(printf '%s' "$j" | jget id)"
    printf '%s' "$j"
}
complete() { # ID [SHA256]: with the upload token its reservation handed out
    curl -sS -o "$W/c.out" -w '%{http_code}' -H "$AUTH" -H "X-Upload-Token: $(cat "$W/ut-$1" 2>/dev/null)" \
         -X POST ${2:+-d "{\"sha256\":\"$2\"}"} "$B/api/uploads/$1/complete"
}
bytes_in() { metric sluice_upload_bytes_in_total "$B"; }
in0=$(bytes_in)

# presigned PUT with plain curl, then complete
json=$(reserve put)
id=$(printf '%s' "$json" | jget id)
url=$(printf '%s' "$json" | jpath '["upload"]["url"]')
check "reserve (PUT): a share link at once" "$B/d/$id" "$(printf '%s' "$json" | jget url)"
check "before the bytes: the share page says uploading" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)"
check "before the bytes: complete is a conflict" 409 "$(complete "$id")"
code=$(direct_put "$json" "$W/f")
check "presigned PUT straight to S3" 200 "$code"
check "complete" 201 "$(complete "$id")"
check "complete: the drop's name" "direct file.bin" "$(jget name < "$W/c.out")"
check "complete: the drop's size" "$SIZE" "$(jget size < "$W/c.out")"
got=$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)
check "the download is byte-identical" "$WANT" "$got"
check "completing twice is a conflict" 409 "$(complete "$id")"
check "the worker carried no payload bytes" "$in0" "$(bytes_in)"

# a checksum given with complete is verified (then the bytes do pass through the worker)
json=$(reserve put)
id=$(printf '%s' "$json" | jget id)
direct_put "$json" "$W/f" >/dev/null
check "complete with a wrong sha256" 422 "$(complete "$id" "$(printf '0%.0s' $(seq 64))")"
contains "says why (without the real hash)" "does not have the sha256 announced" "$(jget message < "$W/c.out")"
check "the mismatched object was removed" 409 "$(complete "$id")"
json=$(reserve put)
id=$(printf '%s' "$json" | jget id)
direct_put "$json" "$W/f" >/dev/null
check "complete with the right sha256" 201 "$(complete "$id" "$WANT")"
check "then the drop knows its sha256" "$WANT" "$(jget sha256 < "$W/c.out")"
in0=$(bytes_in)

# POST policy with curl -F, then complete
json=$(reserve post)
id=$(printf '%s' "$json" | jget id)
purl=$(printf '%s' "$json" | jpath '["upload"]["url"]')
args=()
while IFS= read -r line; do args+=(-F "$line"); done < <(printf '%s' "$json" | form_fields '["upload"]["fields"]')
code=$(curl -sS -o /dev/null -w '%{http_code}' "${args[@]}" -F "file=@$W/f;type=application/x-test" "$purl")
check "POST policy straight to S3" 201 "$code"
check "complete (POST)" 201 "$(complete "$id")"
got=$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)
check "POST: the download is byte-identical" "$WANT" "$got"

# a body other than declared is refused by S3 itself
json=$(reserve put 1000)
check "PUT of more bytes than declared: S3 refuses" 403 "$(direct_put "$json" "$W/f")"
json=$(reserve post 1000)
purl=$(printf '%s' "$json" | jpath '["upload"]["url"]')
args=()
while IFS= read -r line; do args+=(-F "$line"); done < <(printf '%s' "$json" | form_fields '["upload"]["fields"]')
check "POST of more bytes than declared: S3 refuses" 400 "$(curl -sS -o /dev/null -w '%{http_code}' "${args[@]}" -F "file=@$W/f;type=application/x-test" "$purl")"

# an expired URL is refused: signed 2 h ago for 60 s, the way the worker signs
old=$(date -u -d '-2 hours' +%Y%m%dT%H%M%SZ)
url=$("$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" presign --at "$old" --expires 60 --content-type application/x-test --content-length "$SIZE" PUT "${SLUICE_PREFIX}drops/expired")
check "an expired presigned PUT is refused" 403 "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-test' -T "$W/f" "$url")"

# completing a wrong-size object: a clear error, and nothing visible remains
json=$(reserve put 1000)
id=$(printf '%s' "$json" | jget id)
curl -sS -o /dev/null -T "$W/f" "$("$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" presign PUT "${SLUICE_PREFIX}drops/$id")"
check "complete of a wrong-size object" 422 "$(complete "$id")"
contains "says why" "has $SIZE bytes, 1000 were announced" "$(jget message < "$W/c.out")"
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}drops/$id" --query 'length(Contents || `[]`)' --output text)
check "the wrong object was removed" 0 "$left"
check "no drop for it" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)"
# a PUT that lands after reserve_ttl, with a janitor run in between: its URL still lives, so
# does its reservation (the janitor used to remove it at 2 s: the bytes then landed with
# nothing pointing at them and complete answered 404)
json=$(reserve put)
id=$(printf '%s' "$json" | jget id) t0=$SECONDS
older_than_ttl() { [ $((SECONDS - t0)) -ge 3 ]; }
wait_for "a late PUT: its reservation is older than reserve_ttl" 10 older_than_ttl
out=$("$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" janitor)
case "$out" in *"reservation $id"*) bad "a late PUT: the janitor leaves its live reservation alone" "$out" ;;
               *) ok "a late PUT: the janitor leaves its live reservation alone" ;; esac
check "a late PUT: the reservation is still there" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)"
check "a late PUT: the URL still works" 200 "$(direct_put "$json" "$W/f")"
check "a late PUT: complete commits it" 201 "$(complete "$id")"
check "a late PUT: byte-identical" "$WANT" "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}reserved/$id" --query 'length(Contents || `[]`)' --output text)
check "a late PUT: no reservation left over" 0 "$left"
# an abandoned reservation (nothing uploaded) disappears once it is dead: its URL expired
# (8 s) and reserve_ttl (2 s) passed, while streamed uploads' markers wait for janitor.max_age
json=$(reserve put)
id=$(printf '%s' "$json" | jget id)
check "an abandoned reservation: uploading at first" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)"
janitor_removed() { "$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" janitor | grep -q "removed reservation $id"; }
wait_for "an abandoned reservation: removed by the janitor once dead" 30 janitor_removed
check "an abandoned reservation: gone from the share page" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id")"
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}meta/$id" --query 'length(Contents || `[]`)' --output text)
check "an abandoned reservation: its pending record went too" 0 "$left"
# a pending record no marker speaks for (a crash between the janitor's two deletes), older
# than reserve_ttl: its page says 404 and removes it; anyone may look, nothing live is touched
fid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
aws_s3 s3api put-object --bucket "$S3_BUCKET" --key "${SLUICE_PREFIX}meta/$fid"     --metadata state=pending,created=1000,size=5,name=x.bin >/dev/null
check "an orphan pending record: its page says 404" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$fid")"
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}meta/$fid" --query 'length(Contents || `[]`)' --output text)
check "  and it is gone" 0 "$left"
# a complete upload whose client never called complete is committed by the janitor, not lost
json=$(reserve put)
id=$(printf '%s' "$json" | jget id)
direct_put "$json" "$W/f" >/dev/null
janitor_committed() { "$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" janitor | grep -q "committed the completed upload $id"; }
wait_for "a finished but never completed upload: committed by the janitor once dead" 30 janitor_committed
check "it is a drop, byte-identical" "$WANT" "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"
# a link handed out before a streamed upload: "uploading" with progress, then the file
json=$(curl -sS -H "$AUTH" -d '{"name":"live.bin","size":6291456}' "$B/api/drops?reserve")
id=$(printf '%s' "$json" | jget id) tok=$(printf '%s' "$json" | jget delete_token)
ut=$(printf '%s' "$json" | jget upload_token)
up_path=${json#*\"upload_url\":\"$B}; up_path=${up_path%%\"*}
check "reserve a streamed upload: the share link" "$B/d/$id" "$(printf '%s' "$json" | jget url)"
check "before the upload: uploading" uploading "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget status)"
python3 tests/integration/rawclient.py "$NP" "$up_path" "$SLUICE_TOKEN" 6291456 --rate 2000000 --timeout 30 \
    --header "X-Upload-Token: $ut" > "$W/live.out" &
lpid=$!
progress() { [ "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget received)" -gt 0 ] 2>/dev/null; }
wait_for "while it streams: the share page shows the bytes received so far" 10 progress
contains "and the HTML page says so in words" "Still uploading: " "$(curl -q -sS "$B/d/$id")"
wait "$lpid"
check "the streamed upload into the reservation" 201 "$(cut -d' ' -f1 "$W/live.out")"
check "then the share link shows the file" 6291456 "$(curl -sS -H 'Accept: application/json' "$B/d/$id" | jget size)"
check "the reservation's delete token deletes it" 204 "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "X-Delete-Token: $tok" "$B/api/drops/$id")"
check "a used reservation cannot be uploaded into again" 404 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -H "X-Upload-Token: $ut" -T "$W/f" "$B$up_path")"
check "an unknown reservation" 404 "$(complete AAAAAAAAAAAAAAAAAAAAAA)"
check "reserve without a token" 401 "$(curl -sS -o /dev/null -w '%{http_code}' -d '{}' "$B/api/uploads")"
check "reserve with bad JSON" 400 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -d '{"name":' "$B/api/uploads")"
check "reserve over the size limit" 413 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -d '{"name":"x","size":99999999999999}' "$B/api/uploads")"
finish
