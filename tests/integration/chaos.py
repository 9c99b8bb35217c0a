#!/usr/bin/python3
"""Randomized fault run: many concurrent uploads through nginx -> sluice -> faultproxy -> RGW,
one fault per round, and after every round the invariants:

  1. every upload answered 201 is in S3 byte-identical to what the client sent (sha256);
  2. every upload not answered 201 left no visible drop and no object (after the janitor for
     the faults that take S3 or the worker away mid-rollback);
  3. after the janitor, ListMultipartUploads under sluice's prefix is empty;
  4. every slot is free, no spool or temp file is left, each worker's RSS is back near its
     idle level, and a new upload still succeeds.

Seeded (the seed is printed; --seed reproduces a run), bounded by --uploads and --minutes.
Started by tests/integration/test_chaos.sh, which passes the stack in CHAOS_* variables.
Debian's python3 (boto3). Loopback only.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import boto3

ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, default=None)
ap.add_argument("--uploads", type=int, default=300)
ap.add_argument("--minutes", type=float, default=4)
ap.add_argument("--per-round", type=int, default=8)
a = ap.parse_args()
seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "big")
print("chaos: seed %d (reproduce with --seed %d)" % (seed, seed), flush=True)
R = random.Random(seed)

E = os.environ
PORT = int(E["CHAOS_PORT"])
TOKEN = E["SLUICE_TOKEN"]
PREFIX = E["SLUICE_PREFIX"]
BUCKET = E["S3_BUCKET"]
W = E["CHAOS_DIR"]
IDLE = float(E["CHAOS_IDLE_S"])
RGW_DIR = E.get("S3_WORKDIR", "")
MiB = 1 << 20
s3 = boto3.client("s3", endpoint_url=E["AWS_ENDPOINT_URL"],
                  region_name=E.get("AWS_DEFAULT_REGION", "us-east-1"))

POOL = R.randbytes(24 * MiB)              # upload bodies are slices of this
JPEG = open(E["CHAOS_JPEG"], "rb").read()  # a real image, so thumbnail jobs are spooled too

counts = {"tried": 0, "committed": 0}
rolled = {}          # reason -> count
faults = {}          # kind -> rounds
violations = []
committed = {}       # id -> (sha256, name, size)
tokens = {}          # id -> delete token, of the drops still committed
deletes = {}         # status -> count
pending_deletes = []
lock = threading.Lock()


def bump(d, k, n=1):
    with lock:
        d[k] = d.get(k, 0) + n


def violation(msg):
    violations.append(msg)
    print("chaos: VIOLATION: " + msg, flush=True)


# ---- control of the proxy, RGW and workers ------------------------------------------------

class Proxy:
    def __init__(self, port):
        self.f = socket.create_connection(("127.0.0.1", port)).makefile("rw")

    def cmd(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        ans = self.f.readline().strip()
        if ans.startswith("error"):
            raise RuntimeError("faultproxy: %s: %s" % (line, ans))
        return ans


proxy = Proxy(int(E["CHAOS_PROXY_CTL"]))


def rgw_pid():
    return int(open(os.path.join(RGW_DIR, "run/client.rgw.a.pid")).read().split()[0])


signalled = []   # the workers this round killed or told to drain


def running(pid):
    """a live process (a zombie the master has not reaped yet is not)"""
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def workers():
    """the master's live workers (sluice-fcgi -w N replaces one that ends)"""
    out = subprocess.run(["pgrep", "-P", E["CHAOS_MASTER"]], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if running(int(p))]


def workers_back():
    """after a kill or a drain: the signalled worker gone (a draining one still counted in
    pgrep is not a replacement) and N workers again, or a violation"""
    want = int(E["CHAOS_WORKERS"])

    def back():
        ws = workers()
        return len(ws) == want and not set(ws) & set(signalled)
    if not wait_until(back, 30):
        violation("the master did not bring back %d workers: %s (signalled %s)" % (want, workers(), signalled))
    signalled.clear()


