#!/usr/bin/env bash
# Hostile HTTP input against the running stack (nginx -> sluice -> RGW): each case prints
# "abuse: CASE -> ANSWER" (the list the README quotes) and asserts what must hold: a clear
# 4xx, nothing stored, no slot or thread lost for other users, no secret in any answer or log.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack abuse
PIDS=()
before_exit() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
export SLUICE_PREFIX="it-abuse-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$-secret SLUICE_SLOTS=3 \
    SLUICE_THREADS=8 SLUICE_IDLE=3s SLUICE_MAX_SIZE=64M
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
AUTH="Authorization: Bearer $SLUICE_TOKEN"
say() { printf 'abuse: %-58s -> %s\n' "$1" "$2"; }
count() { aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX$1" --query 'length(Contents || `[]`)' --output text; }
put() { # NAME-IN-URL [curl args]: status and the JSON error code, e.g. "400 bad_request"
    local n=$1; shift
    local code
    code=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H 'Accept: application/json' "$@" \
           --data-binary @"$W/small" -X PUT "$B/api/drops/$n")
    echo "$code $(jget error < "$W/out")$(jget name < "$W/out")"
}
printf 'hello' > "$W/small"

# -- oversized and malformed request lines and headers (nginx answers before the worker)
long=$(head -c 20000 /dev/zero | tr '\0' a)
a=$(put "$long.txt"); say "path of 20 kB" "$a"; check "20 kB path: 414" 414 "${a%% *}"
a=$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -H "X-Big: $long" -X PUT --data-binary @"$W/small" "$B/api/drops/x")
say "one header of 20 kB" "$a"; check "20 kB header: 400" 400 "$a"
hdrs=(); for i in $(seq 1 300); do hdrs+=(-H "X-H$i: $(head -c 100 /dev/zero | tr '\0' b)"); done
a=$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" "${hdrs[@]}" -X PUT --data-binary @"$W/small" "$B/api/drops/x")
say "300 headers of 100 B (30 kB)" "$a"; check "30 kB in 300 short headers: accepted (each line is within nginx's limit)" 201 "$a"

# -- names: traversal, NUL, CR/LF, invalid UTF-8, control characters, very long
a=$(put "..%2F..%2F..%2Fetc%2Fpasswd"); say "name ../../../etc/passwd (encoded)" "$a"; check "traversal above the root: refused by nginx" 400 "${a%% *}"
a=$(put "%2e%2e"); say "name '..'" "$a"; check "name '..': renamed" "201 file" "$a"
a=$(put "a%00b.txt"); say "NUL byte in the name" "$a"; check "NUL: refused by nginx" 400 "${a%% *}"
a=$(put "x%0D%0ASet-Cookie%3A%20a%3Db.txt"); say "CR/LF + header in the name" "$a"
check "CR/LF name: stored without the line break" "201 xSet-Cookie: a=b.txt" "$a"
id=$(curl -sS -H "$AUTH" -H 'Accept: application/json' --data-binary @"$W/small" -X PUT "$B/api/drops/x%0D%0ASet-Cookie%3A%20a%3Db.txt" | jget id)
loc=$(curl -sS -D - -o /dev/null "$B/d/$id/download" | tr -d '\r' | sed -n 's/^Location: //p')
cd_hdr=$(curl -sS -D - -o /dev/null "$loc" | tr -d '\r' | grep -i '^Content-Disposition')
say "  its download's Content-Disposition (from S3)" "$cd_hdr"
contains "CR/LF name: one Content-Disposition line, attachment" "attachment; filename=\"xSet-Cookie: a=b.txt\"" "$cd_hdr"
a=$(put "%FF%FE%C3.txt"); say "invalid UTF-8 in the name" "$a"; check "invalid UTF-8: replaced" "201 ___.txt" "$a"
a=$(put "$(printf 'n%.0s' $(seq 1 600)).txt"); say "600-character name" "$(echo "$a" | cut -c1-30)..."
check "long name: cut to 255 bytes" 255 "$(( $(jget name < "$W/out" | wc -c) - 1 ))"

# -- tokens and ids
a=$(curl -sS -o "$W/out" -w '%{http_code}' -X PUT --data-binary @"$W/small" "$B/api/drops/x"); say "no token" "$a $(jget error < "$W/out")"
check "no token: 401 JSON" "401 unauthorized" "$a $(jget error < "$W/out")"
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H 'Authorization: Bearer nope' -X PUT --data-binary @"$W/small" "$B/api/drops/x")
say "wrong token" "$a $(jget error < "$W/out")"; check "wrong token: 401" 401 "$a"
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "Authorization: Bearer ${SLUICE_TOKEN}x" -X PUT --data-binary @"$W/small" "$B/api/drops/x")
say "token with one extra character" "$a"; check "token + 1 char: 401" 401 "$a"
a=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H 'X-Delete-Token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "$B/api/drops/$id")
say "delete with a guessed delete token" "$a"; check "guessed delete token: 403" 403 "$a"
g404=0; for i in $(seq 1 200); do
    gid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [ "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$gid")" = 404 ] && g404=$((g404 + 1))
done
say "200 guessed drop ids (128-bit ids)" "$g404 x 404"; check "guessed ids: all 404" 200 "$g404"
a=$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/..%2F..%2Fmeta")
say "drop id '../../meta'" "$a"; check "id traversal: refused by nginx" 400 "$a"

