#!/usr/bin/env bash
# Real S3-compatible test server for tests and `make run`: Ceph RADOS Gateway (Debian 12, Ceph 16.2.15)
# as a throwaway single-node cluster (1 mon + 1 bluestore OSD on a sparse file, no mgr),
# no systemd, no containers, loopback only, free ports picked at start.
#
#   s3-test-server.sh start [WORKDIR]   -> prints `export ...` lines (also in WORKDIR/s3.env)
#   s3-test-server.sh stop  WORKDIR     -> stops the daemons by pid file, deletes WORKDIR (KEEP=1 keeps it)
#   s3-test-server.sh install           -> apt-get install of what start needs (idempotent)
#
# Typical CI use:
#   W=$(mktemp -d); trap 'ceph-rgw.sh stop "$W"' EXIT
#   eval "$(ceph-rgw.sh start "$W")"      # S3_ENDPOINT AWS_ACCESS_KEY_ID ... S3_BUCKET
#
# Knobs (env): OSD_STORE=bluestore|memstore (memstore keeps every byte in RAM, never on disk;
#   use it if the disk is nearly full), BLUESTORE_BYTES (sparse file size, default 10 GiB),
#   MEMSTORE_BYTES (default 4 GiB), S3_ACCESS_KEY/S3_SECRET_KEY (default: random),
#   RGW_GC_SECONDS (default 60: how soon deleted objects' space is reclaimed; the benchmarks,
#   which push tens of GiB through, use 5),
#   BUCKET (default test-bucket), S3_TIMING=1 (phase timings on stderr),
#   RGW_REQUEST_TIMEOUT_MS (beast's request_timeout_ms: how long a request may send nothing
#   before RGW drops it; RGW's default 65000; AWS drops a stalled body after ~20 s).
set -Eeuo pipefail

PKGS="radosgw ceph-mon ceph-osd ceph-common curl"

