# Shared helpers for the shell integration tests: TAP-like lines, a final "N passed, N failed".
PASS=0 FAIL=0
# every curl of the tests sends "Accept: application/json" (tests/integration/curlhome/.curlrc)
export CURL_HOME
CURL_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/curlhome
ok()   { PASS=$((PASS + 1)); echo "ok $PASS - $1"; }
bad()  { FAIL=$((FAIL + 1)); echo "not ok - $1${2:+: $2}"; }
check() { # check DESC EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected '$2', got '$3'"; fi
}
contains() { # contains DESC NEEDLE HAYSTACK
    case "$3" in *"$2"*) ok "$1" ;; *) bad "$1" "'$2' not in: $(printf '%s' "$3" | head -c 400)" ;; esac
}
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# Debian's own awscli, an S3 client independent of ours (pyenv's `aws` may shadow it on PATH)
AWS=/usr/bin/aws
aws_s3() { "$AWS" --endpoint-url "$AWS_ENDPOINT_URL" --region "${AWS_DEFAULT_REGION:-us-east-1}" "$@"; }
# jget FIELD: a field of the JSON document on stdin ("" if absent or not JSON)
jget() { python3 -c 'import json,sys
try: v=json.load(sys.stdin).get(sys.argv[1])
except Exception: v=None
print("" if v is None else v)' "$1"; }
# make_file PATH BYTES: deterministic pseudo-random content, fast even for 1 GiB
make_file() {
    if [ "$2" -eq 0 ]; then : > "$1"; return; fi
    openssl enc -aes-128-ctr -nosalt -pass "pass:$2" -in /dev/zero 2>/dev/null | head -c "$2" > "$1"
}
# metrics BASE_URL: the whole /metrics text, with its own token (stack_write_conf sets it)
export SLUICE_METRICS_TOKEN=${SLUICE_METRICS_TOKEN:-metrics-$$-token}
metrics() { curl -sS -H "Authorization: Bearer $SLUICE_METRICS_TOKEN" "$1/metrics"; }
export -f metrics
# metric_of SERIES: the value of one series in the /metrics text on stdin, SERIES being the
# name with its labels exactly as printed ('sluice_s3_errors_total{op="UploadPart"}'); the
# whole value, so that a check for 1 cannot pass on 10
metric_of() { awk -v n="$1" '$1 == n { print $2 }'; }
# metric SERIES BASE_URL: the same, from the server's /metrics
metric() { metrics "$2" | metric_of "$1"; }
# log_mark FILE: FILE's size now (0 if it is not there yet), for log_since
log_mark() { stat -c %s "$1" 2>/dev/null || echo 0; }
# log_since FILE MARK: what was appended to FILE after log_mark printed MARK (logs are
# appended to, so a line from before, e.g. an earlier worker's, must not count)
log_since() { tail -c +$(($2 + 1)) "$1" 2>/dev/null; }
# wait_for DESC SECONDS CMD...: poll CMD until it succeeds (never a bare sleep)
wait_for() {
    local desc=$1 deadline=$((SECONDS + $2)); shift 2
    until "$@"; do
        if [ $SECONDS -ge $deadline ]; then bad "$desc" "timed out"; return 1; fi
        sleep 0.1
    done
    ok "$desc"
}
# jpath PATH: a nested value of the JSON on stdin, PATH like '["upload"]["url"]'
jpath() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
# direct_put JSON FILE [CURL ARGS...]: the presigned PUT of an /api/uploads answer, sent
# exactly as handed out (its URL and every header it signed); prints the status. With
# REPLACE='Name: value' that one signed header is sent with another value instead.
direct_put() {
    local json=$1 file=$2 args=()
    shift 2
    mapfile -t args < <(printf '%s' "$json" | REPLACE=${REPLACE:-} python3 -c '
import json, os, sys
u = json.load(sys.stdin)["upload"]
rep = os.environ["REPLACE"].split(":", 1) if os.environ["REPLACE"] else None
for k, v in u.get("headers", {}).items():
    if rep and k.lower() == rep[0].strip().lower():
        v = rep[1].strip()
    print("-H"); print("%s: %s" % (k, v))
print(u["url"])')
    curl -sS -o /dev/null -w '%{http_code}' "$@" -T "$file" "${args[@]}"
}
# urlq S: S percent-encoded for a query value
urlq() { python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# form_args: the "fields" of the JSON on stdin (at PATH, default '["fields"]') as curl -F lines
form_fields() { python3 -c '
import json,sys
d=json.load(sys.stdin)
for k,v in eval("d"+sys.argv[1]).items(): print("%s=%s" % (k, v))' "${1:-[\"fields\"]}"; }
# browser_deps: node, npm and Debian's chromium are there and tests/browser's npm packages are
# installed (from its package-lock.json); else a failed check and a non-zero return
browser_deps() {
    local tool
    for tool in node npm /usr/bin/chromium; do
        command -v "$tool" >/dev/null || { bad "browser test" "$tool is missing (scripts/install-deps.sh)"; return 1; }
    done
    ( cd "$(dirname "${BASH_SOURCE[0]}")/../browser" &&
      { [ -d node_modules/playwright-core ] && [ -d node_modules/@uppy/aws-s3 ] ||
        npm ci --no-audit --no-fund >/dev/null 2>&1; } ) || { bad "npm ci in tests/browser"; return 1; }
}
# test_stack TAG: a fresh folder W for this test's stack. On exit: the test's own before_exit
# (if it defines one), then the stack's processes stopped by pid, its objects under
# SLUICE_PREFIX removed from the bucket and the folder deleted (copied to KEEP_LOGS first if
# that is set, for a post-mortem).
test_stack() {
    W=$(mktemp -d "/tmp/sluice-$1.XXXXXX")
    trap test_stack_cleanup EXIT
}
test_stack_cleanup() {
    if declare -F before_exit >/dev/null; then before_exit; fi
    stack_stop "$W"
    if [ -n "${SLUICE_PREFIX:-}" ]; then
        aws_s3 s3 rm --quiet --recursive "s3://$S3_BUCKET/$SLUICE_PREFIX" >/dev/null 2>&1
    fi
    if [ -n "${KEEP_LOGS:-}" ]; then cp -r "$W" "$KEEP_LOGS"; fi
    rm -rf "$W"
}
