#!/usr/bin/env bash
# The local stack behind `make run` / `make stop`.
#   scripts/stack.sh start   install what is missing, build, start a local S3 server (Ceph RGW)
#                            and write its settings to run/sluice.env and run/sluice.conf
#   scripts/stack.sh stop    stop everything `start` started, by pid file
#   scripts/stack.sh status
# Everything lives under run/ in the repository; `stop` removes the S3 data.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN=$ROOT/run

start() {
    scripts/install-deps.sh
    make -s -j"$(nproc)" all
    mkdir -p "$RUN"
    if [ -f "$RUN/s3/run/client.rgw.a.pid" ] && kill -0 "$(cat "$RUN/s3/run/client.rgw.a.pid")" 2>/dev/null; then
        echo "stack: already running (make stop first)" >&2
    else
        rm -rf "$RUN/s3"
        scripts/ceph-rgw.sh start "$RUN/s3" > "$RUN/s3.env"
    fi
    # shellcheck disable=SC1091
    . "$RUN/s3.env"
    cat > "$RUN/sluice.env" <<ENV
# source this file: . run/sluice.env
export AWS_ENDPOINT_URL=$S3_ENDPOINT
export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
export S3_BUCKET=$S3_BUCKET
export SLUICE_CONFIG=$RUN/sluice.conf
ENV
    cat > "$RUN/sluice.conf" <<CONF
# written by scripts/stack.sh for the local stack; credentials come from run/sluice.env
[s3]
endpoint = $S3_ENDPOINT
bucket = $S3_BUCKET
region = $AWS_DEFAULT_REGION
prefix = sluice/
CONF
    cat <<MSG

sluice local stack is up.
  S3 (Ceph RGW):  $S3_ENDPOINT   bucket: $S3_BUCKET
  access key:     $AWS_ACCESS_KEY_ID
  secret key:     $AWS_SECRET_ACCESS_KEY
  settings:       . run/sluice.env     (config: run/sluice.conf)
try:
  . run/sluice.env && build/sluicectl check
  curl -T README.md "\$(build/sluicectl presign PUT sluice/readme.md)"
stop it with:     make stop
MSG
}

stop() {
    if [ -d "$RUN/s3" ]; then
        scripts/ceph-rgw.sh stop "$RUN/s3"
        echo "stack: S3 server stopped"
    fi
    rm -f "$RUN/s3.env" "$RUN/sluice.env"
}

status() {
    local f
    for f in "$RUN"/s3/run/*.pid; do
        [ -f "$f" ] || continue
        if kill -0 "$(cat "$f")" 2>/dev/null; then echo "up   $(basename "$f" .pid)"; else echo "down $(basename "$f" .pid)"; fi
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