def rss(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def metric(name):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    c.request("GET", "/metrics", headers={"Authorization": "Bearer " + os.environ["SLUICE_METRICS_TOKEN"]})
    for line in c.getresponse().read().decode().split("\n"):
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


# ---- clients ------------------------------------------------------------------------------

def body_for(kind_rng):
    """(bytes, name): mostly random data of a spread of sizes, sometimes a JPEG"""
    if kind_rng.random() < 0.08:
        return JPEG, "photo.jpg"
    size = kind_rng.choice([0, kind_rng.randint(1, 64 << 10), kind_rng.randint(64 << 10, MiB),
                            kind_rng.randint(MiB, 5 * MiB), kind_rng.randint(5 * MiB, 20 * MiB)])
    off = kind_rng.randint(0, len(POOL) - size)
    return POOL[off:off + size], "f.bin"


def read_reply(s, timeout):
    s.settimeout(timeout)
    r = http.client.HTTPResponse(s)
    r.begin()
    return r.status, r.read()


def upload(n, behaviour, rng):
    """one client; returns (status or None, parsed JSON or None, sha256 sent, name, size)"""
    data, base = body_for(rng)
    if not data and behaviour == "abort":
        behaviour = "normal"    # an empty body cannot be cut short
    name = "u%05d-%s" % (n, base)
    sha = hashlib.sha256(data).hexdigest()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=120)
    head = ["PUT /api/drops/%s HTTP/1.1" % name, "Host: 127.0.0.1", "Connection: close",
            "Authorization: Bearer " + TOKEN, "Accept: application/json"]
    chunked = behaviour == "chunked"
    head.append("Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % len(data))
    try:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        stop = len(data)
        if behaviour in ("abort", "idle"):
            stop = rng.randint(0, len(data) - 1) if data else 0
        pos = 0
        while pos < stop:
            step = min(stop - pos, rng.choice([4096, 65536, 262144, MiB]))
            piece = data[pos:pos + step]
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            pos += step
        if chunked:
            s.sendall(b"0\r\n\r\n")
        if behaviour == "abort":
            if rng.random() < 0.5:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            s.close()
            return None, None, sha, name, len(data), behaviour
        status, body = read_reply(s, 120 if behaviour != "idle" else IDLE * 4 + 30)
        try:
            j = json.loads(body)
        except ValueError:
            j = None
        return status, j, sha, name, len(data), behaviour
    except (OSError, http.client.HTTPException) as e:
        return "no reply (%s)" % type(e).__name__, None, sha, name, len(data), behaviour
    finally:
        s.close()


def run_client(n, rng, out):
    behaviour = rng.choices(["normal", "chunked", "abort", "idle"], [60, 18, 14, 8])[0]
    st, j, sha, name, size, behaviour = upload(n, behaviour, rng)
    out.append((n, behaviour, st, j, sha, name, size))


# ---- faults -------------------------------------------------------------------------------

FAULTS = {  # kind -> weight
    "none": 8, "s3_5xx": 16, "s3_5xx_persistent": 8, "reset": 12, "stall": 6, "latency": 8,
    "bandwidth": 8, "refuse": 6, "rgw_pause": 6, "rgw_kill": 4, "worker_kill": 8,
    "worker_term": 8, "janitor_live": 8, "delete": 10,
}
if not RGW_DIR:
    del FAULTS["rgw_pause"], FAULTS["rgw_kill"]
# faults after which a rollback may not have reached S3 (S3 or the worker was away): what they
# leave is the janitor's, and is counted as such; elsewhere a leftover is a violation (a
# refused connection or a stalled request is retried: the rollback must still complete)
JANITOR_FAULTS = {"rgw_pause", "rgw_kill", "worker_kill"}
# rounds in which every plain upload must succeed
CLEAN_FAULTS = {"none", "latency", "bandwidth", "janitor_live"}
# (regexes on the request line, written without spaces: the control protocol splits on them)
# The first four never match a rollback's own requests (AbortMultipartUpload is DELETE ?uploadId,
# the deletes are DELETE): a persistent fault there must still roll back completely.
S3_OPS = ["partNumber=", "[?]uploads\\s", "^POST\\s.*uploadId=", "^PUT\\s[^?]*/drops/", "^PUT\\s[^?]*/meta/",
          "^PUT\\s[^?]*/reserved/", "^DELETE\\s"]


def arm(kind, rng):
    """set the fault up; returns a function run mid-round (or None) and a cleanup"""
    proxy.cmd("clear")
    if kind == "s3_5xx":
        op = rng.choice(S3_OPS)
        code = rng.choice(["503 SlowDown", "500 InternalError", "503 ServiceUnavailable"])
        # at most 2 failures: with max_retries = 2 every request still gets through
        proxy.cmd("rule %s %d status %s" % (op, rng.randint(1, 2), code))
    elif kind == "s3_5xx_persistent":
        proxy.cmd("rule %s -1 status 503 SlowDown" % rng.choice(S3_OPS[:4]))
    elif kind == "reset":
        proxy.cmd("rule ^PUT %d reset %d" % (rng.randint(1, 3), rng.randint(0, 4 * MiB)))
    elif kind == "stall":
        proxy.cmd("rule %s 1 stall %d" % (rng.choice(["partNumber=", "^PUT\\s[^?]*/drops/"]),
                                           int(E["CHAOS_STALL_S"]) + 3))
    elif kind == "latency":
        proxy.cmd("latency %d" % rng.randint(50, 400))
    elif kind == "bandwidth":
        proxy.cmd("rate %d" % rng.choice([2 * MiB, 8 * MiB]))
    elif kind == "refuse":
        proxy.cmd("rule . %d refuse" % rng.randint(3, 12))
    if kind == "rgw_pause":
        def mid():
            pid = rgw_pid()
            os.kill(pid, signal.SIGSTOP)
            time.sleep(rng.uniform(1, 4))
            os.kill(pid, signal.SIGCONT)
        return mid
    if kind == "rgw_kill":
        return lambda: subprocess.run(["scripts/ceph-rgw.sh", "restart-rgw", RGW_DIR], check=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kind in ("worker_kill", "worker_term"):
        def mid():
            ws = workers()
            if ws:
                signalled.append(rng.choice(ws))
                os.kill(signalled[-1], signal.SIGKILL if kind == "worker_kill" else signal.SIGTERM)
        return mid
    if kind == "janitor_live":
        # the janitor as cron runs it, with its real ages, while uploads are on the wire
        return lambda: janitor(None)
    if kind == "delete":
        # S3 fails the deletes of the drops being deleted (only theirs: the round's rollbacks
        # must still complete), for a moment or for the round
        with lock:
            ids = rng.sample(sorted(tokens), min(2, len(tokens)))
        if ids:
            match = "^DELETE\\s[^?]*(%s)" % "|".join(ids)
            if rng.random() < 0.5:
                proxy.cmd("rule %s -1 status 503 SlowDown" % match)
            else:
                proxy.cmd("rule %s %d reset 0" % (match, rng.randint(1, 2)))
        return lambda: delete_some(ids)
    return None


# ---- invariants ---------------------------------------------------------------------------

def list_all():
    keys, token = [], None
    while True:
        kw = {"Bucket": BUCKET, "Prefix": PREFIX}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        keys += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return keys
        token = r["NextContinuationToken"]


def mpus():
    r = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX)
    return [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]


def leftovers():
    """objects under the prefix that are not part of a committed drop, and open MPUs"""
    bad = []
    for k in list_all():
        rest = k[len(PREFIX):]
        area, _, id_ = rest.partition("/")
        if area in ("drops", "meta", "thumbs") and id_ in committed:
            continue
        bad.append(k)
    return bad, mpus()


def reply_lost(bad, unanswered):
    """ids among the leftovers that are whole drops (a record exists) of uploads whose client
    got no 201: the commit happened and the answer was lost on the way (a worker killed between
    the two, S3 gone after storing the record). Legitimate after such faults only."""
    ids = {k[len(PREFIX):].split("/", 1)[1] for k in bad if k[len(PREFIX):].startswith("meta/")}
    lost = []
    for id_ in ids:
        try:
            name = s3.head_object(Bucket=BUCKET, Key=PREFIX + "meta/" + id_)["Metadata"].get("name")
        except Exception:  # noqa: BLE001
            continue
        if name in unanswered:
            lost.append((id_, unanswered[name]))
    return lost


def janitor(older_than="0s"):
    """older_than "0s": between rounds, nothing on the wire, after a fault that may have left
    a rollback unfinished; None: the configured ages, as cron runs it (also mid-round)"""
    args = [E["CHAOS_BUILD"] + "/sluicectl", "-c", E["CHAOS_JANITOR_CONF"], "janitor"]
    if older_than:
        args += ["--older-than", older_than]
    r = subprocess.run(args, capture_output=True, text=True)
    if "orphans swept" not in r.stdout + r.stderr:   # its summary line: it ran to the end
        violation("the janitor did not run: %s" % (r.stdout + r.stderr).strip()[-300:])
    return r.stdout + r.stderr


def http_req(method, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def delete_some(ids):
    """DELETE committed drops while S3 fails their deletes: 204 and gone, or a 5xx with the
    drop still there and deletable once S3 is back — never a drop half gone"""
    for id_ in ids:
        st, body = http_req("DELETE", "/api/drops/" + id_, {"X-Delete-Token": tokens[id_]})
        bump(deletes, st)
        if st == 204:
            gone(id_)
        elif 500 <= st < 600:
            pending_deletes.append(id_)
        else:
            violation("DELETE %s answered %d %s" % (id_, st, body[:200]))


def gone(id_):
    with lock:
        committed.pop(id_, None)
        tokens.pop(id_, None)
    st, _ = http_req("GET", "/d/" + id_, {"Accept": "application/json"})
    if st != 404:
        violation("deleted drop %s still answers %d" % (id_, st))


def finish_deletes():
    """after the round (S3 back): each refused DELETE left its drop whole, and a retry ends it"""
    while pending_deletes:
        id_ = pending_deletes.pop()
        st, _ = http_req("GET", "/d/" + id_, {"Accept": "application/json"})
        if st != 200:
            violation("a DELETE refused with 5xx left drop %s answering %d" % (id_, st))
        check_committed([id_])
        st, body = http_req("DELETE", "/api/drops/" + id_, {"X-Delete-Token": tokens[id_]})
        if st != 204:
            violation("DELETE %s again answered %d %s" % (id_, st, body[:200]))
        else:
            bump(deletes, "204 on retry")
            gone(id_)


def check_committed(new):
    for id_ in new:
        sha, name, size = committed[id_]
        try:
            got = s3.get_object(Bucket=BUCKET, Key=PREFIX + "drops/" + id_)["Body"].read()
        except Exception as e:  # noqa: BLE001 (any failure is the finding)
            violation("committed %s (%s) unreadable: %s" % (id_, name, e))
            continue
        if hashlib.sha256(got).hexdigest() != sha:
            violation("committed %s (%s, %d B) differs from what was sent" % (id_, name, size))
        try:
            s3.head_object(Bucket=BUCKET, Key=PREFIX + "meta/" + id_)
        except Exception as e:  # noqa: BLE001
            violation("committed %s has no record: %s" % (id_, e))


def temp_files(pids):
    n = []
    for p in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % p):
                link = os.readlink("/proc/%d/fd/%s" % (p, fd))
                # (the stack's own files, W/..., are its logs, slot and spool locks)
                if link.endswith("(deleted)") or link.startswith("/tmp/") and not link.startswith(W):
                    n.append("%d:%s" % (p, link))
        except OSError:
            pass
    for root, _, files in os.walk(W + "/nginx/tmp"):
        n += [os.path.join(root, f) for f in files]
    return n


def spool_ok():
    d = W + "/spool"
    bad = []
    for sub in os.listdir(d) if os.path.isdir(d) else []:
        p = os.path.join(d, sub)
        if not os.path.isdir(p):
            continue
        for f in os.listdir(p):
            if sub == "new" and f in committed:
                continue              # a pending thumbnail of a committed image: legitimate
            if sub in ("new", "tmp") or f in committed:
                bad.append("%s/%s" % (sub, f))
    return bad


def probe():
    data = POOL[:3 * MiB + 17]
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    c.request("PUT", "/api/drops/probe.bin", data, {"Authorization": "Bearer " + TOKEN,
                                                   "Accept": "application/json"})
    r = c.getresponse()
    j = json.loads(r.read() or b"{}")
    if r.status != 201:
        return "probe upload answered %d %s" % (r.status, j)
    committed[j["id"]] = (hashlib.sha256(data).hexdigest(), "probe.bin", len(data))
    check_committed([j["id"]])
    return None


def wait_until(fn, seconds):
    end = time.monotonic() + seconds
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.1)


