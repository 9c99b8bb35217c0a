#!/usr/bin/env bash
# The upload page (web/) and the share pages in a real browser (Debian's headless Chromium via
# playwright-core, tests/browser/webpage.mjs), against the stack `make run` starts: two workers
# under spawn-fcgi, sluice-thumbd, nginx with examples/nginx/sluice.conf serving web/, the real
# S3 server with the CORS rule from `sluicectl setup-bucket`. Three files dropped on the page
# (an image with a hostile name, 50 MiB, a text), straight to S3 and then through sluice; share
# page, thumbnail, byte-identical downloads, delete; slots full -> a plain message, then a
# retry that works. Screenshots go to SHOTS (default build/screenshots).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack web
SHOTS=${SHOTS:-$SLUICE_BUILD/screenshots}
browser_deps || { finish; exit 1; }
NP=$(free_port)
export SLUICE_PREFIX="it-web-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$ SLUICE_SLOTS=2 \
    SLUICE_PUBLIC_URL=http://127.0.0.1:$NP SLUICE_CORS_ORIGIN=http://127.0.0.1:$NP
stack_write_conf "$W"
"$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" setup-bucket --force >/dev/null || { bad "setup-bucket"; finish; exit 1; }
stack_start_workers "$W" 2 || exit 1
stack_start_thumbd "$W"
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
"$SLUICE_BUILD/tests/mkimage" jpeg 1600 1200 "$W/photo.jpg" || exit 1
mkdir -p "$SHOTS"

# the static page itself, as nginx serves it
hdrs=$(curl -sS -D - -o "$W/index.html" "$B/" | tr -d '\r')
contains "upload page served by nginx" "sluice" "$(cat "$W/index.html")"
contains "upload page: a CSP" "Content-Security-Policy: default-src 'self'" "$hdrs"
contains "upload page: nosniff" "X-Content-Type-Options: nosniff" "$hdrs"
contains "app.js is JavaScript" "Content-Type: application/javascript" "$(curl -sS -I "$B/app.js" | tr -d '\r')"
check "the page's config: direct uploads on" "True" "$(curl -sS "$B/api/config" | jget direct)"
# curl -T without asking for JSON: the share link as plain text
printf 'plain\n' > "$W/plain.txt"
out=$(curl -q -sS -H "Authorization: Bearer $SLUICE_TOKEN" -T "$W/plain.txt" "$B/api/drops/plain.txt")
case $out in "$B/d/"*) ok "curl -T prints the share link as plain text ($out)" ;; *) bad "curl -T plain text" "$out" ;; esac
check "and that link works" "plain.txt" "$(curl -sS -H 'Accept: application/json' "$out" | jget name)"

out=$(cd tests/browser && timeout 600 node webpage.mjs "$B" "$SLUICE_TOKEN" "$SHOTS" "$W/photo.jpg" 2>&1)
while IFS= read -r line; do
    case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) bad "${line#not ok - }" ;;
        *) echo "# $line" ;;
    esac
done <<< "$out"
for s in upload-desktop upload-phone share-desktop-desktop share-phone-phone upload-busy; do
    [ -s "$SHOTS/$s.png" ] && ok "screenshot $s.png" || bad "screenshot $s.png" "missing"
done
check "no multipart upload left" 0 "$(aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX" --query 'length(Uploads || `[]`)' --output text)"
finish
