# Functions to run sluice's stack on loopback: workers under spawn-fcgi, nginx and lighttpd
# with the example configs. Sourced by scripts/stack.sh (`make run`) and the integration tests.
# Every process started here writes a pid file in its folder; stack_stop ends them by pid.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLUICE_BUILD=${BUILD:-build}
case "$SLUICE_BUILD" in /*) ;; *) SLUICE_BUILD=$STACK_ROOT/$SLUICE_BUILD ;; esac

# alive PID: running (a zombie does not count: here nobody may reap orphans)
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL [SECONDS]: poll until the URL answers at all
wait_http() {
    local url=$1 deadline=$((SECONDS + ${2:-10}))
    while [ $SECONDS -lt $deadline ]; do
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    echo "stack: $url did not answer" >&2
    return 1
}

# stack_write_conf DIR: sluice.conf for the S3 server in the environment (AWS_ENDPOINT_URL,
# S3_BUCKET, credentials). Knobs: SLUICE_TOKEN SLUICE_SLOTS SLUICE_BUFFER_CAP SLUICE_PART_SIZE SLUICE_PARALLEL
# SLUICE_IDLE SLUICE_MAX_SIZE SLUICE_THREADS SLUICE_STALL SLUICE_PREFIX SLUICE_PUBLIC_URL
# SLUICE_RESERVE_TTL SLUICE_DIRECT_EXPIRES SLUICE_JANITOR_AGE SLUICE_SWEEP_GRACE SLUICE_SWEEP_MAX
# SLUICE_CONF_EXTRA: lines appended as they are (e.g. [token NAME] sections)
stack_write_conf() {
    local d=$1
    mkdir -p "$d/slots"
    cat > "$d/sluice.conf" <<CONF
[s3]
endpoint = $AWS_ENDPOINT_URL
bucket = $S3_BUCKET
region = ${AWS_DEFAULT_REGION:-us-east-1}
prefix = ${SLUICE_PREFIX:-sluice/}
stall_timeout = ${SLUICE_STALL:-30s}
max_retries = ${SLUICE_RETRIES:-4}
retry_base_ms = ${SLUICE_RETRY_BASE_MS:-100}
${S3_SIGNER_ACCESS_KEY_ID:+signer_access_key_id = $S3_SIGNER_ACCESS_KEY_ID}
${S3_SIGNER_SECRET_ACCESS_KEY:+signer_secret_access_key = $S3_SIGNER_SECRET_ACCESS_KEY}
${S3_PART_SIGNER_ACCESS_KEY_ID:+part_signer_access_key_id = $S3_PART_SIGNER_ACCESS_KEY_ID}
${S3_PART_SIGNER_SECRET_ACCESS_KEY:+part_signer_secret_access_key = $S3_PART_SIGNER_SECRET_ACCESS_KEY}
[upload]
token = ${SLUICE_TOKEN:-test-token}
anonymous = ${SLUICE_ANONYMOUS:-false}
${SLUICE_CORS_ORIGIN:+cors_origin = $SLUICE_CORS_ORIGIN}
slots = ${SLUICE_SLOTS:-4}
slot_dir = $d/slots
buffer_cap = ${SLUICE_BUFFER_CAP:-16M}
part_size = ${SLUICE_PART_SIZE:-8M}
parallel_parts = ${SLUICE_PARALLEL:-2}
idle_timeout = ${SLUICE_IDLE:-30s}
min_rate = ${SLUICE_MIN_RATE:-1k}
max_size = ${SLUICE_MAX_SIZE:-5G}
reserve_ttl = ${SLUICE_RESERVE_TTL:-1h}
direct_expires = ${SLUICE_DIRECT_EXPIRES:-15m}
${SLUICE_PUBLIC_URL:+public_url = $SLUICE_PUBLIC_URL}
[server]
threads = ${SLUICE_THREADS:-8}
metrics_token = ${SLUICE_METRICS_TOKEN:-metrics-token}
drain_timeout = ${SLUICE_DRAIN:-30s}
[janitor]
max_age = ${SLUICE_JANITOR_AGE:-24h}
${SLUICE_SWEEP_GRACE:+sweep_grace = $SLUICE_SWEEP_GRACE}
${SLUICE_SWEEP_MAX:+sweep_max = $SLUICE_SWEEP_MAX}
[thumbs]
enabled = ${SLUICE_THUMBS:-true}
spool_dir = $d/spool
max_pixels = ${SLUICE_MAX_PIXELS:-40000000}
${SLUICE_CONF_EXTRA:-}
CONF
}

# stack_start_workers DIR [PROCESSES]: sluice-fcgi under spawn-fcgi on DIR/fcgi.sock
stack_start_workers() {
    local d=$1 n=${2:-1}
    rm -f "$d/fcgi.sock"
    spawn-fcgi -s "$d/fcgi.sock" -M 0600 -F "$n" -P "$d/workers.pid" -- \
        "$SLUICE_BUILD/sluice-fcgi" -c "$d/sluice.conf" -l "$d/worker.log" >>"$d/workers.log" 2>&1 || {
        echo "stack: spawn-fcgi failed:" >&2; cat "$d/workers.log" >&2; return 1; }
    local deadline=$((SECONDS + 10))
    until [ -S "$d/fcgi.sock" ]; do
        [ $SECONDS -lt $deadline ] || { echo "stack: no worker socket" >&2; return 1; }
        sleep 0.05
    done
}

# stack_start_master DIR N: a master (sluice-fcgi -w N) under spawn-fcgi on DIR/fcgi.sock: it
# keeps the socket and replaces workers that end (pid in DIR/master.pid)
stack_start_master() {
    local d=$1 n=$2
    rm -f "$d/fcgi.sock"
    spawn-fcgi -s "$d/fcgi.sock" -M 0600 -F 1 -P "$d/master.pid" -- \
        "$SLUICE_BUILD/sluice-fcgi" -w "$n" -c "$d/sluice.conf" -l "$d/worker.log" >>"$d/workers.log" 2>&1 || {
        echo "stack: spawn-fcgi failed:" >&2; cat "$d/workers.log" >&2; return 1; }
    local m deadline=$((SECONDS + 10))
    m=$(tr -d '\n' < "$d/master.pid")
    until [ "$(pgrep -P "$m" | wc -l)" -ge "$n" ]; do
        [ $SECONDS -lt $deadline ] || { echo "stack: the master started no workers" >&2; return 1; }
        sleep 0.05
    done
}

# stack_start_thumbd DIR: sluice-thumbd on DIR/spool (in the background, pid in a file)
stack_start_thumbd() {
    local d=$1
    # (no inherited stdout/stderr: a caller reading our output must see it end)
    "$SLUICE_BUILD/sluice-thumbd" -c "$d/sluice.conf" -l "$d/thumbd.log" </dev/null >/dev/null 2>&1 &
    echo $! > "$d/thumbd.pid"
}

# stack_start_nginx DIR PORT: nginx with examples/nginx/sluice.conf, or the file named by
# SLUICE_NGINX_EXAMPLE (an installed copy) (NGINX_SED: one more sed expression applied to it,
# e.g. for the benchmarks' request-buffering baseline). The static files (the upload page)
# come from web/ in the repository, or SLUICE_WEB.
stack_start_nginx() {
    local d=$1 port=$2
    mkdir -p "$d/nginx/tmp" "$d/web"
    sed -e "s#listen 127.0.0.1:8080;#listen 127.0.0.1:$port;#" -e "${NGINX_SED:-}" \
        -e "s#unix:/run/sluice/fcgi.sock#unix:$d/fcgi.sock#" \
        -e "s#/var/log/nginx/sluice.access.log#$d/nginx/access.log#" \
        -e "s#root /usr/share/sluice/web;#root ${SLUICE_WEB:-$STACK_ROOT/web};#" \
        "${SLUICE_NGINX_EXAMPLE:-$STACK_ROOT/examples/nginx/sluice.conf}" > "$d/nginx/sluice.conf"
    cat > "$d/nginx/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log $d/nginx/access.log;
    client_body_temp_path $d/nginx/tmp/body;
    fastcgi_temp_path $d/nginx/tmp/fastcgi;
    proxy_temp_path $d/nginx/tmp/proxy;
    uwsgi_temp_path $d/nginx/tmp/uwsgi;
    scgi_temp_path $d/nginx/tmp/scgi;
    include $d/nginx/sluice.conf;
}
CONF
    nginx -c "$d/nginx/nginx.conf" -p "$d/nginx" -e "$d/nginx/error.log" || return 1
    wait_http "http://127.0.0.1:$port/healthz"
}

# stack_start_lighttpd DIR PORT: lighttpd with examples/lighttpd/sluice.conf
stack_start_lighttpd() {
    local d=$1 port=$2
    mkdir -p "$d/lighttpd/upload" "$d/web"
    sed -e "s#^server.port = 8081#server.port = $port#" \
        -e "s#/run/sluice/fcgi.sock#$d/fcgi.sock#g" \
        -e "s#/usr/share/sluice/web#${SLUICE_WEB:-$STACK_ROOT/web}#" \
        -e "s#/var/tmp/lighttpd-upload#$d/lighttpd/upload#" \
        "$STACK_ROOT/examples/lighttpd/sluice.conf" > "$d/lighttpd/sluice.conf"
    cat > "$d/lighttpd/lighttpd.conf" <<CONF
server.pid-file = "$d/lighttpd/lighttpd.pid"
server.errorlog = "$d/lighttpd/error.log"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html; charset=utf-8", ".js" => "text/javascript",
                    ".css" => "text/css", ".png" => "image/png", ".svg" => "image/svg+xml",
                    ".sxcu" => "application/json" )
include "$d/lighttpd/sluice.conf"
CONF
    lighttpd -f "$d/lighttpd/lighttpd.conf" || return 1
    wait_http "http://127.0.0.1:$port/healthz"
}

# stop_pids PID...: TERM them, KILL what is left after 10 s. A pid that is already gone is
# fine: this runs under `set -e` (stack.sh), where one failed kill would end the stop and
# leave every later process running. It never fails.
stop_pids() {
    local pid i
    for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        for i in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
    return 0
}

# stack_worker_pids DIR: the sluice-fcgi processes of this stack (spawn-fcgi -F N records one
# pid only: the others are found by their config path). Prints nothing, and succeeds, when
# there are none (pgrep's "no match" must not fail a caller under set -e / pipefail).
stack_worker_pids() {
    local d=$1
    { [ -f "$d/workers.pid" ] && cat "$d/workers.pid" && echo
      pgrep -f "^$SLUICE_BUILD/sluice-fcgi -c $d/sluice.conf( |\$)"; } 2>/dev/null | sort -u | grep . || true
}

# stack_stop_workers DIR: only the workers (the fault tests restart them)
stack_stop_workers() {
    stop_pids $(stack_worker_pids "$1")
    rm -f "$1/workers.pid"
}

# stack_stop DIR: every process with a pid file under DIR, and the workers. Each step goes on
# whatever the one before found (a dead pid, a missing file); it never fails.
stack_stop() {
    local d=$1 f pid pids=()
    mapfile -t pids < <(stack_worker_pids "$d")
    for f in "$d"/master.pid "$d"/workers.pid "$d"/thumbd.pid "$d"/nginx/nginx.pid "$d"/lighttpd/lighttpd.pid; do
        [ -f "$f" ] || continue
        # (spawn-fcgi writes its pid file without a final newline)
        while read -r pid || [ -n "$pid" ]; do
            if [ -n "$pid" ]; then pids+=("$pid"); fi
        done < "$f"
        rm -f "$f"
    done
    stop_pids "${pids[@]}"
}
