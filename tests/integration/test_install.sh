#!/usr/bin/env bash
# `make install` as a package build does it (DESTDIR, PREFIX=/usr), then the INSTALLED files
# run: sluice-fcgi under spawn-fcgi and sluice-thumbd with a config made from the installed
# example (only S3 settings, the token and the two directories changed), nginx with the
# installed example config; one upload byte-identical back, its share page and thumbnail.
# Then the worker the way sluice.socket + sluice.service run it (the socket held by a parent,
# on fd 0, restarted on exit: tests/integration/sockhold.py), under the unit's own system call
# filter. And `systemd-analyze verify` on the installed units.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. scripts/stack-lib.sh
test_stack inst
export SLUICE_PREFIX="it-inst-$$-$(date +%s)/" SLUICE_TOKEN=tok-$$
TOOLS=$SLUICE_BUILD/tests
D=$W/dest
before_exit() {   # the held worker's parent first: it would start the worker again
    if [ -f "$W/holder.pid" ]; then stop_pids "$(cat "$W/holder.pid")"; fi
}

# -- make install: what is built, nothing rebuilt, every file in its place
touch "$W/before-install"; sleep 1   # (mtimes: whole seconds on some file systems)
out=$(make --no-print-directory install BUILD="$SLUICE_BUILD" DESTDIR="$D" PREFIX=/usr 2>&1)
check "make install succeeds" 0 $?
# nothing in the build tree was written: whatever the compiler is called, nothing was rebuilt
check "make install builds nothing" "" "$(find "$SLUICE_BUILD" -newer "$W/before-install" -type f ! -name 'san.*' | head -5)"
for f in usr/bin/sluicectl usr/sbin/sluice-fcgi usr/sbin/sluice-thumbd; do
    cmp -s "$D/$f" "$SLUICE_BUILD/${f##*/}"; check "$f is the built binary" 0 $?
done
for f in etc/sluice/sluice.conf.example usr/share/doc/sluice/examples/sluice.conf \
         usr/share/doc/sluice/examples/nginx/sluice.conf usr/share/doc/sluice/examples/lighttpd/sluice.conf \
         usr/share/doc/sluice/examples/sharex/sluice.sxcu usr/share/sluice/web/index.html \
         usr/share/sluice/web/app.js usr/share/sluice/web/share.js usr/share/sluice/web/style.css \
         usr/share/man/man1/sluicectl.1 usr/share/man/man5/sluice.conf.5 \
         usr/share/man/man8/sluice-fcgi.8 usr/share/man/man8/sluice-thumbd.8 \
         usr/lib/systemd/system/sluice.socket usr/lib/systemd/system/sluice.service \
         usr/lib/systemd/system/sluice-thumbd.service usr/lib/systemd/system/sluice-janitor.service \
         usr/lib/systemd/system/sluice-janitor.timer usr/lib/sysusers.d/sluice.conf; do
    [ -f "$D/$f" ]; check "installed: /$f" 0 $?
done
check "no live config is installed" no "$([ -e "$D/etc/sluice/sluice.conf" ] && echo yes || echo no)"
for m in "$D"/usr/share/man/man*/*; do
    check "man page ${m##*/} renders without warnings" "" \
        "$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)"
done
echo "operator's own" > "$D/etc/sluice/sluice.conf"
make --no-print-directory -s install BUILD="$SLUICE_BUILD" DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
check "a second make install leaves /etc/sluice/sluice.conf alone" "operator's own" "$(cat "$D/etc/sluice/sluice.conf")"
rm "$D/etc/sluice/sluice.conf"

# the installed examples name the installed paths, whatever PREFIX is
O=$W/opt
make --no-print-directory -s install BUILD="$SLUICE_BUILD" DESTDIR="$O" PREFIX=/opt/sluice >/dev/null 2>&1
check "PREFIX=/opt/sluice: nginx's root" "/opt/sluice/share/sluice/web" \
    "$(sed -n 's/^ *root \(.*\);$/\1/p' "$O/opt/sluice/share/doc/sluice/examples/nginx/sluice.conf")"
