#!/usr/bin/env python3
"""The include graph and the call graph of fcgi/, made from the tree and the built objects,
and the rules the layering promises (docs/design.md, "Layers"):
  1. no handler (fcgi/handler/*.c) includes another handler's file, or calls a function
     another handler defines;
  2. neither graph has a cycle (nodes: files for includes, object files for calls; a call
     edge A -> B means A's object needs a symbol B's object defines);
  3. nothing below the router calls up into it or into a handler.
usage: scripts/fcgi-graph.py [--build DIR]   prints both graphs, then "N passed, N failed"."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = sys.argv[sys.argv.index("--build") + 1] if "--build" in sys.argv else \
    os.environ.get("BUILD", "build")
FCGI = os.path.join(ROOT, "fcgi")


def rel(p):
    return os.path.relpath(p, ROOT)


def sources():
    out = []
    for d in (FCGI, os.path.join(FCGI, "handler")):
        out += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".c", ".h")))
    return out


def is_handler(f):
    return f.startswith("fcgi/handler/") and f.endswith(".c")


def includes(path):
    """local includes of path, resolved inside fcgi/ (others: core/ or drop/, by name)"""
    found = []
    for line in open(path, encoding="utf-8"):
        m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if not m:
            continue
        name = m.group(1)
        for d in (os.path.dirname(path), FCGI, os.path.join(FCGI, "handler")):
            cand = os.path.join(d, name)
            if os.path.exists(cand):
                found.append(rel(cand))
                break
        else:
            for d in ("core", "drop"):
                if os.path.exists(os.path.join(ROOT, d, name)):
                    found.append(d + "/" + name)
                    break
    return found


def symbols(obj):
    """(defined, undefined) global symbols of an object file"""
    out = subprocess.run(["nm", "-g", obj], capture_output=True, text=True, check=True).stdout
    d, u = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            u.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDRBCV":
            d.add(parts[2])
    return d, u


def cycle(graph):
    """one cycle as a list of nodes, or None"""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if m not in graph:
                continue
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if not state.get(m):
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if not state.get(n):
            c = visit(n)
            if c:
                return c
    return None


def main():
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL: " + what)

    files = [rel(p) for p in sources()]
    inc = {f: includes(os.path.join(ROOT, f)) for f in files}
    print("include graph (file -> files it includes; core/ and drop/ headers are below fcgi/):")
    for f in files:
        print("  %s -> %s" % (f, ", ".join(inc[f]) or "-"))

    objs = {}
    for f in files:
        if f.endswith(".c"):
            o = os.path.join(ROOT, build, f[:-2] + ".o")
            if not os.path.exists(o):
                print("FAIL: %s not built (make first)" % rel(o))
                failed += 1
                continue
            objs[f] = symbols(o)
    owner = {}
    for f, (d, _) in objs.items():
        for s in d:
            owner[s] = f
    calls = {f: sorted({owner[s] for s in u if s in owner and owner[s] != f})
             for f, (_, u) in objs.items()}
    print("call graph (file -> files whose functions it calls, within fcgi/):")
    for f in sorted(calls):
        print("  %s -> %s" % (f, ", ".join(calls[f]) or "-"))

    for f in files:
        if is_handler(f):
            bad = [i for i in inc[f] if i.startswith("fcgi/handler/") and i != "fcgi/handler/handlers.h"]
            check(not bad, "%s includes another handler: %s" % (f, bad))
            bad = [c for c in calls.get(f, []) if is_handler(c)]
            check(not bad, "%s calls into another handler: %s" % (f, bad))
    c = cycle({f: inc[f] for f in files})
    check(c is None, "include cycle: %s" % " -> ".join(c or []))
    c = cycle(calls)
    check(c is None, "call cycle: %s" % " -> ".join(c or []))
    for f in sorted(calls):
        if f in ("fcgi/server.c", "fcgi/router.c") or is_handler(f):
            continue
        up = [t for t in calls[f] if t == "fcgi/router.c" or is_handler(t)]
        check(not up, "%s (below the router) calls up into %s" % (f, up))
    check(any(is_handler(f) for f in files), "no handler files found")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
