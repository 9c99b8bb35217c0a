#!/usr/bin/env bash
# sluicectl against the real S3 server: presigned PUT/GET with plain curl, a POST policy with
# curl -F (content-length-range enforced by the server), check, janitor, and clear errors.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
CTL=${BUILD:-build}/sluicectl
T=$(mktemp -d /tmp/sluice-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
P="it-cli-$$-$(date +%s)"
printf '[s3]\nprefix = %s/\n' "$P" > "$T/sluice.conf"
ctl() { "$CTL" -c "$T/sluice.conf" "$@"; }

head -c 300000 /dev/urandom > "$T/file.bin"

# presigned PUT then GET, with nothing but curl
url=$(ctl presign --expires 120 PUT "$P/presigned.bin")
code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$T/file.bin" "$url")
check "presigned PUT with curl -T" 200 "$code"
code=$(curl -sS -o "$T/back.bin" -w '%{http_code}' "$(ctl presign GET "$P/presigned.bin")")
check "presigned GET" 200 "$code"
check "presigned round trip is byte-identical" "$(sha "$T/file.bin")" "$(sha "$T/back.bin")"

# a tampered signature is refused
bad_url=$(printf '%s' "$url" | sed -E 's/(X-Amz-Signature=)[0-9a-f]/\10/; t; s/(X-Amz-Signature=)./\1f/')
[ "$bad_url" = "$url" ] && bad_url="${url%?}0"
code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$T/file.bin" "$bad_url")
check "tampered presigned PUT is refused" 403 "$code"

# signed Content-Type: the right one passes, another is refused
url=$(ctl presign --content-type image/png PUT "$P/typed.png")
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: image/png' -T "$T/file.bin" "$url")
check "presigned PUT with the signed content-type" 200 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: text/html' -T "$T/file.bin" "$url")
check "presigned PUT with another content-type is refused" 403 "$code"

# signed Content-Length: a body of another size is refused
url=$(ctl presign --content-length 300000 PUT "$P/sized.bin")
code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$T/file.bin" "$url")
check "presigned PUT with the signed content-length" 200 "$code"
head -c 1000 /dev/urandom > "$T/small.bin"
code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$T/small.bin" "$url")
check "presigned PUT of another length is refused" 403 "$code"

# expired: signed two hours ago for one minute
past=$(date -u -d '-2 hours' +%Y%m%dT%H%M%SZ)
url=$(ctl presign --at "$past" --expires 60 GET "$P/presigned.bin")
code=$(curl -sS -o /dev/null -w '%{http_code}' "$url")
check "expired presigned GET is refused" 403 "$code"

# --at pins the signature, so it can be reproduced
a=$(ctl presign --at 20260101T000000Z GET "$P/x"); b=$(ctl presign --at 20260101T000000Z GET "$P/x")
check "--at reproduces the same URL" "$a" "$b"

# POST policy with content-length-range, posted by curl -F
post_form() { # KEY FILE -> http code; body in $T/post.out
    local key=$1 file=$2 args=() first=1 line
    while IFS= read -r line; do
        if [ $first = 1 ]; then purl=$line; first=0; continue; fi
        args+=(-F "${line%%=*}=${line#*=}")
    done < <(ctl post-policy --max-size 2000 --content-type text/plain --expires 120 "$key")
    curl -sS -o "$T/post.out" -w '%{http_code}' "${args[@]}" -F "file=@$file;type=text/plain" "$purl"
}
head -c 1500 /dev/urandom > "$T/fits.txt"
head -c 2500 /dev/urandom > "$T/toobig.txt"
code=$(post_form "$P/posted.txt" "$T/fits.txt")
check "POST policy upload with curl -F" 201 "$code"
code=$(curl -sS -o "$T/posted.back" -w '%{http_code}' "$(ctl presign GET "$P/posted.txt")")
check "POSTed object is byte-identical" "$(sha "$T/fits.txt")" "$(sha "$T/posted.back")"
code=$(post_form "$P/toobig.txt" "$T/toobig.txt")
check "POST policy refuses a body over content-length-range" 400 "$code"
contains "the refusal is EntityTooLarge" EntityTooLarge "$(cat "$T/post.out")"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$(ctl presign GET "$P/toobig.txt")")
check "the oversize POST stored nothing" 404 "$code"
# the same signed form, its key field changed: S3 refuses it (the policy names the key)
args=(); first=1
while IFS= read -r line; do
    if [ $first = 1 ]; then purl=$line; first=0; continue; fi
    case $line in key=*) line="key=$P/other.txt" ;; esac
    args+=(-F "${line%%=*}=${line#*=}")