# ---- the run ------------------------------------------------------------------------------

def main():
    t_end = time.monotonic() + a.minutes * 60
    idle_rss = {p: rss(p) for p in workers()}
    first_seen, rss_base = {}, {}
    n, rnd, janitor_runs, left_for_janitor = 0, 0, 0, {"objects": 0, "multipart uploads": 0}
    kinds, weights = list(FAULTS), list(FAULTS.values())
    first = R.sample(kinds, len(kinds))   # every kind once (in random order), then by weight
    while n < a.uploads and time.monotonic() < t_end:
        rnd += 1
        kind = first[rnd - 1] if rnd <= len(first) else R.choices(kinds, weights)[0]
        if kind == "delete" and not tokens:
            # nothing committed yet to delete: a plain round now, the delete one later
            if rnd <= len(first):
                first.append("delete")
            kind = "none"
        bump(faults, kind)
        mid = arm(kind, R)
        out, ts = [], []
        for i in range(a.per_round):
            n += 1
            rng = random.Random(R.getrandbits(64))
            ts.append(threading.Thread(target=run_client, args=(n, rng, out)))
        for t in ts:
            t.start()
        if mid:
            time.sleep(R.uniform(0.1, 0.8))
            mid()
        for t in ts:
            t.join()
        proxy.cmd("clear")
        if kind in ("worker_kill", "worker_term"):
            workers_back()
        finish_deletes()
        # the outcomes
        new, unanswered = [], {}
        for (i, behaviour, st, j, sha, name, size) in out:
            counts["tried"] += 1
            if st == 201 and j and j.get("id"):
                counts["committed"] += 1
                committed[j["id"]] = (sha, name, size)
                tokens[j["id"]] = j["delete_token"]
                new.append(j["id"])
                if behaviour == "abort":
                    violation("an aborted upload (%s) was answered 201" % name)
            else:
                unanswered[name] = (sha, name, size)
                reason = behaviour if behaviour in ("abort",) else \
                    "%s %s" % (st, (j or {}).get("error", "")) if isinstance(st, int) else str(st)
                bump(rolled, reason.strip())
                if behaviour == "normal" and kind in CLEAN_FAULTS:
                    violation("round %d (%s): a plain upload %s failed: %s" % (rnd, kind, name, reason))
        check_committed(new)
        # invariant 4: slots free (the rollback of a dead client may still be under way)
        inuse = wait_until(lambda: metric("sluice_slots_in_use") == 0, 30)
        if not inuse:
            violation("round %d (%s): slots still held: %s" % (rnd, kind, metric("sluice_slots_in_use")))
        bad, ups = leftovers()
        if bad and kind in JANITOR_FAULTS:
            for id_, (sha, name, size) in reply_lost(bad, unanswered):
                counts["committed, reply lost"] = counts.get("committed, reply lost", 0) + 1
                committed[id_] = (sha, name, size)
                check_committed([id_])
            bad, ups = leftovers()
        if bad or ups:
            if kind in JANITOR_FAULTS:
                left_for_janitor["objects"] += len(bad)
                left_for_janitor["multipart uploads"] += len(ups)
                janitor_runs += 1
                janitor()
                bad, ups = leftovers()
            if bad or ups:
                violation("round %d (%s): left behind: %s %s" % (rnd, kind, bad[:5], ups[:3]))
                janitor()   # so that the next rounds start clean
        tf = temp_files(workers())
        if tf:
            violation("round %d (%s): temp files: %s" % (rnd, kind, tf[:5]))
        sp = spool_ok()
        if sp:
            violation("round %d (%s): spool files of no committed drop: %s" % (rnd, kind, sp[:5]))
        for p in workers():   # replacements get their own readings
            first_seen.setdefault(p, rnd)
            idle_rss.setdefault(p, rss(p))
            if rnd - first_seen[p] == 3:
                rss_base[p] = (rnd, rss(p))   # warm: its arenas and caches are made
        for p, idle in ({} if E.get("CHAOS_NO_RSS") else idle_rss).items():
            now = rss(p)
            if now and now > idle + 48 * MiB:
                violation("round %d (%s): worker %d RSS %d MiB, idle was %d MiB"
                          % (rnd, kind, p, now >> 20, idle >> 20))
        pr = probe()
        if pr:
            violation("round %d (%s): %s" % (rnd, kind, pr))
        print("chaos: round %3d %-18s %d uploads, %d committed so far, %d violations"
              % (rnd, kind, len(out), counts["committed"], len(violations)), flush=True)
    # the end: the janitor, then nothing but committed drops. Its sweep (no grace here) looks at
    # every object: one that neither a record nor a reservation explains is an orphan that the
    # rollbacks, DELETEs and earlier janitor runs should never have left
    out = janitor()
    janitor_runs += 1
    m = re.search(r"(\d+) orphans swept", out)
    swept_at_end = int(m.group(1)) if m else -1
    if swept_at_end != 0:
        violation("the last sweep found %s orphans: %s" % (swept_at_end, out.strip()[-300:]))
    bad, ups = leftovers()
    if bad or ups:
        violation("after the janitor: left behind %s %s" % (bad[:5], ups[:3]))
    # a slow leak: what a worker that lived 10 rounds or more grew by since it was warm
    for p, (r0, base) in ({} if E.get("CHAOS_NO_RSS") else rss_base).items():
        now = rss(p)
        if now and rnd - r0 >= 10:
            grew = now - base
            print("chaos: worker %d RSS %d MiB after round %d, %+.1f MiB over %d rounds"
                  % (p, now >> 20, r0, grew / MiB, rnd - r0), flush=True)
            if grew > 24 * MiB:
                violation("worker %d grew %d MiB in %d rounds (a leak?)" % (p, grew >> 20, rnd - r0))
    inj = json.loads(proxy.cmd("stats"))
    report(rnd, inj, janitor_runs, left_for_janitor)
    print("| orphans the last sweep found | %d |" % swept_at_end)
    return 1 if violations else 0


