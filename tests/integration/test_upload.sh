#!/usr/bin/env bash
# Uploads through nginx and lighttpd (the example configs) to the worker and into the real S3
# server: sizes around the part boundaries up to 1 GiB, by PUT (Content-Length, and chunked
# through nginx) and by multipart/form-data; each byte-identical in S3, with the reply's sha256
# equal to the object's. Odd filenames stored and served safely. Share, download, delete.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack up
export SLUICE_PREFIX="it-up-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port); LP=$(free_port)
stack_start_nginx "$W" "$NP" || { cat "$W/nginx/error.log"; exit 1; }
stack_start_lighttpd "$W" "$LP" || { cat "$W/lighttpd/error.log"; exit 1; }
NGINX=http://127.0.0.1:$NP LIGHTTPD=http://127.0.0.1:$LP
AUTH="Authorization: Bearer $SLUICE_TOKEN"

sizes=(0 1 $((5*1024*1024 - 1)) $((5*1024*1024)) $((5*1024*1024 + 1)) $((64*1024*1024)))
[ "${SLUICE_TEST_BIG:-1}" = 1 ] && sizes+=($((1024*1024*1024)))
for n in "${sizes[@]}"; do make_file "$W/f$n" "$n"; done

# verify BASE JSON FILE DESC: reply sha256 = local = the object's bytes = the object's metadata
verify() {
    local base=$1 json=$2 file=$3 desc=$4 want id got meta
    want=$(sha "$file")
    id=$(printf '%s' "$json" | jget id)
    if [ -z "$id" ]; then bad "$desc" "no id in reply: $(printf '%s' "$json" | head -c 300)"; return; fi
    check "$desc: reply sha256" "$want" "$(printf '%s' "$json" | jget sha256)"
    check "$desc: reply size" "$(stat -c %s "$file")" "$(printf '%s' "$json" | jget size)"
    got=$(curl -sS -L "$base/d/$id/download" | sha256sum | cut -d' ' -f1)
    check "$desc: S3 object is byte-identical" "$want" "$got"
    meta=$(aws_s3 s3api head-object --bucket "$S3_BUCKET" --key "${SLUICE_PREFIX}meta/$id" \
           --query Metadata.sha256 --output text 2>&1)
    check "$desc: the drop's record has the sha256" "$want" "$meta"
}

for front in nginx lighttpd; do
    [ $front = nginx ] && base=$NGINX || base=$LIGHTTPD
    for n in "${sizes[@]}"; do
        json=$(curl -sS -H "$AUTH" -T "$W/f$n" "$base/api/drops/f$n.bin")
        verify "$base" "$json" "$W/f$n" "$front PUT $n B"
        json=$(curl -sS -H "$AUTH" -F "file=@$W/f$n;filename=form$n.bin" "$base/api/drops")
        verify "$base" "$json" "$W/f$n" "$front form $n B"
        # (curl -T of an empty file with a forced chunked header sends no terminating chunk,
        # so the 0 B chunked case is sent by hand below)
        if [ $front = nginx ] && [ "$n" -gt 0 ]; then
            json=$(curl -sS -H "$AUTH" -H "Transfer-Encoding: chunked" -T "$W/f$n" "$base/api/drops/c$n.bin")
            verify "$base" "$json" "$W/f$n" "$front chunked PUT $n B"
        fi
    done
done
json=$(python3 - "$NP" "$SLUICE_TOKEN" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("PUT /api/drops/c0.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nAccept: application/json\r\n"
           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n" % sys.argv[2]).encode())
s.settimeout(20)
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
print(data.split(b"\r\n\r\n", 1)[1].decode())
PY
)
verify "$NGINX" "$json" "$W/f0" "nginx chunked PUT 0 B"
code=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H "Transfer-Encoding: chunked" -T "$W/f1" "$LIGHTTPD/api/drops/x")
check "lighttpd refuses a chunked body (its documented limit)" 411 "$code"

