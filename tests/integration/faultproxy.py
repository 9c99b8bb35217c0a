#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between sluice and the real S3 server (loopback only).

  faultproxy.py LISTEN_PORT UPSTREAM_PORT [--match TEXT] [--times N] [--status CODE]
                [--code S3CODE]

Each request is forwarded on a fresh upstream connection ("Connection: close", so one request
per connection and no response parsing is needed); the Host header is passed through
untouched, so SigV4 signatures stay valid. The first N requests whose request line contains
the regular expression TEXT are answered by the proxy itself with CODE and an S3 error document (after reading their
body), as S3 does when it is overloaded. N = -1: every matching request. Prints "ready".
"""
import argparse
import re
import socket
import sys
import threading

p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("upstream", type=int)
p.add_argument("--match", default=None)
p.add_argument("--times", type=int, default=1)
p.add_argument("--status", type=int, default=503)
p.add_argument("--code", default="SlowDown")
a = p.parse_args()
lock = threading.Lock()
left = [a.times]


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        b = c.recv(65536)
        if not b:
            return None, b""
        data += b
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def pipe(src, dst, n=None):
    """copy n bytes (or until EOF) from src to dst"""
    while n is None or n > 0:
        b = src.recv(65536 if n is None else min(65536, n))
        if not b:
            return
        dst.sendall(b)
        if n is not None:
            n -= len(b)


def serve(c):
    try:
        while True:
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
            fail = False
            if a.match and re.search(a.match, lines[0]):
                with lock:
                    if left[0] != 0:
                        left[0] -= 1
                        fail = True
            if fail:
                n = length - len(rest)
                while n > 0:
                    b = c.recv(min(65536, n))
                    if not b:
                        return
                    n -= len(b)
                body = ("<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>injected by "
                        "faultproxy</Message></Error>" % a.code).encode()
                c.sendall(b"HTTP/1.1 %d Injected\r\nContent-Type: application/xml\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                          % (a.status, len(body), body))
                sys.stderr.write("faultproxy: failed %s\n" % lines[0])
                return
            u = socket.create_connection(("127.0.0.1", a.upstream))
            u.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rest)
            pipe(c, u, length - len(rest))
            pipe(u, c)
            u.close()
            return
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", a.port))
s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