done < <(ctl post-policy --max-size 2000 --content-type text/plain --expires 120 "$P/mine.txt")
code=$(curl -sS -o "$T/post.out" -w '%{http_code}' "${args[@]}" -F "file=@$T/fits.txt;type=text/plain" "$purl")
check "a POST policy cannot be reused for another key" 403 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$(ctl presign GET "$P/other.txt")")
check "the other key stored nothing" 404 "$code"

# check: all good with the right credentials, a plain reason with a wrong secret
out=$(ctl check 2>&1); rc=$?
check "check passes" 0 "$rc"
contains "check says all good" "check: all good" "$out"
out=$(AWS_SECRET_ACCESS_KEY=wrong "$CTL" -c "$T/sluice.conf" check 2>&1); rc=$?
check "check fails with a wrong secret" 1 "$rc"
contains "check names the wrong secret" "secret access key is wrong" "$out"

out=$(S3_BUCKET=no-such-bucket-$$ "$CTL" -c "$T/sluice.conf" check 2>&1); rc=$?
check "check fails without the bucket" 1 "$rc"
contains "check says the bucket does not exist" "the bucket does not exist" "$out"
out=$(AWS_ENDPOINT_URL=http://127.0.0.1:9 "$CTL" -c "$T/sluice.conf" check 2>&1); rc=$?
check "check fails when the server is down" 1 "$rc"
contains "check says it cannot reach the server" "cannot reach the server" "$out"

# janitor: a fresh upload survives --older-than 1h; --older-than 0s aborts it
if [ -x "$AWS" ]; then
    id=$(aws_s3 s3api create-multipart-upload --bucket "$S3_BUCKET" --key "$P/stale.bin" \
         --query UploadId --output text)
    out=$(ctl janitor --older-than 1h); rc=$?
    check "janitor runs" 0 "$rc"
    contains "janitor leaves a fresh upload alone" "1 in progress under '$P/', 0 aborted" "$out"
    # what a worker killed between its bytes and its commit leaves: a marker and the bytes;
    # and one killed after its commit: a marker and a record
    for k in reserved/AAAAAAAAAAAAAAAAAAAAAA drops/AAAAAAAAAAAAAAAAAAAAAA \
             reserved/BBBBBBBBBBBBBBBBBBBBBB meta/BBBBBBBBBBBBBBBBBBBBBB drops/BBBBBBBBBBBBBBBBBBBBBB; do
        curl -sS -o /dev/null -T "$T/small.bin" "$(ctl presign PUT "$P/$k")"
    done
    out=$(ctl janitor --older-than 0s --dry-run)
    contains "janitor --dry-run only says what it would do" "would abort $P/stale.bin" "$out"
    out=$(ctl janitor --older-than 0s)
    contains "janitor aborts the stale upload" "aborted $P/stale.bin upload-id $id" "$out"
    contains "janitor deletes uncommitted bytes" "deleted the bytes of uncommitted upload AAAAAAAAAAAAAAAAAAAAAA" "$out"
    contains "janitor removes the stale markers" "2 reservations removed (1 uncommitted)" "$out"
    code=$(curl -sS -I -o /dev/null -w '%{http_code}' "$(ctl presign HEAD "$P/drops/BBBBBBBBBBBBBBBBBBBBBB")")
    check "janitor keeps the bytes of a committed drop" 200 "$code"
    left=$(aws_s3 s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix "$P/" \
           --query 'length(Uploads || `[]`)' --output text)
    check "no multipart upload left (seen by awscli)" 0 "$left"
else
    bad "janitor" "Debian's awscli (/usr/bin/aws) is not installed"
fi

# setup-bucket: the CORS rule direct uploads need and the lifecycle rule, then check agrees
# (the test bucket's own configuration is reset first: a previous run may have set it)
aws_s3 s3api delete-bucket-lifecycle --bucket "$S3_BUCKET" >/dev/null 2>&1
aws_s3 s3api delete-bucket-cors --bucket "$S3_BUCKET" >/dev/null 2>&1
out=$(ctl check)
contains "before setup-bucket, check warns about the lifecycle rule" "warn no lifecycle rule" "$out"
printf '[upload]\ncors_origin = http://127.0.0.1:8080\n' >> "$T/sluice.conf"
out=$(ctl setup-bucket); rc=$?
check "setup-bucket" 0 "$rc"
contains "setup-bucket says what it set (CORS)" "CORS: GET, HEAD, PUT, POST from http://127.0.0.1:8080; any header; ETag exposed" "$out"
contains "setup-bucket says what it set (lifecycle)" "multipart uploads under '$P/' are aborted one day after they start" "$out"
out=$(ctl check)
contains "check: CORS with ETag exposed" "ok   CORS configured, ETag exposed" "$out"
contains "check: the lifecycle rule" "ok   a lifecycle rule aborts incomplete multipart uploads" "$out"
pre=$(curl -sS -D- -o /dev/null -X OPTIONS -H "Origin: http://127.0.0.1:8080" -H "Access-Control-Request-Method: PUT" "$AWS_ENDPOINT_URL/$S3_BUCKET/$P/x" | tr -d '\r')
contains "a browser preflight from the allowed origin passes" "Access-Control-Allow-Origin: http://127.0.0.1:8080" "$pre"
contains "and ETag is exposed to it" "Access-Control-Expose-Headers: ETag" "$pre"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X OPTIONS -H "Origin: http://evil.example" -H "Access-Control-Request-Method: PUT" "$AWS_ENDPOINT_URL/$S3_BUCKET/$P/x")
check "a preflight from another origin is refused" 403 "$code"
rule=$(aws_s3 s3api get-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --query 'Rules[0].AbortIncompleteMultipartUpload.DaysAfterInitiation' --output text)
check "the lifecycle rule, seen by awscli" 1 "$rule"

