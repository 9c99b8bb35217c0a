#!/usr/bin/env bash
# The local stack behind `make run` / `make stop`:
#   scripts/stack.sh start   install what is missing, build, then start a local S3 server
#                            (Ceph RGW), sluice-fcgi workers under spawn-fcgi and nginx on
#                            http://127.0.0.1:8080 (SLUICE_PORT to change it)
#   scripts/stack.sh stop    stop everything `start` started, by pid file
#   scripts/stack.sh status
# Everything lives under run/ in the repository (SLUICE_RUN to put it elsewhere: the stack's
# own test does, so as not to meet a `make run`); `stop` removes the S3 data too.
set -euo pipefail
RUN=${SLUICE_RUN:+$(realpath -m "$SLUICE_RUN")}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN=${RUN:-$ROOT/run}
. scripts/stack-lib.sh

start() {
    scripts/install-deps.sh
    make -s -j"$(nproc)" all
    mkdir -p "$RUN"
    if [ -f "$RUN/s3/run/client.rgw.a.pid" ] && alive "$(cat "$RUN/s3/run/client.rgw.a.pid")"; then
        echo "stack: already running (make stop first)" >&2
        exit 1
    fi
    rm -rf "$RUN/s3"
    scripts/ceph-rgw.sh start "$RUN/s3" > "$RUN/s3.env"
    # shellcheck disable=SC1091
    . "$RUN/s3.env"
    export AWS_ENDPOINT_URL=$S3_ENDPOINT
    local port=${SLUICE_PORT:-8080}
    export SLUICE_TOKEN=${SLUICE_TOKEN:-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')}
    export SLUICE_METRICS_TOKEN=${SLUICE_METRICS_TOKEN:-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')}
    export SLUICE_PUBLIC_URL=http://127.0.0.1:$port SLUICE_CORS_ORIGIN=http://127.0.0.1:$port
    stack_write_conf "$RUN"
    # the throwaway bucket gets the CORS and lifecycle rules browsers' direct uploads need
    "$SLUICE_BUILD/sluicectl" -c "$RUN/sluice.conf" setup-bucket --force >/dev/null
    stack_start_workers "$RUN" 2
    stack_start_thumbd "$RUN"
    if ! stack_start_nginx "$RUN" "$port"; then
        echo "stack: nginx did not start on 127.0.0.1:$port (in use? set SLUICE_PORT)" >&2
        tail -3 "$RUN/nginx/error.log" >&2 || true
        stop
        exit 1
    fi
    cat > "$RUN/sluice.env" <<ENV
# source this file: . ${RUN#"$ROOT"/}/sluice.env
export SLUICE_URL=$SLUICE_PUBLIC_URL
export SLUICE_TOKEN=$SLUICE_TOKEN
export SLUICE_METRICS_TOKEN=$SLUICE_METRICS_TOKEN
export SLUICE_CONFIG=$RUN/sluice.conf
export AWS_ENDPOINT_URL=$S3_ENDPOINT
export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
export S3_BUCKET=$S3_BUCKET
ENV
    cat <<MSG

sluice is up:   $SLUICE_PUBLIC_URL   (open it in a browser; paste the token under Settings)
upload token:   $SLUICE_TOKEN
metrics:        curl -H "Authorization: Bearer $SLUICE_METRICS_TOKEN" $SLUICE_PUBLIC_URL/metrics
try:            curl -T README.md -H "Authorization: Bearer $SLUICE_TOKEN" $SLUICE_PUBLIC_URL/api/drops/README.md
                curl -F file=@README.md -H "Authorization: Bearer $SLUICE_TOKEN" $SLUICE_PUBLIC_URL/api/drops
settings:       . ${RUN#"$ROOT"/}/sluice.env   (config ${RUN#"$ROOT"/}/sluice.conf; logs ${RUN#"$ROOT"/}/worker.log, ${RUN#"$ROOT"/}/nginx/)
S3 (Ceph RGW):  $S3_ENDPOINT  bucket $S3_BUCKET
stop with:      make stop
MSG
}

stop() {
    stack_stop "$RUN"
    if [ -d "$RUN/s3" ]; then
        scripts/ceph-rgw.sh stop "$RUN/s3"
    fi
    rm -f "$RUN/s3.env" "$RUN/sluice.env"
    echo "stack: stopped"
}

status() {
    local f pid
    for f in "$RUN"/s3/run/*.pid "$RUN"/workers.pid "$RUN"/thumbd.pid "$RUN"/nginx/nginx.pid; do
        [ -f "$f" ] || continue
        while read -r pid; do
            [ -n "$pid" ] || continue
            if alive "$pid"; then echo "up   $(basename "$f" .pid) $pid"; else echo "down $(basename "$f" .pid) $pid"; fi
        done < <(cat "$f"; echo)
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