def report(rounds, inj, janitor_runs, left):
    print()
    print("| uploads | count |")
    print("|---|---|")
    print("| tried | %d |" % counts["tried"])
    print("| committed (201, byte-identical) | %d |" % counts["committed"])
    print("| committed, but the 201 was lost (worker or S3 gone after the commit) | %d |"
          % counts.get("committed, reply lost", 0))
    for k, v in sorted(rolled.items(), key=lambda kv: -kv[1]):
        print("| rolled back: %s | %d |" % (k, v))
    print()
    print("| faults (rounds of %d uploads) | rounds |" % a.per_round)
    print("|---|---|")
    for k in FAULTS:
        print("| %s | %d |" % (k, faults.get(k, 0)))
    print("| S3 requests through the proxy | %d |" % inj["requests"])
    for k, v in sorted(inj["injected"].items()):
        print("| S3 requests failed by the proxy: %s | %d |" % (k, v))
    print()
    print("| invariants | |")
    print("|---|---|")
    print("| left for the janitor (S3 or worker away during rollback): objects | %d |" % left["objects"])
    print("| left for the janitor: multipart uploads | %d |" % left["multipart uploads"])
    print("| janitor runs | %d |" % janitor_runs)
    for k, v in sorted(deletes.items(), key=str):
        print("| DELETE of a drop: %s | %d |" % (k, v))
    print("| invariant violations | %d |" % len(violations))
    print()
    print("chaos: seed %d, %d rounds, %d uploads, %d violations" % (seed, rounds, counts["tried"], len(violations)))


sys.exit(main())
