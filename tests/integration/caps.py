#!/usr/bin/env python3
"""A seeded random run of the capability rules (docs/design.md, "Capabilities").

An owner and an attacker share the bearer token. The owner makes uploads of every kind
(a reservation streamed into, a direct PUT, an Uppy multipart upload) and moves each through
its life: reserve, bytes, complete, cancel or delete, in a random order interleaved with the
attacker's moves. The attacker knows what a share link shows (the id, and so the key) and
tries everything on the owner's uploads: stream into them, complete them (with a wrong
checksum), cancel them, sign, list, complete and abort their multipart uploads with a forged
uploadId, delete the drop with a wrong token. After every move: the attacker's was refused
(4xx), and every upload of the owner is exactly as the owner left it — still "uploading" with
nothing committed if it is in flight, byte-identical if committed, gone if cancelled/deleted.

  caps.py BASE TOKEN PREFIX [--seed N] [--moves N]   (loopback only; prints the seed)
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import sys
import urllib.parse
import urllib.request

p = argparse.ArgumentParser()
p.add_argument("base")
p.add_argument("token")
p.add_argument("prefix")
p.add_argument("--seed", type=int, default=None)
p.add_argument("--moves", type=int, default=120)
a = p.parse_args()
seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
rnd = random.Random(seed)
print("caps: seed %d (reproduce with --seed %d)" % (seed, seed), flush=True)
u = urllib.parse.urlsplit(a.base)
AUTH = {"Authorization": "Bearer " + a.token}
violations = []


def req(method, path, body=None, headers=None, host=None):
    h = dict(headers or {})
    c = (http.client.HTTPConnection(host[0], host[1], timeout=60) if host
         else http.client.HTTPConnection(u.hostname, u.port, timeout=60))
    if isinstance(body, str):
        body = body.encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, data, hdrs


def api(method, path, obj=None, headers=None):
    h = {"Accept": "application/json", **AUTH, **(headers or {})}
    body = None
    if obj is not None:
        body = json.dumps(obj)
        h["Content-Type"] = "application/json"
    st, data, _ = req(method, path, body, h)
    try:
        j = json.loads(data) if data else None
    except ValueError:
        j = None
    return st, j


def put_url(url, data, headers=None):
    s = urllib.parse.urlsplit(url)
    path = s.path + ("?" + s.query if s.query else "")
    st, body, hdrs = req("PUT", path, data, {"Content-Length": str(len(data)), **(headers or {})},
                         host=(s.hostname, s.port))
    return st, hdrs


def sha(b):
    return hashlib.sha256(b).hexdigest()


def share(i):
    st, j = api("GET", "/d/" + i)
    return st, j


def download(i):
    st, _, h = req("GET", "/d/%s/download" % i, headers={"Accept": "application/json"})
    if st != 302:
        return st, None
    s = urllib.parse.urlsplit(h["location"])
    st, data, _ = req("GET", s.path + "?" + s.query, host=(s.hostname, s.port))
    return st, data


def violation(what):
    violations.append(what)
    print("caps: VIOLATION: " + what, flush=True)


class Upload:
    def __init__(self, kind):
        self.kind, self.state, self.data = kind, "new", rnd.randbytes(rnd.choice([1, 999, 70000, 5 << 20 | 7]))
        if kind == "uppy" and len(self.data) < (5 << 20):
            self.data += rnd.randbytes((5 << 20) - len(self.data) + 3)   # two parts
        self.id = self.ut = self.dt = self.key = self.uid = self.put = None

    # ---- the owner ----
    def reserve(self):
        name = "%s-%d.bin" % (self.kind, rnd.randrange(1 << 30))
        if self.kind == "stream":
            st, j = api("POST", "/api/reservations", {"name": name, "size": len(self.data)})
        elif self.kind == "direct":
            st, j = api("POST", "/api/uploads", {"name": name, "size": len(self.data)})
        else:
            st, j = api("POST", "/s3/multipart", {"filename": name, "type": "application/octet-stream"})
        if st not in (200, 201) or not j:
            return violation("owner: reserve %s: %s %s" % (self.kind, st, j))
        self.id, self.dt = j["id"], j["delete_token"]
        self.ut = j.get("upload_token")
        self.put, self.key, self.uid = j.get("upload"), j.get("key"), j.get("uploadId")
        self.state = "reserved"

    def send(self):
        if self.kind == "stream":
            st, _, _ = req("PUT", "/api/drops/x.bin?id=" + self.id, self.data,
                           {**AUTH, "X-Upload-Token": self.ut, "Accept": "application/json",
                            "Content-Length": str(len(self.data))})
            if st != 201:
                return violation("owner: stream into %s: %s" % (self.id, st))
            self.state = "committed"
            return
        if self.kind == "direct":
            st, _ = put_url(self.put["url"], self.data, self.put.get("headers"))
            if st != 200:
                return violation("owner: direct PUT %s: %s" % (self.id, st))
        else:
            q = "?key=" + urllib.parse.quote(self.key, safe="")
            base = "/s3/multipart/" + urllib.parse.quote(self.uid, safe="")
            cut = 5 << 20
            self.parts = []
            for n, part in ((1, self.data[:cut]), (2, self.data[cut:])):
                st, j = api("GET", "%s/%d%s" % (base, n, q))
                if st != 200:
                    return violation("owner: sign part %d of %s: %s" % (n, self.id, st))
                st, hdrs = put_url(j["url"], part)
                if st != 200:
                    return violation("owner: part %d of %s: %s" % (n, self.id, st))
                self.parts.append({"PartNumber": n, "ETag": hdrs.get("etag", "")})
        self.state = "sent"

    def complete(self):
        if self.kind == "direct":
            st, j = api("POST", "/api/uploads/%s/complete" % self.id, {"sha256": sha(self.data)},
                        {"X-Upload-Token": self.ut})
            want = 201
        else:
            q = "?key=" + urllib.parse.quote(self.key, safe="")
            st, j = api("POST", "/s3/multipart/%s/complete%s" % (urllib.parse.quote(self.uid, safe=""), q),
                        {"parts": self.parts})
            want = 200
        if st != want:
            return violation("owner: complete %s: %s %s" % (self.id, st, j))
        self.state = "committed"

    def cancel(self):
        if self.kind == "uppy":
            q = "?key=" + urllib.parse.quote(self.key, safe="")
            st, _ = api("DELETE", "/s3/multipart/%s%s" % (urllib.parse.quote(self.uid, safe=""), q))
            ok = st == 200
        else:
            st, _ = api("DELETE", "/api/uploads/" + self.id, None, {"X-Upload-Token": self.ut})
            ok = st == 204
        if not ok:
            return violation("owner: cancel %s: %s" % (self.id, st))
        self.state = "gone"

    def delete(self):
        st, _ = api("DELETE", "/api/drops/" + self.id, None, {"X-Delete-Token": self.dt})
        if st != 204:
            return violation("owner: delete %s: %s" % (self.id, st))
        self.state = "gone"

    def owner_move(self):
        if self.state == "new":
            return self.reserve()
        if self.state == "reserved":
            return self.cancel() if rnd.random() < 0.15 else self.send()
        if self.state == "sent":
            return self.cancel() if rnd.random() < 0.15 else self.complete()
        if self.state == "committed" and rnd.random() < 0.3:
            return self.delete()

    # ---- what must hold ----
    def check(self, after):
        if self.state in ("new",):
            return
        st, j = share(self.id)
        if self.state in ("reserved", "sent"):
            if st != 200 or not j or j.get("status") != "uploading":
                violation("after %s: %s (%s) should still be uploading: %s %s" % (after, self.id, self.kind, st, j))
        elif self.state == "committed":
            if st != 200 or not j or j.get("size") != len(self.data):
                return violation("after %s: %s (%s) should be the owner's drop: %s %s" % (after, self.id, self.kind, st, j))
            dst, data = download(self.id)
            if dst != 200 or data != self.data:
                violation("after %s: %s (%s) is not byte-identical (%s)" % (after, self.id, self.kind, dst))
        elif self.state == "gone" and st != 404:
            violation("after %s: %s (%s) should be gone: %s" % (after, self.id, self.kind, st))


def attack(v):
    """one move of the attacker against the owner's upload v; returns (name, status)"""
    if v.state == "new":
        return None
    fake_ut = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(43))
    key = v.key or (a.prefix + "drops/" + v.id)
    q = "?key=" + urllib.parse.quote(key, safe="")
    s3id = (v.uid.split(".", 1)[1] if v.uid else "2~" + fake_ut[:20])
    forged = urllib.parse.quote(rnd.choice([fake_ut + "." + s3id, s3id, "bogus"]), safe="")
    evil = rnd.randbytes(len(v.data)) if len(v.data) < (1 << 20) else b"E" * 1000
    moves = [
        ("stream into its reservation", lambda: req("PUT", "/api/drops/evil.bin?id=" + v.id, evil,
                                                     {**AUTH, "X-Upload-Token": rnd.choice(["", fake_ut]),
                                                      "Content-Length": str(len(evil))})[0]),
        ("complete it with a wrong sha256", lambda: api("POST", "/api/uploads/%s/complete" % v.id,
                                                        {"sha256": "0" * 64}, {"X-Upload-Token": fake_ut})[0]),
        ("complete it", lambda: api("POST", "/api/uploads/%s/complete" % v.id)[0]),
        ("cancel it", lambda: api("DELETE", "/api/uploads/" + v.id, None, {"X-Upload-Token": fake_ut})[0]),
        ("sign a part", lambda: api("GET", "/s3/multipart/%s/1%s" % (forged, q))[0]),
        ("list parts", lambda: api("GET", "/s3/multipart/%s%s" % (forged, q))[0]),
        ("complete the multipart upload", lambda: api("POST", "/s3/multipart/%s/complete%s" % (forged, q),
                                                      {"parts": getattr(v, "parts", None) or [{"PartNumber": 1, "ETag": "x"}]})[0]),
        ("abort the multipart upload", lambda: api("DELETE", "/s3/multipart/%s%s" % (forged, q))[0]),
        ("delete the drop", lambda: api("DELETE", "/api/drops/" + v.id, None, {"X-Delete-Token": fake_ut})[0]),
    ]
    name, fn = rnd.choice(moves)
    return name, fn()


