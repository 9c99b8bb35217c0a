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

# setup-bucket: the CORS rule direct uploads need and the lifecycle rule, merged into the
# bucket's own rules (an operator's lifecycle and CORS rule, put there with awscli), then
# check agrees. The test bucket's configuration is reset first: a previous run may have set it.
aws_s3 s3api delete-bucket-lifecycle --bucket "$S3_BUCKET" >/dev/null 2>&1
aws_s3 s3api delete-bucket-cors --bucket "$S3_BUCKET" >/dev/null 2>&1
out=$(ctl check)
contains "before setup-bucket, check warns about the lifecycle rule" "warn no lifecycle rule" "$out"
cat > "$T/lc.json" <<'EOF'
{"Rules": [{"ID": "operator-expire-logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
            "Expiration": {"Days": 30}}]}
EOF
cat > "$T/cors.json" <<'EOF'
{"CORSRules": [{"ID": "operator-cdn", "AllowedOrigins": ["https://cdn.example"],
                "AllowedMethods": ["GET"], "MaxAgeSeconds": 60}]}
EOF
aws_s3 s3api put-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --lifecycle-configuration "file://$T/lc.json"
check "the operator's lifecycle rule is put (awscli)" 0 "$?"
aws_s3 s3api put-bucket-cors --bucket "$S3_BUCKET" --cors-configuration "file://$T/cors.json"
check "the operator's CORS rule is put (awscli)" 0 "$?"
# rules_seen: the lifecycle rules' IDs, then the CORS rules' IDs, each list sorted (awscli)
rules_seen() {
    { aws_s3 s3api get-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --query 'Rules[].ID' --output text
      aws_s3 s3api get-bucket-cors --bucket "$S3_BUCKET" --query 'CORSRules[].ID' --output text
    } 2>&1 | while read -r line; do printf '%s|' "$(printf '%s\n' $line | sort | tr '\n' ' ')"; done
}
foreign_seen() { # the operator's two rules, field by field (awscli)
    aws_s3 s3api get-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --output text \
        --query "Rules[?ID=='operator-expire-logs'] | [0].[Filter.Prefix, Status, Expiration.Days]"
    aws_s3 s3api get-bucket-cors --bucket "$S3_BUCKET" --output text \
        --query "CORSRules[?ID=='operator-cdn'] | [0].[AllowedOrigins[0], AllowedMethods[0], MaxAgeSeconds, length(AllowedOrigins), length(AllowedMethods)]"
}
FOREIGN=$(printf 'logs/\tEnabled\t30\nhttps://cdn.example\tGET\t60\t1\t1')
BOTH="operator-expire-logs sluice-abort-incomplete |operator-cdn sluice-direct-upload |"
check "before setup-bucket, only the operator's rules (awscli)" "operator-expire-logs |operator-cdn |" "$(rules_seen)"
printf '[upload]\ncors_origin = http://127.0.0.1:8080\n' >> "$T/sluice.conf"
out=$(ctl setup-bucket); rc=$?
check "setup-bucket" 0 "$rc"
contains "setup-bucket says what it set (CORS)" "CORS: added sluice's rule: GET, HEAD, PUT, POST from http://127.0.0.1:8080; any header; ETag exposed" "$out"
contains "setup-bucket says what it set (lifecycle)" "lifecycle: added sluice's rule: multipart uploads under '$P/' are aborted one day after they start" "$out"
contains "setup-bucket names the lifecycle rule it kept" "lifecycle: kept rule 'operator-expire-logs': Enabled, prefix 'logs/', Expiration (30 days)" "$out"
contains "setup-bucket names the CORS rule it kept" "CORS: kept rule 'operator-cdn': origins https://cdn.example; methods GET" "$out"
check "the operator's rules and sluice's, each once (awscli)" "$BOTH" "$(rules_seen)"
check "the operator's rules are unchanged (awscli)" "$FOREIGN" "$(foreign_seen)"
rule=$(aws_s3 s3api get-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --output text \
       --query "Rules[?ID=='sluice-abort-incomplete'] | [0].[Filter.Prefix, Status, AbortIncompleteMultipartUpload.DaysAfterInitiation]")
check "sluice's lifecycle rule, seen by awscli" "$(printf '%s/\tEnabled\t1' "$P")" "$rule"
rule=$(aws_s3 s3api get-bucket-cors --bucket "$S3_BUCKET" --output text \
       --query "CORSRules[1].[ID, join(',', AllowedOrigins), join(',', sort(AllowedMethods)), join(',', ExposeHeaders)]")
