# Shared helpers for the shell integration tests: TAP-like lines, a final "N passed, N failed".
PASS=0 FAIL=0
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
