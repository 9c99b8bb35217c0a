#!/usr/bin/env bash
# bench: does queueing thumbnail jobs slow the upload reply? Two stacks on the same S3 server,
# one with thumbnails (and sluice-thumbd busy making them), one without; uploads of the same
# 1 MiB JPEG alternate between them. Prints the median and min-max time to the 201 and the
# ratio to the no-thumbnail baseline measured in the same run. Not a test.
#   bench/upload_thumbs.sh [ROUNDS]      (uses AWS_ENDPOINT_URL etc., or starts a Ceph RGW)
set -u
cd "$(dirname "$0")/.."
. scripts/stack-lib.sh
ROUNDS=${1:-40}
T=$(mktemp -d /tmp/sluice-bench.XXXXXX)
RGW=
cleanup() {
    stack_stop "$T/on"; stack_stop "$T/off"
    [ -n "$RGW" ] && scripts/ceph-rgw.sh stop "$RGW" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
    RGW=$T/rgw
    eval "$(scripts/ceph-rgw.sh start "$RGW" 2>/dev/null)"
    export AWS_ENDPOINT_URL=$S3_ENDPOINT
fi
export SLUICE_TOKEN=bench SLUICE_PREFIX="bench-$$/"
mkdir -p "$T/on" "$T/off"
SLUICE_THUMBS=true stack_write_conf "$T/on"
SLUICE_THUMBS=false stack_write_conf "$T/off"
stack_start_workers "$T/on" && stack_start_thumbd "$T/on" && stack_start_workers "$T/off"
PON=$(free_port); POFF=$(free_port)
stack_start_nginx "$T/on" "$PON" && stack_start_nginx "$T/off" "$POFF" || exit 1
"$SLUICE_BUILD/tests/mkimage" jpeg 2400 1600 "$T/photo.jpg"
up() { curl -sS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer bench" \
          -T "$T/photo.jpg" "http://127.0.0.1:$1/api/drops/photo.jpg"; }
for i in $(seq 1 3); do up "$PON" >/dev/null; up "$POFF" >/dev/null; done   # warm up
for i in $(seq 1 "$ROUNDS"); do up "$POFF" >> "$T/off.t"; up "$PON" >> "$T/on.t"; done
stats() { sort -n "$1" | awk '{v[NR]=$1} END {printf "%.1f %.1f %.1f", v[int((NR+1)/2)]*1000, v[1]*1000, v[NR]*1000}'; }
read -r moff loff hoff < <(stats "$T/off.t")
read -r mon lon hon < <(stats "$T/on.t")
made=$(grep -c "made " "$T/on/thumbd.log" 2>/dev/null || echo 0)
printf 'upload of a %s KB JPEG, %d rounds alternating\n' "$(( $(stat -c %s "$T/photo.jpg") / 1024 ))" "$ROUNDS"
printf '%-28s %10s %17s %7s\n' "stack" "median ms" "min-max ms" "ratio"
printf '%-28s %10s %8s-%-8s %6.2fx\n' "thumbnails off (baseline)" "$moff" "$loff" "$hoff" 1
printf '%-28s %10s %8s-%-8s %6.2fx\n' "thumbnails on" "$mon" "$lon" "$hon" "$(awk -v a="$moff" -v b="$mon" 'BEGIN{print a/b}')"
echo "(ratio = baseline median / median: 1.00 means as fast; sluice-thumbd made $made thumbnails meanwhile)"
aws_bin=/usr/bin/aws
"$aws_bin" --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --quiet --recursive "s3://$S3_BUCKET/$SLUICE_PREFIX" >/dev/null 2>&1