install_pkgs() {
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null \
     && command -v radosgw-admin >/dev/null && command -v ceph >/dev/null; then return 0; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

free_port() {
  # ask the kernel for a free loopback port (python3 is on every machine of this kind)
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop_cluster() {
  local D=$1 n f pid i st
  for n in client.rgw.a osd.0 mon.a; do
    f=$D/run/$n.pid
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    # (a zombie counts as gone: where nobody reaps orphans, kill -0 would wait for nothing)
    for i in $(seq 1 50); do
      st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
      [ "$st" = Z ] && break
      sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$D"; fi
}

start_cluster() {
  local D=${1:-}
  [ -n "$D" ] || D=$(mktemp -d /tmp/ceph-rgw.XXXXXX)
  mkdir -p "$D"; D=$(cd "$D" && pwd)
  # on any failure: show logs, stop what was started, keep the folder for inspection
  trap 'rc=$?; echo "ceph-rgw: start failed (rc=$rc), logs in '"$D"'/log" >&2;
        tail -n 8 "'"$D"'"/log/*.out "'"$D"'"/log/*.log >&2 2>/dev/null || true; KEEP=1 stop_cluster "'"$D"'"; exit $rc' ERR

  local T0; T0=$(now)
  ts() { [ -z "${S3_TIMING:-}" ] || echo "timing $(elapsed "$T0")s $*" >&2; }
  local OSD_STORE=${OSD_STORE:-bluestore} BUCKET=${BUCKET:-test-bucket}
  local MON_PORT RGW_PORT FSID OSD_UUID OSD_ID AK SK code ok i
  MON_PORT=$(free_port); RGW_PORT=$(free_port)
  while [ "$RGW_PORT" = "$MON_PORT" ]; do RGW_PORT=$(free_port); done
  FSID=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$D"/{mon,osd0,run,log,rgw}

  cat > "$D/ceph.conf" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
crash dir = $D/crash
ms bind msgr1 = false
ms bind msgr2 = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# the default (1 s) makes each of radosgw's ~7 pool creations wait a second: 0.1 -> ready ~2x faster
paxos propose interval = 0.1
mon data avail warn = 1
mon data avail crit = 0
mon osd full ratio = .99
mon osd backfillfull ratio = .99
mon osd nearfull ratio = .99
osd failsafe full ratio = .995
[mon]
mon data = $D/mon
mon cluster log file = $D/log/cluster.log
[osd]
osd data = $D/osd0
osd objectstore = $OSD_STORE
memstore device bytes = ${MEMSTORE_BYTES:-4294967296}
bluestore block path = $D/osd0/block.file
bluestore block create = true
bluestore block size = ${BLUESTORE_BYTES:-10737418240}
bluestore fsck on mount = false
bluestore cache size = 134217728
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT${RGW_REQUEST_TIMEOUT_MS:+ request_timeout_ms=$RGW_REQUEST_TIMEOUT_MS}
rgw data = $D/rgw
rgw dns name =
rgw enable usage log = false
rgw thread pool size = 64
# reclaim deleted objects' space after ~1 min instead of 2 h (RGW_GC_SECONDS)
rgw gc obj min wait = ${RGW_GC_SECONDS:-60}
rgw gc processor period = ${RGW_GC_SECONDS:-60}
EOF

  # keys, monitor
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$D/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" -c "$D/ceph.conf" >"$D/log/mon-mkfs.out" 2>&1
  ceph-mon -i a -c "$D/ceph.conf"                      # daemonizes; pid in run/mon.a.pid
  ceph -c "$D/ceph.conf" --connect-timeout 30 mon stat >/dev/null
  ts mon-up

  # one OSD
  OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
  OSD_ID=$(ceph -c "$D/ceph.conf" osd new "$OSD_UUID")
  ceph-authtool --create-keyring "$D/osd0/keyring" --gen-key -n "osd.$OSD_ID" >/dev/null
  ceph -c "$D/ceph.conf" auth add "osd.$OSD_ID" osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
    -i "$D/osd0/keyring" >/dev/null 2>&1
  ceph-osd -c "$D/ceph.conf" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" --keyring "$D/osd0/keyring" \
    >"$D/log/osd-mkfs.out" 2>&1
  ceph-osd -c "$D/ceph.conf" -i "$OSD_ID" --keyring "$D/osd0/keyring" 2>>"$D/log/osd-start.out"  # daemonizes; run/osd.0.pid
  for i in $(seq 1 120); do
    ceph -c "$D/ceph.conf" osd dump 2>/dev/null | grep -q "^osd.$OSD_ID up" && break
    sleep 0.5
  done
  ceph -c "$D/ceph.conf" osd dump | grep -q "^osd.$OSD_ID up"
  ts osd-up

  # radosgw (creates its pools on first start)
  ceph -c "$D/ceph.conf" auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
    -o "$D/rgw/keyring" >/dev/null
  radosgw -c "$D/ceph.conf" -n client.rgw.a --keyring "$D/rgw/keyring"  # daemonizes; run/client.rgw.a.pid
  ok=0
  for i in $(seq 1 240); do
    if curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/"; then ok=1; break; fi
    sleep 0.25
  done
  [ "$ok" = 1 ]
  ts rgw-answers

  # S3 user + bucket
  AK=${S3_ACCESS_KEY:-$(head -c 10 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)}
  SK=${S3_SECRET_KEY:-$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  radosgw-admin -c "$D/ceph.conf" -n client.admin user create --uid=tester --display-name=tester \
    --access-key="$AK" --secret="$SK" >"$D/user.json" 2>"$D/log/user-create.err"
  # curl's SigV4; libcurl 7.88 does not add x-amz-content-sha256 by itself and RGW (like AWS)
  # refuses header-signed requests without it, so it is passed explicitly
  code=$(curl -sS -o "$D/log/create-bucket.out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "http://127.0.0.1:$RGW_PORT/$BUCKET")
  [ "$code" = 200 ] || { echo "create bucket: HTTP $code $(cat "$D/log/create-bucket.out")" >&2; false; }
  ts bucket-created

  # the signers (docs/design.md, "Least-privilege signing"): two more users that may only
  # write under */drops/; an explicit Deny of reads, ACL changes, deletes and listings (the
  # writer of an object may otherwise read it, so copy it); single PUTs/POSTs must carry
  # bucket-owner-full-control (RGW honours unsigned x-amz-acl, and the object would otherwise
  # stay the signer's, unreadable to the worker). That last Deny also refuses UploadPart,
  # which carries no ACL (RGW 16 matches StringNotEquals, and StringLike "*", on an absent
  # key, and ignores Null), so parts get a signer of their own without it. The tests' prefixes
  # vary, hence the wildcard: RGW 16 matches '*' without backtracking (measured: "*drops/*"
  # misses "it-di-1/drops/x", whose first 'd' is not the one of "drops"), so it is "*/drops/*",
  # right for one-segment prefixes; a real setup names its prefix ("BUCKET/sluice/drops/*").
  local who keys
  for who in signer-put signer-part; do
    keys=$(head -c 10 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F):$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
    radosgw-admin -c "$D/ceph.conf" -n client.admin user create --uid="$who" --display-name="$who" \
      --access-key="${keys%%:*}" --secret="${keys#*:}" >"$D/$who.json" 2>>"$D/log/user-create.err"
    echo "$keys" > "$D/$who.keys"
  done
  cat > "$D/policy.json" <<POLICY
{"Version": "2012-10-17", "Statement": [
  {"Sid": "signers-write-drops", "Effect": "Allow",
   "Principal": {"AWS": ["arn:aws:iam:::user/signer-put", "arn:aws:iam:::user/signer-part"]},
   "Action": "s3:PutObject", "Resource": "arn:aws:s3:::$BUCKET/*/drops/*"},
  {"Sid": "signers-never-read-list-delete-or-set-acls", "Effect": "Deny",
   "Principal": {"AWS": ["arn:aws:iam:::user/signer-put", "arn:aws:iam:::user/signer-part"]},
   "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObjectAcl", "s3:DeleteObject",
              "s3:ListBucket", "s3:ListBucketMultipartUploads"],
   "Resource": ["arn:aws:s3:::$BUCKET", "arn:aws:s3:::$BUCKET/*"]},
  {"Sid": "single-puts-stay-the-owners", "Effect": "Deny",
   "Principal": {"AWS": ["arn:aws:iam:::user/signer-put"]},
   "Action": "s3:PutObject", "Resource": "arn:aws:s3:::$BUCKET/*",
   "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}
]}
POLICY
  # (Debian's aws: curl 7.88's SigV4 mis-signs a query key without a value, like ?policy)
  AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1 \
    /usr/bin/aws --endpoint-url "http://127.0.0.1:$RGW_PORT" s3api put-bucket-policy \
    --bucket "$BUCKET" --policy "file://$D/policy.json" >"$D/log/policy.out" 2>&1 ||
    { echo "bucket policy: $(cat "$D/log/policy.out")" >&2; false; }
  ts signers-created
  trap - ERR

  cat > "$D/s3.env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$AK
export AWS_SECRET_ACCESS_KEY=$SK
export AWS_DEFAULT_REGION=us-east-1
export S3_REGION=us-east-1
export S3_BUCKET=$BUCKET
export S3_WORKDIR=$D
export S3_SIGNER_ACCESS_KEY_ID=$(cut -d: -f1 "$D/signer-put.keys")
export S3_SIGNER_SECRET_ACCESS_KEY=$(cut -d: -f2 "$D/signer-put.keys")
export S3_PART_SIGNER_ACCESS_KEY_ID=$(cut -d: -f1 "$D/signer-part.keys")
export S3_PART_SIGNER_SECRET_ACCESS_KEY=$(cut -d: -f2 "$D/signer-part.keys")
EOF
  cat "$D/s3.env"
  echo "ceph-rgw: radosgw ready on 127.0.0.1:$RGW_PORT in $(elapsed "$T0")s (workdir $D)" >&2
}

# restart_rgw WORKDIR: kill radosgw hard (SIGKILL, as a crash) and start it again on the same
# port; for the fault tests. Returns when it answers again.
restart_rgw() {
  local D=$1 pid port i
  pid=$(cat "$D/run/client.rgw.a.pid")
  port=$(sed -n "s/^rgw frontends = beast endpoint=127.0.0.1:\([0-9]*\).*/\1/p" "$D/ceph.conf")
  kill -9 "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
    [ "$st" = Z ] && break
    sleep 0.05
  done
  radosgw -c "$D/ceph.conf" -n client.rgw.a --keyring "$D/rgw/keyring"
  for i in $(seq 1 240); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
    sleep 0.25
  done
  return 1
}

case "${1:-}" in
  install) install_pkgs ;;
  restart-rgw) restart_rgw "${2:?usage: $0 restart-rgw WORKDIR}" ;;
  start)   install_pkgs; start_cluster "${2:-}" ;;
  stop)    stop_cluster "${2:?usage: $0 stop WORKDIR}" ;;
  *) echo "usage: $0 install | start [WORKDIR] | stop WORKDIR | restart-rgw WORKDIR" >&2; exit 2 ;;
esac
