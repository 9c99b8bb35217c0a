#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between sluice and the real S3 server (loopback only).

  faultproxy.py LISTEN_PORT UPSTREAM_PORT [--match RE] [--times N] [--status CODE]
                [--code S3CODE] [--rate BYTES_PER_S] [--latency MS] [--control PORT]

Each request is forwarded on a fresh upstream connection ("Connection: close", so one request
per connection and no response parsing is needed); the Host header is passed through
untouched, so SigV4 signatures stay valid. Prints "ready" once listening.

Faults are rules: the first N requests (N = -1: all) whose request line matches the regular
expression RE get the rule's action instead of (or on top of) being forwarded:
  status CODE S3CODE   answered by the proxy with CODE and an S3 error document, as S3 does
                       when it is overloaded (the body is read first)
  reset BYTES          after BYTES of the request body the connection is reset (RST)
  stall SECONDS        the proxy stops reading the request for SECONDS, then closes it
  refuse               the connection is reset at once, as if S3 were down
The command line gives one status rule (--match/--times/--status/--code). With --control, a
loopback port takes one command per line and answers one line:
  rule RE TIMES ACTION [ARGS...]   add a rule           clear     drop all rules
  rate BYTES_PER_S                 cap each request body's upload rate (0: no cap)
  latency MS                       delay every request by MS before forwarding
  stats                            {"requests": N, "injected": {"status": N, ...}} as JSON
"""
import argparse
import json
import re
import socket
import struct
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("upstream", type=int)
p.add_argument("--match", default=None)
p.add_argument("--times", type=int, default=1)
p.add_argument("--status", type=int, default=503)
p.add_argument("--code", default="SlowDown")
p.add_argument("--rate", type=int, default=0)
p.add_argument("--latency", type=int, default=0)
p.add_argument("--control", type=int, default=0)
a = p.parse_args()

lock = threading.Lock()
rules = []          # [regex, times_left, action, args]
settings = {"rate": a.rate, "latency": a.latency}
stats = {"requests": 0, "injected": {}}
if a.match:
    rules.append([re.compile(a.match), a.times, "status", [str(a.status), a.code]])


def log(msg):
    sys.stderr.write("faultproxy: %s\n" % msg)
    sys.stderr.flush()


def take_rule(line):
    """the action for this request line, consuming one use of its rule (None: forward)"""
    with lock:
        stats["requests"] += 1
        for r in rules:
            if r[1] != 0 and r[0].search(line):
                if r[1] > 0:
                    r[1] -= 1
                stats["injected"][r[2]] = stats["injected"].get(r[2], 0) + 1
                return r[2], r[3]
    return None, None


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        b = c.recv(65536)
        if not b:
            return None, b""
        data += b
        if len(data) > 1 << 20:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def reset(sock):
    """close with RST instead of FIN"""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def pipe(src, dst, n=None, rate=0, cut=None):
    """copy n bytes (or until EOF) from src to dst, at most `rate` bytes/s; reset both after
    `cut` bytes. Returns False if cut."""
    t0, done = time.monotonic(), 0
    while n is None or n > 0:
        want = 65536 if n is None else min(65536, n)
        if rate:
            want = min(want, max(1024, rate // 20))
        if cut is not None:
            want = min(want, max(1, cut - done))
        b = src.recv(want)
        if not b:
            return True
        dst.sendall(b)
        done += len(b)
        if n is not None:
            n -= len(b)
        if cut is not None and done >= cut:
            return False
        if rate:
            ahead = done / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    return True


def serve(c):
    u = None
    try:
        head, rest = read_head(c)
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        out = [lines[0]]
        for l in lines[1:]:
            k = l.split(":", 1)[0].strip().lower()
            if k == "content-length":
                length = int(l.split(":", 1)[1])
            if k != "connection":
                out.append(l)
        out.append("Connection: close")
        action, args = take_rule(lines[0])
        if action:
            log("%s %s on %s" % (action, " ".join(args), lines[0]))
        if action == "refuse":
            reset(c)
            c = None
            return
        if action == "stall":
            time.sleep(float(args[0]))
            reset(c)
            c = None
            return
        if action == "status":
            n = length - len(rest)
            while n > 0:
                b = c.recv(min(65536, n))
                if not b:
                    return
                n -= len(b)
            body = ("<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>injected by "
                    "faultproxy</Message></Error>" % args[1]).encode()
            c.sendall(b"HTTP/1.1 %d Injected\r\nContent-Type: application/xml\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                      % (int(args[0]), len(body), body))
            return
        if settings["latency"]:
            time.sleep(settings["latency"] / 1000.0)
        u = socket.create_connection(("127.0.0.1", a.upstream))
        u.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        cut = int(args[0]) if action == "reset" else None
        if cut is not None and len(rest) >= cut:
            rest = rest[:cut]
        u.sendall(rest)
        sent = len(rest)
        if cut is not None and sent >= cut:
            reset(c), reset(u)
            c = u = None
            return
        if not pipe(c, u, length - sent, settings["rate"], None if cut is None else cut - sent):
            reset(c), reset(u)
            c = u = None
            return
        pipe(u, c)
    except (OSError, ValueError):
        pass
    finally:
        for s in (c, u):
            if s is not None:
                s.close()


def control(c):
    f = c.makefile("rw", encoding="utf-8", newline="\n")
    for line in f:
        w = line.split()
        try:
            with lock:
                if not w:
                    continue
                if w[0] == "rule":
                    rules.append([re.compile(w[1]), int(w[2]), w[3], w[4:]])
                    ans = "ok"
                elif w[0] == "clear":
                    rules.clear()
                    settings["rate"] = settings["latency"] = 0
                    ans = "ok"
                elif w[0] in ("rate", "latency"):
                    settings[w[0]] = int(w[1])
                    ans = "ok"
                elif w[0] == "stats":
                    ans = json.dumps(stats)
                else:
                    ans = "error unknown command"
        except (IndexError, ValueError, re.error) as e:
            ans = "error %s" % e
        f.write(ans + "\n")
        f.flush()
    c.close()


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(256)
    return s


def accept_loop(s, fn):
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()


main = listen(a.port)
if a.control:
    threading.Thread(target=accept_loop, args=(listen(a.control), control), daemon=True).start()
print("ready", flush=True)
accept_loop(main, serve)
