#!/usr/bin/env bash
# Thumbnails end to end: an image upload queues a job (sniffed from the bytes, not the name),
# sluice-thumbd makes it; with the daemon stopped the first request makes it at once, and
# concurrent requests make it only once; non-images and hostile images fail cleanly.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack th
export SLUICE_PREFIX="it-th-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$ SLUICE_MAX_PIXELS=20000000
stack_write_conf "$W"
stack_start_workers "$W" || exit 1
stack_start_thumbd "$W"
NP=$(free_port)
stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
MK=$SLUICE_BUILD/tests/mkimage
up() { curl -sS -H "Authorization: Bearer $SLUICE_TOKEN" -T "$1" "$B/api/drops/$2"; }
thumb_ready() { [ "$(curl -sS -o "$W/t.out" -w '%{http_code}' "$B/d/$1/thumbnail")" = 200 ]; }
pending() { { find "$W/spool/new" -type f; find "$W/spool/cur" -mindepth 2 -type f; } | wc -l; }

# the daemon makes them: sizes, aspect ratios, EXIF orientation, every input format
$MK jpeg 1200 800 "$W/a.jpg"; $MK png 500 1000 "$W/b.png"; $MK gif 300 200 "$W/c.gif"
$MK webp 1000 1000 "$W/d.webp"; $MK jpeg 400 200 "$W/rot.jpg" 6; $MK jpeg 4000 3000 "$W/big.jpg"
for f in a.jpg:"jpeg 320 213" b.png:"jpeg 160 320" c.gif:"jpeg 300 200" d.webp:"jpeg 320 320" \
         rot.jpg:"jpeg 160 320" big.jpg:"jpeg 320 240"; do
    name=${f%%:*} want=${f#*:}
    json=$(up "$W/$name" "$name")
    id=$(printf '%s' "$json" | jget id)
    contains "$name: the reply links its thumbnail" "/d/$id/thumbnail" "$(printf '%s' "$json" | jget thumbnail_url)"
    wait_for "$name: thumbnail made by sluice-thumbd" 20 thumb_ready "$id"
    check "$name: thumbnail type and size" "$want" "$("$MK" --info "$W/t.out")"
done
contains "the share page shows the thumbnail" "/d/$id/thumbnail" "$(curl -sS "$B/d/$id")"
contains "the 12 MP JPEG was decoded at 1/8 scale" "from a 4000x3000 jpeg (decoded at 500x375)" "$(cat "$W/thumbd.log")"
hdrs=$(curl -sS -D- -o /dev/null "$B/d/$id/thumbnail" | tr -d '\r')
contains "thumbnails are cacheable" "Cache-Control: public, max-age=86400" "$hdrs"
spool_empty() { [ "$(pending)" = 0 ]; }
wait_for "the spool is empty" 10 spool_empty

# non-images: sniffed from the bytes, whatever the name says
printf 'just text' > "$W/fake.jpg"
json=$(up "$W/fake.jpg" "fake.jpg")
id=$(printf '%s' "$json" | jget id)
check "a text file named .jpg gets no thumbnail" "" "$(printf '%s' "$json" | jget thumbnail_url)"
check "and no job" 0 "$(pending)"
check "its thumbnail is a 404" 404 "$(curl -sS -o "$W/out" -w '%{http_code}' "$B/d/$id/thumbnail")"
check "with a JSON error" not_found "$(jget error < "$W/out")"

# the lazy path: the daemon is down; the first request makes it, concurrent ones only once
kill "$(cat "$W/thumbd.pid")"; rm -f "$W/thumbd.pid"
wait_for "sluice-thumbd stopped" 10 bash -c "! grep -q . /proc/$(pgrep -f "sluice-thumbd -c $W/" | head -1)/stat 2>/dev/null"
$MK png 2000 1000 "$W/lazy.png"
id=$(up "$W/lazy.png" lazy.png | jget id)
check "the lazy job is pending" 1 "$(pending)"
for i in 1 2 3 4 5; do
    curl -sS -o "$W/lazy.$i" -D "$W/lazy.$i.h" -w '%{http_code}\n' "$B/d/$id/thumbnail" > "$W/lazy.$i.code" &
done
wait
# one makes it; the others are not kept waiting on a thread: 503 + Retry-After at once
made=$(grep -l '^200' "$W"/lazy.*.code | head -1); made=${made%.code}
n200=$(cat "$W"/lazy.*.code | grep -c '^200') n503=$(cat "$W"/lazy.*.code | grep -c '^503')
check "of five concurrent first requests some get it, the rest 503: nothing else" 5 "$((n200 + n503))"
check "at least one got it" 1 "$([ "$n200" -ge 1 ] && echo 1)"
check "every 503 came with Retry-After" "$n503" "$(grep -li '^retry-after:' "$W"/lazy.*.h | wc -l)"
check "a retry gets it" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id/thumbnail")"
check "the lazy thumbnail's size" "jpeg 320 160" "$("$MK" --info "$made")"
check "it was made once" 1 "$(grep -c "made $id" "$W/worker.log")"
check "its job is done" 0 "$(pending)"

# a lost job (the host holding the spool is gone): the first request still makes it
$MK gif 900 300 "$W/lost.gif"
id=$(up "$W/lost.gif" lost.gif | jget id)
rm -f "$W/spool/new/$id"
check "a lost job: the thumbnail is made on request" 200 "$(curl -sS -o "$W/lost.out" -w '%{http_code}' "$B/d/$id/thumbnail")"
check "a lost job: its size" "jpeg 320 107" "$("$MK" --info "$W/lost.out")"

# an image upload that fails leaves no job behind
{ head -c 2048 "$W/big.jpg"; head -c $((5 * 1024 * 1024)) /dev/urandom; } > "$W/slow.jpg"   # 25 s at 200 kB/s
(curl -sS -o /dev/null --limit-rate 200k -H "Authorization: Bearer $SLUICE_TOKEN" -T "$W/slow.jpg" "$B/api/drops/aborted.jpg" &
 cpid=$!; sleep 1; kill "$cpid") 2>/dev/null
slots_free() { [ "$(metric sluice_slots_in_use "$B")" = 0 ]; }
wait_for "an aborted image upload: its slot is free" 20 slots_free
check "an aborted image upload: no job" 0 "$(pending)"

# hostile: a decompression bomb (a PNG header claiming 50000 x 50000), a truncated JPEG
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\xc3\x50\x00\x00\xc3\x50\x08\x06\x00\x00\x00\x12\x34\x56\x78' > "$W/bomb.png"
id=$(up "$W/bomb.png" bomb.png | jget id)
t0=$(date +%s%N)
check "the bomb's thumbnail is refused" 422 "$(curl -sS -o "$W/out" -w '%{http_code}' "$B/d/$id/thumbnail")"
check "with a JSON error" unprocessable "$(jget error < "$W/out")"
contains "refused from its header" "png image 50000x50000: too many pixels" "$(cat "$W/worker.log")"
head -c 20000 "$W/big.jpg" > "$W/cut.jpg"
id=$(up "$W/cut.jpg" cut.jpg | jget id)
check "a truncated JPEG: refused" 422 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id/thumbnail")"
check "failed jobs are set aside, not retried" 2 "$(find "$W/spool/failed" -type f | wc -l)"
check "nothing left pending" 0 "$(pending)"
# deleting a drop deletes its thumbnail
json=$(up "$W/a.jpg" del.jpg); id=$(printf '%s' "$json" | jget id); tok=$(printf '%s' "$json" | jget delete_token)
check "before the delete: a thumbnail" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/d/$id/thumbnail")"
check "delete" 204 "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "X-Delete-Token: $tok" "$B/api/drops/$id")"
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "${SLUICE_PREFIX}thumbs/$id" --query 'length(Contents || `[]`)' --output text)
check "after the delete: no thumbnail object" 0 "$left"
check "the worker still serves" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/healthz")"
# a daemon that cannot start every worker thread says so and exits 1 (it used to announce 64
# workers with only a few running and hang in pthread_join on the rest). 300 MB of address
# space: the program and its libraries fit, 64 thread stacks of 8 MiB do not.
case $SLUICE_BUILD in
*asan*) ok "# skip: thread start failure (ASan's shadow memory needs an unlimited address space)" ;;
*)
    # a spool of its own, so the threads that do start take no job of the test's; [thumbs] is last
    { sed "s#^spool_dir = .*#spool_dir = $W/spool-many#" "$W/sluice.conf"; printf 'workers = 64\n'; } > "$W/many.conf"
    out=$( (ulimit -v 300000; timeout 20 "$SLUICE_BUILD/sluice-thumbd" -c "$W/many.conf") 2>&1)
    check "thread start failure: exit status 1" 1 "$?"
    contains "thread start failure: said so" "cannot start worker" "$out"
    ;;
esac
finish