uploads = []
for move in range(a.moves):
    if len([x for x in uploads if x.state not in ("committed", "gone")]) < 3:
        uploads.append(Upload(rnd.choice(["stream", "direct", "uppy"])))
    v = rnd.choice(uploads)
    if rnd.random() < 0.5:
        v.owner_move()
        after = "owner's move on %s" % (v.id or "a new upload")
    else:
        r = attack(v)
        if r is None:
            continue
        name, st = r
        after = "attacker: %s (%s): %s" % (name, v.id, st)
        if not (400 <= st < 500):
            violation("the attacker's '%s' on %s (%s, %s) was not refused: %s" % (name, v.id, v.kind, v.state, st))
    for x in {v, *rnd.sample(uploads, min(2, len(uploads)))}:   # the one touched, two others
        x.check(after)
# the owner finishes everything it started: each ends committed and byte-identical, or gone
for v in uploads:
    for _ in range(4):
        if v.state in ("committed", "gone"):
            break
        v.owner_move() if v.state != "new" else v.reserve()
    v.check("the end")
kinds = {}
for v in uploads:
    kinds[(v.kind, v.state)] = kinds.get((v.kind, v.state), 0) + 1
print("caps: %d moves, %d uploads %s, %d violations" % (a.moves, len(uploads),
      " ".join("%s/%s=%d" % (k[0], k[1], n) for k, n in sorted(kinds.items())), len(violations)))
print("%d passed, %d failed" % (1 if not violations else 0, len(violations)))
sys.exit(1 if violations else 0)