check "sluice's CORS rule comes after the operator's (awscli)" "$(printf 'sluice-direct-upload\thttp://127.0.0.1:8080\tGET,HEAD,POST,PUT\tETag')" "$rule"
out=$(ctl check)
contains "check: sluice's CORS rule" "ok   CORS: sluice's rule: GET, HEAD, PUT, POST from http://127.0.0.1:8080; any header; ETag exposed" "$out"
contains "check: sluice's lifecycle rule" "ok   lifecycle: sluice's rule: multipart uploads under '$P/' are aborted one day after they start" "$out"
contains "check names the operator's lifecycle rule" "note lifecycle rule left alone (not sluice's): 'operator-expire-logs': Enabled, prefix 'logs/', Expiration (30 days)" "$out"
contains "check names the operator's CORS rule" "note CORS rule left alone (not sluice's): 'operator-cdn': origins https://cdn.example; methods GET" "$out"
pre=$(curl -sS -D- -o /dev/null -X OPTIONS -H "Origin: http://127.0.0.1:8080" -H "Access-Control-Request-Method: PUT" "$AWS_ENDPOINT_URL/$S3_BUCKET/$P/x" | tr -d '\r')
contains "a browser preflight from the allowed origin passes" "Access-Control-Allow-Origin: http://127.0.0.1:8080" "$pre"
contains "and ETag is exposed to it" "Access-Control-Expose-Headers: ETag" "$pre"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X OPTIONS -H "Origin: http://evil.example" -H "Access-Control-Request-Method: PUT" "$AWS_ENDPOINT_URL/$S3_BUCKET/$P/x")
check "a preflight from another origin is refused" 403 "$code"
pre=$(curl -sS -D- -o /dev/null -X OPTIONS -H "Origin: https://cdn.example" -H "Access-Control-Request-Method: GET" "$AWS_ENDPOINT_URL/$S3_BUCKET/$P/x" | tr -d '\r')
contains "the operator's CORS rule still answers its origin" "Access-Control-Allow-Origin: https://cdn.example" "$pre"

# a second run changes nothing
out=$(ctl setup-bucket); rc=$?
check "setup-bucket again" 0 "$rc"
contains "setup-bucket again: the lifecycle rule is already there" "lifecycle: sluice's rule is already there" "$out"
contains "setup-bucket again: the CORS rule is already there" "CORS: sluice's rule is already there" "$out"
check "after a second run, still each rule once (awscli)" "$BOTH" "$(rules_seen)"

# sluice's rules out of date (another prefix, another origin): left as they are without
# --force; --force replaces them and nothing else
printf '[s3]\nprefix = %s/other/\n[upload]\ncors_origin = http://127.0.0.1:8081\n' "$P" > "$T/moved.conf"
out=$("$CTL" -c "$T/moved.conf" check)
contains "check: sluice's lifecycle rule is not current" "warn lifecycle: sluice's rule says something else ('sluice-abort-incomplete': Enabled, prefix '$P/'" "$out"
contains "check: sluice's CORS rule is not current" "warn CORS: sluice's rule says something else" "$out"
out=$("$CTL" -c "$T/moved.conf" setup-bucket); rc=$?
check "setup-bucket without --force leaves an outdated rule of sluice's (exit 1)" 1 "$rc"
contains "and says --force replaces it" "--force replaces it (and only it)" "$out"
rule=$(aws_s3 s3api get-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --output text \
       --query "Rules[?ID=='sluice-abort-incomplete'] | [0].Filter.Prefix")
check "without --force sluice's rule is as it was (awscli)" "$P/" "$rule"
out=$("$CTL" -c "$T/moved.conf" setup-bucket --force); rc=$?
check "setup-bucket --force" 0 "$rc"
contains "setup-bucket --force replaces sluice's lifecycle rule" "lifecycle: replaced sluice's rule: multipart uploads under '$P/other/'" "$out"
contains "setup-bucket --force replaces sluice's CORS rule" "CORS: replaced sluice's rule: GET, HEAD, PUT, POST from http://127.0.0.1:8081;" "$out"
check "after --force, still each rule once (awscli)" "$BOTH" "$(rules_seen)"
check "after --force, the operator's rules are unchanged (awscli)" "$FOREIGN" "$(foreign_seen)"
rule=$(aws_s3 s3api get-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --output text \
       --query "Rules[?ID=='sluice-abort-incomplete'] | [0].Filter.Prefix")
check "after --force, sluice's lifecycle rule has the new prefix (awscli)" "$P/other/" "$rule"
rule=$(aws_s3 s3api get-bucket-cors --bucket "$S3_BUCKET" --output text \
       --query "CORSRules[?ID=='sluice-direct-upload'] | [0].AllowedOrigins[0]")
check "after --force, sluice's CORS rule has the new origin (awscli)" "http://127.0.0.1:8081" "$rule"
out=$("$CTL" -c "$T/moved.conf" check)
contains "check agrees after --force (lifecycle)" "ok   lifecycle: sluice's rule" "$out"
contains "check agrees after --force (CORS)" "ok   CORS: sluice's rule" "$out"
# the operator's rules go again: later tests set up the bucket for themselves
aws_s3 s3api delete-bucket-lifecycle --bucket "$S3_BUCKET" >/dev/null 2>&1
aws_s3 s3api delete-bucket-cors --bucket "$S3_BUCKET" >/dev/null 2>&1

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
