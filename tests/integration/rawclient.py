#!/usr/bin/env python3
"""A raw HTTP/1.1 upload client for the rollback tests: it can stop, stall, reset or crawl at
any byte, which curl cannot. Loopback only. Prints one line: STATUS SECONDS [BODY...].

  rawclient.py PORT PATH TOKEN TOTAL [--chunked] [--stop-at N [--rst]] [--idle-at N]
               [--rate BYTES_PER_S] [--timeout S] [--header 'Name: value' ...]
--stop-at N: send N body bytes, then close (FIN, or RST with --rst) without reading.
--idle-at N: send N body bytes, then wait for the answer without sending more.
--rate R:    send at about R bytes/s.
Otherwise it sends everything, and SECONDS is the time from the last body byte to the answer.
"""
import argparse
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
try:
    while sent < limit:
        n = min(len(block), limit - sent)
        if a.rate:
            n = min(n, max(1, int(a.rate / 20)))
        data = block[:n]
        s.sendall(b"%x\r\n%s\r\n" % (n, data) if a.chunked else data)
        sent += n
        if a.rate:
            time.sleep(n / a.rate)
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