check "PREFIX=/opt/sluice: lighttpd's document-root" '"/opt/sluice/share/sluice/web"' \
    "$(sed -n 's/^server.document-root = //p' "$O/opt/sluice/share/doc/sluice/examples/lighttpd/sluice.conf")"
check "PREFIX=/opt/sluice: the units run the installed binaries" \
    "/opt/sluice/bin/sluicectl /opt/sluice/sbin/sluice-fcgi /opt/sluice/sbin/sluice-thumbd" \
    "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$O"/opt/sluice/lib/systemd/system/*.service | sort | tr '\n' ' ' | sed 's/ $//')"
check "PREFIX=/opt/sluice: the config example still goes to /etc" yes \
    "$([ -f "$O/etc/sluice/sluice.conf.example" ] && echo yes)"
make --no-print-directory -s uninstall DESTDIR="$O" PREFIX=/opt/sluice >/dev/null 2>&1
check "make uninstall removes every file it installed" "" "$(find "$O" -type f)"

# -- the config: the installed example with the test's S3, token and directories
C=$W/sluice.conf
cp "$D/etc/sluice/sluice.conf.example" "$C"
set_key() {   # set_key KEY VALUE: the one line 'KEY = ...' (or '#KEY = ...') of the example
    local n
    n=$(grep -cE "^#?$1 = " "$C")
    if [ "$n" != 1 ]; then bad "the example has one '$1' line" "found $n"; return; fi
    sed -i -E "s#^\#?$1 = .*#$1 = $2#" "$C"
}
set_key endpoint "$AWS_ENDPOINT_URL"
set_key bucket "$S3_BUCKET"
set_key region "${AWS_DEFAULT_REGION:-us-east-1}"
set_key prefix "$SLUICE_PREFIX"
set_key access_key_id "$AWS_ACCESS_KEY_ID"
set_key secret_access_key "$AWS_SECRET_ACCESS_KEY"
if [ -n "${S3_SIGNER_ACCESS_KEY_ID:-}" ]; then
    set_key signer_access_key_id "$S3_SIGNER_ACCESS_KEY_ID"
    set_key signer_secret_access_key "$S3_SIGNER_SECRET_ACCESS_KEY"
    set_key part_signer_access_key_id "$S3_PART_SIGNER_ACCESS_KEY_ID"
    set_key part_signer_secret_access_key "$S3_PART_SIGNER_SECRET_ACCESS_KEY"
fi
set_key token "$SLUICE_TOKEN"
set_key slot_dir "$W/slots"
set_key spool_dir "$W/spool"
check "nothing left to change in the config" "" "$(grep -v '^#' "$C" | grep -E 'CHANGE-ME|/run/|/var/')"
check "sluicectl reads it" 0 "$("$D/usr/bin/sluicectl" -c "$C" janitor --dry-run >/dev/null 2>&1; echo $?)"

# -- the installed programs behind nginx with the installed example config
SLUICE_BUILD=$D/usr/sbin   # stack-lib starts (and stops) the binaries in here
stack_start_workers "$W" || exit 1
stack_start_thumbd "$W"
check "the worker is the installed one" "$D/usr/sbin/sluice-fcgi" "$(readlink "/proc/$(cat "$W/workers.pid")/exe")"
check "the thumbnailer is the installed one" "$D/usr/sbin/sluice-thumbd" "$(readlink "/proc/$(cat "$W/thumbd.pid")/exe")"
NGX=$D/usr/share/doc/sluice/examples/nginx/sluice.conf
root=$(sed -n 's/^ *root \(.*\);$/\1/p' "$NGX")
check "the installed nginx example serves the installed web/" /usr/share/sluice/web "$root"
NP=$(free_port)
SLUICE_NGINX_EXAMPLE=$NGX SLUICE_WEB=$D$root stack_start_nginx "$W" "$NP" || exit 1
B=http://127.0.0.1:$NP
curl -sS -o "$W/index.html" "$B/"
cmp -s "$W/index.html" "$D$root/index.html"; check "the upload page is the installed one" 0 $?

"$TOOLS/mkimage" jpeg 800 600 "$W/photo.jpg"
json=$(curl -sS -H "Authorization: Bearer $SLUICE_TOKEN" -T "$W/photo.jpg" "$B/api/drops/photo.jpg")
id=$(printf '%s' "$json" | jget id)
check "an upload through nginx is stored" "$(sha "$W/photo.jpg")" "$(printf '%s' "$json" | jget sha256)"
curl -sS -L -o "$W/back.jpg" "$B/d/$id/download"
cmp -s "$W/photo.jpg" "$W/back.jpg"; check "its download is byte-identical" 0 $?
page=$(curl -sS -H 'Accept: text/html' "$B/d/$id")
contains "its share page names it" "photo.jpg" "$page"
thumb_ready() { [ "$(curl -sS -o "$W/t.jpg" -w '%{http_code}' "$B/d/$1/thumbnail")" = 200 ]; }
wait_for "the installed sluice-thumbd made its thumbnail" 20 thumb_ready "$id"
contains "made by the daemon, not on demand" "made $id" "$(cat "$W/thumbd.log")"

# -- the units' system call filters, applied to the installed programs (no systemd here:
# tests/tools/syscall_filter applies the allow-list the unit names, expanded by systemd-analyze)
unit_syscalls() {   # unit_syscalls UNIT OUT: the unit's SystemCallFilter= as one name a line
    systemd-analyze syscall-filter --no-pager 2>/dev/null > "$W/groups.txt"
    python3 - "$1" "$W/groups.txt" > "$2" <<'PY'
import sys
groups, cur = {}, None
for line in open(sys.argv[2]):
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    if not line.startswith(" "):
        cur = groups.setdefault(s, [])
    else:
        cur.append(s)
def expand(names):
    out = set()
    for n in names:
        out |= expand(groups[n]) if n.startswith("@") else {n}
    return out
allow = None
for line in open(sys.argv[1]):
    if not line.startswith("SystemCallFilter="):
        continue
    v = line.split("=", 1)[1].split()
    if v and v[0].startswith("~"):
        allow -= expand([v[0][1:]] + v[1:])
    else:
        allow = (allow or set()) | expand(v)
print("\n".join(sorted(allow)))
PY
}
# (an ASan build: LeakSanitizer's exit-time check stops the process with ptrace, which no
# unit's filter allows, and rightly; leaks are checked by every other suite)
if ldd "$D/usr/sbin/sluice-fcgi" | grep -q libasan; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
U=$D/usr/lib/systemd/system
unit_syscalls "$U/sluice-thumbd.service" "$W/thumbd.calls"
unit_syscalls "$U/sluice.service" "$W/fcgi.calls"
unit_syscalls "$U/sluice-janitor.service" "$W/janitor.calls"
"$TOOLS/syscall_filter" "$W/thumbd.calls" "$D/usr/sbin/sluice-thumbd" --sandbox-check > "$W/sandbox.out" 2>&1
check "the decoder's sandbox works under sluice-thumbd.service's filter" 0 $?
# (a line of '=' alone: the ASan build's signal handler starting a report it cannot write
# from inside the sandbox)
check "  (every probe refused)" "" "$(grep -v -e '^ok ' -e '^=*$' "$W/sandbox.out")"
"$TOOLS/syscall_filter" "$W/janitor.calls" "$D/usr/bin/sluicectl" -c "$C" janitor --dry-run > "$W/janitor.out" 2>&1
check "sluicectl janitor works under sluice-janitor.service's filter" 0 $?

# -- as sluice.socket + sluice.service run it: the socket held by the parent, the worker on
# fd 0 under the unit's filter, restarted on exit. The thumbnailer is stopped, so a thumbnail
# is made by the worker's lazy path (sluice-thumbd -m and its sandboxed decoder) in there.
stack_stop_workers "$W"
stop_pids "$(cat "$W/thumbd.pid")"; rm -f "$W/thumbd.pid"
python3 tests/integration/sockhold.py "$W/fcgi.sock" "$W/held.pid" "$TOOLS/syscall_filter" "$W/fcgi.calls" \
    "$D/usr/sbin/sluice-fcgi" -c "$C" -l "$W/worker.log" </dev/null >/dev/null 2>&1 &
echo $! > "$W/holder.pid"
healthy() { [ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "$B/healthz")" = 200 ]; }
wait_for "the held worker serves" 10 healthy
pid1=$(cat "$W/held.pid")
"$TOOLS/mkimage" png 600 400 "$W/lazy.png"
id=$(curl -sS -H "Authorization: Bearer $SLUICE_TOKEN" -T "$W/lazy.png" "$B/api/drops/lazy.png" | jget id)
check "an upload under sluice.service's filter" 200 "$(curl -sS -o "$W/t.jpg" -w '%{http_code}' "$B/d/$id/thumbnail")"
check "  and its lazy thumbnail, decoded in the sandbox" "jpeg 320 213" "$("$TOOLS/mkimage" --info "$W/t.jpg")"

kill -HUP "$pid1"
hup_logged() { grep -q 'SIGHUP' "$W/worker.log"; }
wait_for "SIGHUP (systemctl reload) is logged" 10 hup_logged
check "and the worker lives on" "$pid1" "$(alive "$pid1" && cat "$W/held.pid")"
check "  serving" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "$B/healthz")"

# systemctl restart sluice: the drain, then a new worker on the same socket (whichever worker
# is there now, so this holds on its own even if the SIGHUP above killed the first)
pid2=$(cat "$W/held.pid")
kill -TERM "$pid2"
restarted() { [ "$(cat "$W/held.pid")" != "$pid2" ] && ! alive "$pid2"; }
wait_for "the worker drained and a new one started" 15 restarted
wait_for "the new worker accepts on the socket the old one left" 10 healthy
json=$(curl -sS -H "Authorization: Bearer $SLUICE_TOKEN" -T "$W/photo.jpg" "$B/api/drops/again.jpg")
check "and takes uploads" "$(sha "$W/photo.jpg")" "$(printf '%s' "$json" | jget sha256)"

# -- systemd-analyze verify on the installed units. The units name /usr/sbin/... and those
# binaries live under DESTDIR: --root=DESTDIR does not work (it wants the whole system's units,
# sysinit.target and /bin/kill, inside the root), so a copy of each unit with its Exec*= paths
# moved under DESTDIR is verified; every other line is the installed one. verify exits 0 on
# unknown keys and bad values (it only prints them), so its output must be empty. --man=no:
# the units' Documentation= man pages are under DESTDIR, not where man looks.
V=$W/verify
mkdir -p "$V"
for u in "$U"/*; do
    sed -E "s#^(Exec[A-Za-z]*=)/usr/#\\1$D/usr/#" "$u" > "$V/${u##*/}"
done
vout=$(systemd-analyze verify --man=no "$V"/* 2>&1)
check "systemd-analyze verify: exit status" 0 $?
check "systemd-analyze verify: nothing to say" "" "$vout"
for s in sluice.service sluice-thumbd.service sluice-janitor.service; do
    # exposure 0-10 from `systemd-analyze security`; the threshold is in tenths
    systemd-analyze security --offline=yes --man=no --threshold=20 "$V/$s" > "$W/security.out" 2>&1
    rc=$?   # (not $? in the check below: its description's $(sed) would be the status read)
    check "$s: exposure at most 2.0 ($(sed -n 's/.*Overall exposure level for [^:]*: //p' "$W/security.out"))" 0 "$rc"
done

finish
