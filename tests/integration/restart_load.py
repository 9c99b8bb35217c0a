#!/usr/bin/env python3
"""Traffic for the rolling-restart test: N threads of uploads (PUT, random sizes) and page
views (share page, download, health) against BASE until the file STOP exists (or --seconds
pass). Writes one JSON line per upload that answered 201 (id, sha256, size, t: when its answer came,
Unix time) to OUT, and prints a
summary: counts by status, and every failure — anything but 2xx/3xx, except 503 with
Retry-After, which a client is told to retry. Then downloads every upload that answered 201
and compares it with what was sent.

  restart_load.py BASE TOKEN OUT STOP [--threads 4] [--seconds 120] [--seed N]
"""
import argparse, hashlib, http.client, json, os, random, sys, threading, time, urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("base"); ap.add_argument("token"); ap.add_argument("out"); ap.add_argument("stop")
ap.add_argument("--threads", type=int, default=4)
ap.add_argument("--seconds", type=float, default=120)
ap.add_argument("--seed", type=int, default=int(time.time()))
a = ap.parse_args()
u = urllib.parse.urlsplit(a.base)
lock = threading.Lock()
counts, failures, uploads = {}, [], []


def note(what, status, reason=""):
    with lock:
        counts[(what, status)] = counts.get((what, status), 0) + 1
        if reason:
            failures.append(f"{what}: {status} {reason}")


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("Retry-After"), r.read()
    finally:
        c.close()


def judge(what, status, retry_after, body):
    if 200 <= status < 400:
        note(what, status)
        return True
    if status == 503 and retry_after:
        try:
            code = json.loads(body).get("error", "?")
        except ValueError:
            code = "not JSON"
        note(what, "503+Retry-After " + code)
        return False
    note(what, status, body[:200].decode("utf-8", "replace"))
    return False


def run(k):
    rnd = random.Random(a.seed * 100 + k)
    deadline = time.monotonic() + a.seconds
    while not os.path.exists(a.stop) and time.monotonic() < deadline:
        try:
            if rnd.random() < 0.5:
                size = rnd.choice([0, 1, 1000, 100_000, rnd.randrange(1, 3_000_000)])
                data = rnd.randbytes(size)
                st, ra, body = request("PUT", f"/api/drops/f{k}.bin", data, {
                    "Authorization": "Bearer " + a.token, "Accept": "application/json",
                    "Content-Length": str(size)})
                if judge("upload", st, ra, body) and st == 201:
                    d = json.loads(body)
                    with lock:
                        uploads.append({"id": d["id"], "sha256": hashlib.sha256(data).hexdigest(),
                                        "size": size, "t": time.time()})
            else:
                with lock:
                    pick = rnd.choice(uploads)["id"] if uploads else None
                path = rnd.choice(["/healthz", "/"] + ([f"/d/{pick}", f"/d/{pick}/download"] if pick else []))
                st, ra, body = request("GET", path)
                judge("GET " + path.split("/")[1] if path != "/" else "GET /", st, ra, body)
        except Exception as e:   # a reset or refused connection is a failure too
            note("connection", "error", repr(e))


ts = [threading.Thread(target=run, args=(k,)) for k in range(a.threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
# the test's window is only meaningful if the traffic lasted until it was told to stop
print("load: stopped by " + ("the stop file" if os.path.exists(a.stop) else "its deadline"))
# afterwards: every upload answered 201 downloads byte-identical (through the redirect to S3)
def fetch(url):
    p = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(p.hostname, p.port, timeout=60)
    try:
        c.request("GET", p.path + ("?" + p.query if p.query else ""))
        r = c.getresponse()
        return r.status, r.getheader("Location"), r.read()
    finally:
        c.close()


differ = 0
for x in uploads:
    try:
        st, loc, data = fetch(a.base + f"/d/{x['id']}/download")
        if st in (301, 302, 303, 307) and loc:
            st, loc, data = fetch(urllib.parse.urljoin(a.base, loc))
        same = st == 200 and hashlib.sha256(data).hexdigest() == x["sha256"]
    except Exception as e:   # noqa: BLE001 (any failure is the finding)
        print(f"load: download of {x['id']} failed: {e!r}")
        same = False
    differ += not same
print(f"load: {len(uploads) - differ} of {len(uploads)} uploads download byte-identical")
with open(a.out, "w") as f:
    for x in uploads:
        f.write(json.dumps(x) + "\n")
for (what, st), n in sorted(counts.items(), key=str):
    print(f"load: {what} {st}: {n}")
for x in failures[:20]:
    print("load: FAILED " + x)
print(f"load: {len(uploads)} uploads answered 201, {len(failures)} failed requests, seed {a.seed}")
sys.exit(1 if failures or differ else 0)