# -- multipart abuse
python3 - "$W/pre.body" <<'EOF'
import sys
b = b"--XyZ"
pre = b"P" * (8 << 20)            # 8 MiB of preamble before the first boundary
body = pre + b"\r\n" + b + b'\r\nContent-Disposition: form-data; name="file"; filename="p.txt"\r\n\r\nhi\r\n' + b + b"--\r\n"
open(sys.argv[1], "wb").write(body)
EOF
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary @"$W/pre.body" "$B/api/drops")
a="$a $(jget error < "$W/out")$(jget name < "$W/out") $(jget size < "$W/out")"
say "form with an 8 MiB preamble" "$a"
check "huge preamble: skipped as RFC 2046 says, the file part stored" "201 p.txt 2" "$a"
python3 - "$W/parts.body" <<'EOF'
import sys
parts = [b'--XyZ\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(20000)]
parts.append(b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="after.txt"\r\n\r\nlast\r\n--XyZ--\r\n')
open(sys.argv[1], "wb").write(b"".join(parts))
EOF
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary @"$W/parts.body" "$B/api/drops")
say "form with 20000 tiny fields before the file" "$a $(jget error < "$W/out")"
check "20000 fields: refused" "413 too_large" "$a $(jget error < "$W/out")"
python3 - "$W/hdr.body" <<'EOF'
import sys
body = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="h.txt"\r\nX-Pad: ' + b"p" * 100000 + b"\r\n\r\nx\r\n--XyZ--\r\n"
open(sys.argv[1], "wb").write(body)
EOF
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary @"$W/hdr.body" "$B/api/drops")
say "form part header of 100 kB" "$a $(jget error < "$W/out")"; check "100 kB part header: refused" 413 "$a"
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary 'no boundary at all' "$B/api/drops")
say "form without any boundary" "$a $(jget error < "$W/out")"; check "no boundary in body: 400" 400 "$a"
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H "Content-Type: multipart/form-data; boundary=$(head -c 200 /dev/zero | tr '\0' q)" --data-binary 'x' "$B/api/drops")
say "boundary of 200 characters" "$a $(jget error < "$W/out")"; check "200-char boundary: 400" 400 "$a"
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' --data-binary '{"name":' "$B/api/uploads")
say "truncated JSON to /api/uploads" "$a $(jget error < "$W/out")"; check "bad JSON: 400" 400 "$a"
a=$(curl -sS -o "$W/out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' --data-binary "{\"name\":\"a\",\"size\":99999999999999999999999}" "$B/api/uploads")
say "JSON size of 10^23" "$a $(jget error < "$W/out")"; check "absurd size: 4xx" 4 "$(echo "$a" | cut -c1)"

# -- slow clients: slow-loris on headers, slow bodies holding every slot
for i in $(seq 1 40); do   # 40 connections sending one header byte a second
    python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PUT /api/drops/x HTTP/1.1\r\n")
for i in range(60):
    s.sendall(b"X")
    time.sleep(1)' "$NP" >/dev/null 2>&1 &
    PIDS+=($!)
done
for i in 1 2 3; do   # 3 uploads (= every slot) sending a byte a second
    python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PUT /api/drops/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n" % sys.argv[2].encode())
for i in range(60):
    s.sendall(b"x")
    time.sleep(1)' "$NP" "$SLUICE_TOKEN" >/dev/null 2>&1 &
    PIDS+=($!)
done
wait_for "slow bodies hold every slot" 10 bash -c "[ \"\$(metrics $B | awk '\$1==\"sluice_slots_in_use\"{print \$2}')\" = 3 ]"
t0=$(date +%s%N)
a=$(curl -sS -o "$W/out" -D "$W/h" -w '%{http_code}' -H "$AUTH" --data-binary @"$W/small" -X PUT "$B/api/drops/other.txt")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
say "an upload while 40 slow-loris + 3 slow bodies hold on" "$a $(jget error < "$W/out") in $ms ms, $(grep -i retry-after "$W/h" | tr -d '\r')"
check "slots full: 503 busy at once" "503 busy" "$a $(jget error < "$W/out")"
a=$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/AAAAAAAAAAAAAAAAAAAAAA")
say "a share page meanwhile" "$a"; check "share pages still served (threads not exhausted)" 404 "$a"
a=$(curl -sS -o /dev/null -w '%{http_code}' "$B/healthz"); check "health check still served" 200 "$a"
# sluice's idle timeout (3 s here) ends a body that trickles below it? no: a byte a second is
# not idle. The slots come back when those uploads end; the configured limit is the bound.
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; PIDS=()
wait_for "slots free again once the slow clients are gone" 15 bash -c "[ \"\$(metrics $B | awk '\$1==\"sluice_slots_in_use\"{print \$2}')\" = 0 ]"
a=$(put "after.txt"); say "an upload after the slow clients left" "$a"; check "upload after: 201" "201 after.txt" "$a"

# -- nothing of the refused requests was stored; no secret anywhere
check "no reservation marker left" 0 "$(count reserved/)"
check "no multipart upload left" 0 "$(aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX" --query 'length(Uploads || `[]`)' --output text)"
check "drops = records (nothing half-stored)" "$(count meta/)" "$(count drops/)"
leaks=$(grep -rlF -e "$AWS_SECRET_ACCESS_KEY" -e "$SLUICE_TOKEN" "$W"/worker.log "$W"/nginx/error.log "$W"/nginx/access.log "$W/out" 2>/dev/null | wc -l)
say "secret key or upload token in any log or answer" "$leaks files"
check "no secret in logs or answers" 0 "$leaks"
finish
