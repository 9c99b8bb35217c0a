#!/usr/bin/env bash
# A real Uppy (@uppy/core + @uppy/aws-s3 from npm, bundled by esbuild) in headless Chromium
# (Debian's, driven by playwright-core) uploads through sluice's /s3 routes straight to the
# real S3 server: a 1 MiB file (single request) and a 40 MiB file (multipart) become drops,
# byte-identical; an upload cancelled after its first part leaves no multipart upload.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack ub
browser_deps || { finish; exit 1; }
( cd tests/browser && npx esbuild page.js --bundle --format=iife --outfile="$W/page.bundle.js" --log-level=warning ) ||
    { bad "building the test page" "esbuild failed"; finish; exit 1; }
NP=$(free_port)
export SLUICE_PREFIX="it-ub-$$-$(date +%s)/" SLUICE_ANONYMOUS=true SLUICE_CORS_ORIGIN=http://127.0.0.1:$NP
stack_write_conf "$W"
export SLUICE_WEB=$W/web   # this test's own page, not web/
"$SLUICE_BUILD"/sluicectl -c "$W/sluice.conf" setup-bucket --force >/dev/null || { bad "setup-bucket"; finish; exit 1; }
stack_start_workers "$W" || exit 1
stack_start_nginx "$W" "$NP" || exit 1
mv "$W/page.bundle.js" "$W/web/"
printf '<!doctype html><meta charset=utf-8><title>uppy</title><script src="page.bundle.js"></script>\n' > "$W/web/index.html"
B=http://127.0.0.1:$NP
in0=$(metric sluice_upload_bytes_in_total "$B")
uppy() { (cd tests/browser && timeout 180 node uppy.mjs "$B/" "$B" "$@"); }

for case in "small.bin 1048576 single request" "big.bin 41943040 multipart"; do
    set -- $case
    out=$(uppy "$1" "$2")
    n=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["successful"]))' 2>/dev/null)
    check "Uppy, $2 bytes ($3): uploaded" 1 "$n"
    key=$(printf '%s' "$out" | jpath '["successful"][0]["response"]["body"]["key"]' 2>/dev/null)
    id=${key##*/}
    digest=$(printf '%s' "$out" | jget digest)
    share=$(curl -sS -H 'Accept: application/json' "$B/d/$id")
    check "Uppy, $2 bytes: a drop" "$1" "$(printf '%s' "$share" | jget name)"
    check "Uppy, $2 bytes: byte-identical (sha256 made in the browser)" "$digest" \
        "$(curl -sS -L "$B/d/$id/download" | sha256sum | cut -d' ' -f1)"
done
check "the 40 MiB one went in parts" 1 "$(grep -c "POST /s3/multipart/.*/complete" "$W/nginx/access.log")"
check "the worker carried no payload bytes" "$in0" "$(metric sluice_upload_bytes_in_total "$B")"

out=$(uppy cancel.bin 41943040 cancel)
check "Uppy cancels after its first part" True "$(printf '%s' "$out" | jpath '["cancelled"]')"
left=$(aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$SLUICE_PREFIX" --query 'length(Uploads || `[]`)' --output text)
check "after the cancel: no multipart upload left" 0 "$left"
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}reserved/" --query 'length(Contents || `[]`)' --output text)
check "after the cancel: no reservation left" 0 "$left"
finish