# odd filenames: stored sanitised, served safely
name_case() { # ENCODED-NAME EXPECTED-NAME DESC
    local json id
    json=$(curl -sS -H "$AUTH" -T "$W/f1" "$NGINX/api/drops/$1")
    check "$3: stored name" "$2" "$(printf '%s' "$json" | jget name)"
    id=$(printf '%s' "$json" | jget id)
    LAST_ID=$id
}
name_case "a%20b%20c.txt" "a b c.txt" "spaces"
name_case "%C3%BC%20%E6%97%A5%E6%9C%AC.txt" "ü 日本.txt" "UTF-8"
name_case "..%5C..%5Cwindows%5Cwin.ini" "win.ini" "..\\ path"
json=$(curl -sS -H "$AUTH" -F "file=@$W/f1;filename=../../etc/passwd" "$NGINX/api/drops")
check "../ path in a form: stored name" "passwd" "$(printf '%s' "$json" | jget name)"
name_case "line%0D%0Abreak.txt" "linebreak.txt" "CR/LF"
cd_hdr=$(curl -sS -D- -o /dev/null -L "$NGINX/d/$LAST_ID/download" | tr -d '\r' | grep -i '^content-disposition')
check "CR/LF name: download header" "Content-Disposition: attachment; filename=\"linebreak.txt\"; filename*=UTF-8''linebreak.txt" "$cd_hdr"
name_case "q%22uote%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.html" 'q"uote<img src=x onerror=alert(1)>.html' "quotes and markup"
page=$(curl -q -sS "$NGINX/d/$LAST_ID")   # (-q: no .curlrc, so no Accept: JSON)
contains "share page escapes the name" 'q&quot;uote&lt;img src=x onerror=alert(1)&gt;.html' "$page"
case "$page" in *"<img src=x"*) bad "share page has no raw markup from the name" ;; *) ok "share page has no raw markup from the name" ;; esac
hdrs=$(curl -q -sS -D- -o /dev/null "$NGINX/d/$LAST_ID" | tr -d '\r')
contains "share page sends a CSP" "Content-Security-Policy: default-src 'none'" "$hdrs"
contains "share page sends nosniff" "X-Content-Type-Options: nosniff" "$hdrs"
code=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -T "$W/f1" "$NGINX/api/drops/a%00b")
check "a NUL byte in the name is refused (by nginx already)" 400 "$code"
code=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -T "$W/f1" "$NGINX/api/drops/a%zzb")
check "bad percent-encoding in the name is refused (by nginx already)" 400 "$code"

# share page, HEAD, JSON, download, delete
json=$(curl -sS -H "$AUTH" -T "$W/f1" "$NGINX/api/drops/del.txt")
id=$(printf '%s' "$json" | jget id); tok=$(printf '%s' "$json" | jget delete_token)
check "share page JSON" "del.txt" "$(curl -sS -H 'Accept: application/json' "$NGINX/d/$id" | jget name)"
check "HEAD share page" 200 "$(curl -sS -o /dev/null -w '%{http_code}' -I "$NGINX/d/$id")"
check "HEAD download" 302 "$(curl -sS -o /dev/null -w '%{http_code}' -I "$NGINX/d/$id/download")"
check "unknown drop" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$NGINX/d/AAAAAAAAAAAAAAAAAAAAAA")"
check "malformed id" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$NGINX/d/bad*id")"
check "delete without token" 403 "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$NGINX/api/drops/$id")"
check "delete with a wrong token" 403 "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "X-Delete-Token: ${tok}x" "$NGINX/api/drops/$id")"
check "delete with the token" 204 "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "X-Delete-Token: $tok" "$NGINX/api/drops/$id")"
check "deleted drop is gone" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$NGINX/d/$id")"

# auth and routes
check "no token" 401 "$(curl -sS -o "$W/out" -w '%{http_code}' -T "$W/f1" "$NGINX/api/drops/x")"
check "no token: JSON error" unauthorized "$(jget error < "$W/out")"
check "wrong token" 401 "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' -T "$W/f1" "$NGINX/api/drops/x")"
check "GET on the upload route" 405 "$(curl -sS -o /dev/null -w '%{http_code}' "$NGINX/api/drops/x")"
check "form without a file part" 400 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -F "other=1" "$NGINX/api/drops")"
check "form with a bad content type" 400 "$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -H 'Content-Type: text/plain' --data-binary @"$W/f1" "$NGINX/api/drops")"
contains "metrics" "sluice_uploads_committed_total" "$(metrics "$NGINX")"
# each series once (reason labels used to repeat when two reasons shared a JSON code)
metrics "$NGINX" > "$W/metrics.txt"
check "metrics: every series once" "" "$(grep -v '^#' "$W/metrics.txt" | awk '{ print $1 }' | sort | uniq -d | head -3)"
check "metrics: and there are series" 1 "$([ "$(grep -vc '^#' "$W/metrics.txt")" -gt 20 ] && echo 1)"

# nothing half-done is left: no multipart upload, no staging object
left=$(aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX" --query 'length(Uploads || `[]`)' --output text)
check "no multipart upload left" 0 "$left"
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}reserved/" --query 'length(Contents || `[]`)' --output text)
check "no reservation marker left" 0 "$left"
nb=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}drops/" --query 'length(Contents || `[]`)' --output text)
nm=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}meta/" --query 'length(Contents || `[]`)' --output text)
check "every stored object has its record" "$nm" "$nb"
check "every slot free" 0 "$(metric sluice_slots_in_use "$NGINX")"
aws_s3 s3 rm --quiet --recursive "s3://$S3_BUCKET/$SLUICE_PREFIX" >/dev/null 2>&1
finish
