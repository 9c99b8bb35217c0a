#!/usr/bin/env python3
"""A raw HTTP/1.1 upload client for the rollback tests: it can stop, stall, reset or crawl at
any byte, which curl cannot. Loopback only. Prints one line: STATUS SECONDS [BODY...].

  rawclient.py PORT PATH TOKEN TOTAL [--chunked] [--stop-at N [--rst]] [--idle-at N]
               [--rate BYTES_PER_S [--rate-from N] [--rate-to N]] [--pause-at N --pause S]
               [--sha-file PATH] [--timeout S] [--header 'Name: value' ...]
--stop-at N: send N body bytes, then close (FIN, or RST with --rst) without reading.
--idle-at N: send N body bytes, then wait for the answer without sending more.
--rate R:    send at about R bytes/s; only the body bytes [rate-from, rate-to) if given, the
             others as fast as the server takes them.
--pause-at N, --pause S: after N body bytes, send nothing for S seconds, then go on.
--sha-file:  write the SHA-256 of the body bytes sent there (hex).
Otherwise it sends everything, and SECONDS is the time from the last body byte to the answer.
"""
import argparse
import hashlib
import socket
import struct
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("path")
p.add_argument("token")
p.add_argument("total", type=int)
p.add_argument("--chunked", action="store_true")
p.add_argument("--stop-at", type=int)
p.add_argument("--rst", action="store_true")
p.add_argument("--idle-at", type=int)
p.add_argument("--rate", type=float)
p.add_argument("--rate-from", type=int, default=0)
p.add_argument("--rate-to", type=int)
p.add_argument("--pause-at", type=int)
p.add_argument("--pause", type=float, default=0)
p.add_argument("--sha-file")
p.add_argument("--timeout", type=float, default=120)
p.add_argument("--header", action="append", default=[])
a = p.parse_args()

s = socket.create_connection(("127.0.0.1", a.port))
hdr = "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nAccept: application/json\r\nConnection: close\r\n" % (
    a.path, a.token)
hdr += "Transfer-Encoding: chunked\r\n" if a.chunked else "Content-Length: %d\r\n" % a.total
hdr += "".join(h + "\r\n" for h in a.header)
s.sendall((hdr + "\r\n").encode())

limit = a.total
for cut in (a.stop_at, a.idle_at):
    if cut is not None:
        limit = min(limit, cut)
block = bytes(range(256)) * 256  # 64 KiB
sent = 0
start = time.time()
rate_to = limit if a.rate_to is None else a.rate_to
digest = hashlib.sha256()
try:
    while sent < limit:
        n = min(len(block), limit - sent)
        # (chunks end at the points where the pace changes, so each byte gets its own pace)
        for mark in (a.rate_from, rate_to, a.pause_at):
            if mark is not None and sent < mark:
                n = min(n, mark - sent)
        slow = a.rate and a.rate_from <= sent < rate_to
        if slow:
            n = min(n, max(1, int(a.rate / 20)))
        data = block[:n]
        s.sendall(b"%x\r\n%s\r\n" % (n, data) if a.chunked else data)
        digest.update(data)
        sent += n
        if slow:
            time.sleep(n / a.rate)
        if a.pause_at is not None and sent == a.pause_at:
            time.sleep(a.pause)
    if a.stop_at is not None:
        if a.rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        print("stopped %d" % sent)
        sys.exit(0)
    if a.chunked and a.idle_at is None:
        s.sendall(b"0\r\n\r\n")
except OSError as e:  # the server answered early and closed: read what it said
    pass
if a.sha_file:
    with open(a.sha_file, "w") as f:
        f.write(digest.hexdigest() + "\n")
last = time.time()
s.settimeout(a.timeout)
resp = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        resp += b
except OSError:
    pass
status = resp.split(b" ", 2)[1].decode() if resp.startswith(b"HTTP/") else "none"
body = resp.split(b"\r\n\r\n", 1)[1].decode(errors="replace") if b"\r\n\r\n" in resp else ""
head = resp.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
retry = [l for l in head.split("\r\n") if l.lower().startswith("retry-after:")]
print(status, "%.3f" % (time.time() - last), (retry[0].replace(" ", "") if retry else "-"),
      body.strip().replace("\n", " ")[:300])