# bad input: one clear line and a non-zero exit, never a crash
printf '[s3]\nbucket = b\nnonsense\n' > "$T/bad.conf"
out=$("$CTL" -c "$T/bad.conf" check 2>&1); rc=$?
check "malformed config exits 1" 1 "$rc"
check "malformed config names file and line" "sluicectl: $T/bad.conf:3: expected 'key = value'" "$out"
out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$CTL" -c "$T/sluice.conf" presign GET k 2>&1); rc=$?
check "missing credentials exit 1" 1 "$rc"
contains "missing credentials are named" "missing credentials" "$out"
out=$(ctl presign --expires 8d GET k 2>&1); rc=$?
check "an expiry over 7 days is refused" 1 "$rc"
out=$(ctl presign FETCH k 2>&1); rc=$?
check "an unknown method is refused" 1 "$rc"

# clean up what this test made
for k in presigned.bin typed.png sized.bin posted.txt meta/BBBBBBBBBBBBBBBBBBBBBB drops/BBBBBBBBBBBBBBBBBBBBBB; do
    curl -sS -o /dev/null -X DELETE "$(ctl presign DELETE "$P/$k")"
done
left=$(aws_s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$P/" --query 'length(Contents || `[]`)' --output text 2>&1)
check "nothing left under the test prefix" 0 "$left"
finish
