#!/usr/bin/python3
"""The measurements behind bench/run (which starts the stacks and passes their ports in B_*).
Debian's python3, for boto3 (cleanup between runs). Loopback only.

Every figure is a median over several runs with min-max, and every table has a ratio against a
baseline measured in this same run: these machines are noisy, absolute numbers are not portable.
"""
import datetime
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

import boto3

E = os.environ
QUICK = "--quick" in sys.argv
MiB, GiB = 1 << 20, 1 << 30
SIZES = [MiB, 64 * MiB] if QUICK else [MiB, 64 * MiB, GiB]
RUNS = {MiB: 7, 64 * MiB: 5, GiB: 3} if not QUICK else {MiB: 3, 64 * MiB: 2}
HERE = os.path.dirname(os.path.abspath(__file__))
T = E["B_DIR"]
TOKEN = "bench"
BUCKET = E["S3_BUCKET"]
PREFIX = E["SLUICE_PREFIX"]
RGW = urllib.parse.urlsplit(E["AWS_ENDPOINT_URL"])
HZ = os.sysconf("SC_CLK_TCK")
s3 = boto3.client("s3", endpoint_url=E["AWS_ENDPOINT_URL"],
                  region_name=E.get("AWS_DEFAULT_REGION", "us-east-1"))
out_md = []


def say(s=""):
    print(s, flush=True)
    out_md.append(s)


# ---- processes ----------------------------------------------------------------------------

def read_pid(path):
    try:
        return int(open(path).read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def children(ppid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            if int(st[st.rindex(")") + 2:].split()[1]) == ppid:
                kids.append(int(d))
    return kids


def worker_pids(stack):
    out = subprocess.run(["pgrep", "-f", "^%s/sluice-fcgi -c %s/%s/sluice.conf" % (E["B_BUILD"], T, stack)],
                         capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def nginx_workers(stack):
    return children(read_pid("%s/%s/nginx/nginx.pid" % (T, stack)))


def cpu(pids):
    total = 0
    for p in pids:
        try:
            st = open("/proc/%d/stat" % p).read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12])
    return total / HZ


def status_kb(pid, field):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def rss(pids):
    return sum(status_kb(p, "VmRSS") for p in pids)


def reset_peak(pids):
    for p in pids:
        with open("/proc/%d/clear_refs" % p, "w") as f:
            f.write("5")


def peak(pids):
    return sum(status_kb(p, "VmHWM") for p in pids)


class Sampler:
    """polls a value every 50 ms in a thread; .max after stop()"""

    def __init__(self, fn):
        self.fn, self.max, self.stop_ = fn, 0, threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_.is_set():
            try:
                self.max = max(self.max, self.fn())
            except OSError:
                pass
            self.stop_.wait(0.05)

    def stop(self):
        self.stop_.set()
        self.t.join()
        return self.max


def dir_bytes(*dirs):
    """bytes in regular files under the dirs (temp files of the front servers)"""
    n = 0
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                try:
                    n += os.lstat(os.path.join(root, f)).st_size
                except OSError:
                    pass
    return n


TEMP_DIRS = ["%s/sluice/nginx/tmp" % T, "%s/naive/nginx/tmp" % T, "%s/sluice/lighttpd/upload" % T,
             "%s/relay/tmp" % T]


def open_temp_bytes(pids):
    """bytes in the deleted regular files the processes hold open (nginx unlinks its request
    body temp file at once: it is only visible in /proc/PID/fd)"""
    n = 0
    for p in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % p)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (p, fd))
                if link.endswith(" (deleted)") and link.startswith("/"):
                    n += os.stat("/proc/%d/fd/%s" % (p, fd)).st_size
            except OSError:
                pass
    return n


def temp_pids():
    pids = worker_pids("sluice") + nginx_workers("sluice") + nginx_workers("naive") + \
        [read_pid("%s/sluice/lighttpd/lighttpd.pid" % T)] + children(read_pid("%s/relay/nginx.pid" % T))
    return [p for p in pids if p]


def temp_sampler():
    pids = temp_pids()
    return Sampler(lambda: dir_bytes(*TEMP_DIRS) + open_temp_bytes(pids))

# ---- the client ---------------------------------------------------------------------------


def make_file(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return path
    with open(path, "wb") as f:
        p = subprocess.Popen(["openssl", "enc", "-aes-128-ctr", "-nosalt", "-pass", "pass:%d" % size,
                              "-in", "/dev/zero"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        left = size
        while left:
            b = p.stdout.read(min(left, 4 * MiB))
            f.write(b)
            left -= len(b)
        p.kill()
        p.wait()
    return path


def put(port, target, path, size, headers=None, host=None, rate=0, chunk_times=None):
    """PUT the file over a raw socket. Returns (status, headers, body, t_start, t_last_byte,
    t_reply). rate: bytes/s cap on the client (0: as fast as the socket takes it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=600)
    head = ["PUT %s HTTP/1.1" % target, "Host: %s" % (host or "127.0.0.1:%d" % port),
            "Content-Length: %d" % size, "Connection: close"]
    for k, v in (headers or {}).items():
        head.append("%s: %s" % (k, v))
    t0 = time.monotonic()
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    with open(path, "rb") as f:
        if not rate and chunk_times is None:
            if size:
                s.sendfile(f, 0, size)
        else:
            sent, step = 0, 64 * 1024
            while sent < size:
                n = s.sendfile(f, sent, min(step, size - sent))
                if n == 0:
                    break
                sent += n
                if chunk_times is not None:
                    chunk_times.append((time.monotonic(), sent))
                if rate:
                    ahead = sent / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
    t_last = time.monotonic()
    r = http.client.HTTPResponse(s)
    r.begin()
    t_reply = time.monotonic()
    body = r.read()
    s.close()
    return r.status, dict(r.getheaders()), body, t0, t_last, t_reply


def sluice_put(port, path, size, name="bench.bin", **kw):
    return put(port, "/api/drops/" + name, path, size,
               {"Authorization": "Bearer " + TOKEN, "Accept": "application/json"}, **kw)


def presign(key, method="PUT"):
    url = subprocess.run([E["B_BUILD"] + "/sluicectl", "-c", E["B_CONF"], "presign", method, key],
                         check=True, capture_output=True, text=True).stdout.strip()
    u = urllib.parse.urlsplit(url)
    return u.path + "?" + u.query


def s3_put(port, path, size, key, **kw):
    return put(port, presign(key), path, size, host=RGW.netloc, **kw)


def clean():
    """delete everything under the bench prefix (RGW's disk is small)"""
    token = None
    while True:
        kw = {"Bucket": BUCKET, "Prefix": PREFIX}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        objs = [{"Key": o["Key"]} for o in r.get("Contents", [])]
        for i in range(0, len(objs), 1000):
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objs[i:i + 1000], "Quiet": True})
        if not r.get("IsTruncated"):
            break
        token = r["NextContinuationToken"]


# ---- statistics and tables ----------------------------------------------------------------

def med(xs):
    return statistics.median(xs)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def human(n):
    for unit, k in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= k:
            return ("%.0f %s" % (n / k, unit)) if n % k == 0 else ("%.1f %s" % (n / k, unit))
    return "%d B" % n


def table(header, rows):
    w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) + " |"
    say(line(header))
    say("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        say(line(r))
    say()


def mm(xs, fmt="%.0f"):
    return (fmt + " (" + fmt + "-" + fmt + ")") % (med(xs), min(xs), max(xs))


# ---- the measures -------------------------------------------------------------------------

P = {k: int(E["B_" + k.upper()]) for k in ("sluice", "seq", "lighttpd", "naive", "relay", "slow", "slots")}
RGW_PID = read_pid(E["B_RGW_PID_FILE"])
FLOWS = ["sluice-nginx", "sluice-lighttpd", "sluice-1part", "naive", "relay", "direct"]
WORKERS = {"sluice-1part": "seq"}   # whose worker process a flow runs in (else "sluice")


def one_upload(flow, path, size, i):
    key = "%sraw/%s-%d" % (PREFIX, flow, i)
    if flow == "sluice-nginx":
        return sluice_put(P["sluice"], path, size)
    if flow == "sluice-lighttpd":
        return sluice_put(P["lighttpd"], path, size)
    if flow == "sluice-1part":
        return sluice_put(P["seq"], path, size)
    if flow == "naive":
        return sluice_put(P["naive"], path, size)
    if flow == "relay":
        return s3_put(P["relay"], path, size, key)
    return s3_put(RGW.port, path, size, key)


def front_pids(flow):
    if flow == "sluice-nginx":
        return nginx_workers("sluice")
    if flow == "sluice-lighttpd":
        return [read_pid("%s/sluice/lighttpd/lighttpd.pid" % T)]
    if flow == "sluice-1part":
        return nginx_workers("seq")
    if flow == "naive":
        return nginx_workers("naive")
    if flow == "relay":
        return children(read_pid("%s/relay/nginx.pid" % T))
    return []


def measure_sizes(results):
    for size in SIZES:
        path = make_file("%s/f-%d" % (T, size), size)
        if size < GiB:
            for flow in FLOWS:  # warm-up, one each
                one_upload(flow, path, size, 0)
            clean()
        for i in range(RUNS[size]):
            for flow in FLOWS:  # interleaved, so drift hits every flow alike
                fp = front_pids(flow)
                wp = worker_pids(WORKERS.get(flow, "sluice"))
                reset_peak(wp)
                c0 = (cpu(wp), cpu(fp), cpu([RGW_PID] if RGW_PID else []))
                tmp = temp_sampler()
                st, _, body, t0, tl, tr = one_upload(flow, path, size, i)
                tmpmax = tmp.stop()
                c1 = (cpu(wp), cpu(fp), cpu([RGW_PID] if RGW_PID else []))
                ok = st in (200, 201)
                if not ok:
                    print("!! %s %s: %d %s" % (flow, human(size), st, body[:200]), file=sys.stderr)
                results.append(dict(flow=flow, size=size, ok=ok, total=tr - t0, after=tr - tl,
                                    worker_cpu=c1[0] - c0[0], front_cpu=c1[1] - c0[1],
                                    s3_cpu=c1[2] - c0[2], worker_peak=peak(wp), temp=tmpmax))
                if size >= 64 * MiB:
                    clean()
        clean()
        os.unlink(path) if size >= GiB else None


def report_sizes(res):
    sel = lambda flow, size, k: [r[k] for r in res if r["flow"] == flow and r["size"] == size and r["ok"]]
    say("## 1. Time from the client's last byte to the reply (ms)")
    say()
    say("The client sends the body as fast as the socket takes it and stops the clock when the "
        "status line arrives. Ratio: naive / sluice (how many times longer the naive flow keeps "
        "the user waiting after the upload).")
    say()
    rows = []
    for size in SIZES:
        sn, sl, nv = (sel(f, size, "after") for f in ("sluice-nginx", "sluice-lighttpd", "naive"))
        ms = lambda xs: [x * 1000 for x in xs]
        rows.append([human(size), mm(ms(sn), "%.1f"), mm(ms(sl), "%.1f"), mm(ms(nv), "%.1f"),
                     "%.1fx" % (med(nv) / med(sn))])
    table(["size", "sluice (nginx)", "sluice (lighttpd)", "naive (nginx buffering)", "naive/sluice"], rows)

    say("## 2. Throughput of one upload (MB/s, first byte sent to reply)")
    say()
    say("Ratio: each flow's median against direct-to-S3 (1.00 = as fast as the client talking "
        "to RGW itself).")
    say()
    rows = []
    for size in SIZES:
        d = med([size / t for t in sel("direct", size, "total")])
        row = [human(size)]
        for flow in FLOWS:
            xs = [size / t / 1e6 for t in sel(flow, size, "total")]
            row.append("%s %.2f" % (mm(xs), med(xs) * 1e6 / d))
        rows.append(row)
    table(["size"] + FLOWS, rows)

    big = SIZES[-1]
    say("## 3. CPU seconds per GiB uploaded (%s uploads, medians)" % human(big))
    say()
    say("worker: the sluice-fcgi process; front: the nginx/lighttpd worker process; S3: radosgw. "
        "Ratio: worker + front against the naive flow's.")
    say()
    rows = []
    per = lambda flow, k: med(sel(flow, big, k)) * GiB / big
    path = lambda flow: per(flow, "worker_cpu") + per(flow, "front_cpu")
    for flow in FLOWS:
        rows.append([flow, "%.2f" % per(flow, "worker_cpu"), "%.2f" % per(flow, "front_cpu"),
                     "%.2f" % per(flow, "s3_cpu"), "%.2f" % (path(flow) / path("naive"))])
    table(["flow", "worker s/GiB", "front server s/GiB", "S3 server s/GiB", "worker+front vs naive"], rows)

    say("## 4a. Memory and temp disk for one upload (the naive flow is the baseline column)")
    say()
    say("Peak RSS of the worker process during the upload (VmHWM, reset before each run), and the "
        "most bytes seen in temp files (the front servers' temp directories, and deleted files held open "
        "by the worker or front server: sampled every 50 ms).")
    say()
    rows = []
    for size in SIZES:
        row = [human(size)]
        for flow in ("sluice-nginx", "sluice-lighttpd", "naive"):
            row.append("%s / %s" % (human(med(sel(flow, size, "worker_peak"))),
                                    human(max(sel(flow, size, "temp")))))
        rows.append(row)
    table(["size", "sluice (nginx): RSS / temp", "sluice (lighttpd): RSS / temp",
           "naive: RSS / temp"], rows)
    return sel


def run_threads(fns):
    """runs each function in its own thread; the seconds until all have returned"""
    ts = [threading.Thread(target=f) for f in fns]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.monotonic() - t0


def concurrent(port, n, size, rate):
    """n uploads at once, each client capped at `rate`; returns statuses, sampled peaks"""
    path = make_file("%s/f-%d" % (T, size), size)
    wp = worker_pids("sluice")
    rss_idle = rss(wp)
    reset_peak(wp)
    samp_rss = Sampler(lambda: rss(wp))
    samp_tmp = temp_sampler()
    codes = []
    def one(i):
        try:
            codes.append(sluice_put(port, path, size, rate=rate)[0])
        except OSError as e:
            codes.append(str(e))
    took = run_threads([lambda i=i: one(i) for i in range(n)])
    res = dict(codes=codes, rss_idle=rss_idle, rss_max=samp_rss.stop(), hwm=peak(wp),
               temp=samp_tmp.stop(), took=took)
    clean()
    return res


def report_concurrent():
    n, size, rate = (16, 8 * MiB, 2 * MiB) if QUICK else (64, 32 * MiB, 2 * MiB)
    say("## 4b. %d uploads of %s at once (each client at %s/s, so all overlap)" % (n, human(size), human(rate)))
    say()
    say("Ratio: the worker's RSS growth over idle against the naive flow's.")
    say()
    res = [(name, concurrent(port, n, size, rate))
           for name, port in (("naive", P["naive"]), ("sluice (nginx)", P["sluice"]))]
    grow = lambda r: max(r["rss_max"] - r["rss_idle"], 1)
    rows = []
    for name, r in res:
        ok = sum(1 for c in r["codes"] if c == 201)
        rows.append([name, "%d/%d" % (ok, n), "%.1f s" % r["took"], human(r["rss_idle"]),
                     human(r["rss_max"]), human(r["hwm"]), human(r["temp"]),
                     "%.2f" % (grow(r) / grow(res[0][1]))])
    table(["flow", "201s", "wall time", "worker RSS idle", "worker RSS max (sampled)",
           "worker VmHWM", "temp disk max", "RSS growth vs naive"], rows)


def report_backpressure():
    size = 16 * MiB if QUICK else 64 * MiB
    path = make_file("%s/f-%d" % (T, size), size)
    say("## 5. Backpressure: S3 slowed by a bandwidth cap (faultproxy), %s upload" % human(size))
    say()
    say("The slow stack has buffer_cap 8M / part_size 5M. Client rate 'steady': over the last "
        "half of the body. Ratio: steady client rate / S3 cap.")
    say()
    wp = worker_pids("slow")
    ctl = socket.create_connection(("127.0.0.1", int(E["B_PXCTL"])))
    f = ctl.makefile("rw")
    rows = []
    for cap in (0, 32 * MiB, 8 * MiB):
        f.write("rate %d\n" % cap)
        f.flush()
        f.readline()
        idle = rss(wp)
        samp = Sampler(lambda: rss(wp))
        times = []
        st, _, _, t0, tl, tr = sluice_put(P["slow"], path, size, chunk_times=times)
        mx = samp.stop()
        half = [(t, b) for t, b in times if b >= size / 2]
        steady = (half[-1][1] - half[0][1]) / (half[-1][0] - half[0][0]) if len(half) > 1 else 0
        rows.append(["none" if not cap else "%s/s" % human(cap), st, "%.1f" % (size / (tr - t0) / MiB),
                     "%.1f" % (steady / MiB), "%.2f" % (steady / cap) if cap else "-",
                     human(idle), human(mx)])
        clean()
    f.write("rate 0\n")
    f.flush()
    ctl.close()
    table(["S3 cap", "status", "client MiB/s (whole)", "client MiB/s (steady)", "steady/cap",
           "worker RSS idle", "worker RSS max"], rows)


def report_slots():
    say("## 6. Time to a 503 when every upload slot is held")
    say()
    n = 200 if QUICK else 1000
    port = P["slots"]
    held = []
    for i in range(2):   # two uploads that promise 1 GiB and send a byte a second
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(("PUT /api/drops/held HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Length: %d\r\n\r\nx" % (TOKEN, GiB)).encode())
        held.append(s)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = http.client.HTTPConnection("127.0.0.1", port)
        m.request("GET", "/metrics", headers={"Authorization": "Bearer " + os.environ.get("SLUICE_METRICS_TOKEN", "metrics-token")})
        if "sluice_slots_in_use 2" in m.getresponse().read().decode():
            break
        time.sleep(0.05)
    lat, codes, retry = [], {}, 0
    body = b"x" * 4096
    for i in range(n):
        t0 = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("PUT", "/api/drops/small.bin", body, {"Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        lat.append((time.monotonic() - t0) * 1000)
        r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
        retry += 1 if r.getheader("Retry-After") else 0
        c.close()
    for s in held:
        s.close()
    # a single small upload with a free slot, for the ratio
    time.sleep(0.5)
    free = []
    for i in range(20):
        t0 = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("PUT", "/api/drops/small.bin", body, {"Authorization": "Bearer " + TOKEN})
        c.getresponse().read()
        free.append((time.monotonic() - t0) * 1000)
        c.close()
    table(["attempts", "answers", "with Retry-After", "p50 ms", "p99 ms", "max ms",
           "4 KiB upload with a free slot, p50 ms", "503 p50 / upload p50"],
          [[n, " ".join("%dx%d" % (v, k) for k, v in sorted(codes.items())), retry,
            "%.2f" % pct(lat, 50), "%.2f" % pct(lat, 99), "%.2f" % max(lat), "%.2f" % pct(free, 50),
            "%.3f" % (pct(lat, 50) / pct(free, 50))]])
    clean()


def small_files(port, n, conc):
    path = make_file("%s/f-4k" % T, 4096)
    body = open(path, "rb").read()
    lat, codes, lock = [], {}, threading.Lock()
    todo = list(range(n))
    def worker():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request("PUT", "/api/drops/small.bin", body, {"Authorization": "Bearer " + TOKEN})
                st = c.getresponse()
                st.read()
                code = st.status
                c.close()
            except OSError as e:
                code = type(e).__name__
            with lock:
                lat.append((time.monotonic() - t0) * 1000)
                codes[code] = codes.get(code, 0) + 1
    took = run_threads([worker] * conc)
    clean()
    return n / took, lat, codes


def report_small():
    n = 300 if QUICK else 1500
    say("## 7. Many small files: %d uploads of 4 KiB at concurrency 32" % n)
    say()
    rows, base = [], None
    for name, port in (("naive", P["naive"]), ("sluice (nginx)", P["sluice"]),
                       ("sluice (lighttpd)", P["lighttpd"])):
        small_files(port, 64, 32)  # warm-up
        rps, lat, codes = small_files(port, n, 32)
        base = base or rps
        rows.append([name, "%.0f" % rps, "%.2f" % (rps / base), "%.0f" % pct(lat, 50), "%.0f" % pct(lat, 99),
                     " ".join("%sx%s" % (v, k) for k, v in sorted(codes.items(), key=str))])
    table(["flow", "uploads/s", "vs naive", "p50 ms", "p99 ms", "answers"], rows)


def direct_upload(port, path, size):
    """POST /api/uploads, PUT to S3, complete: returns (bytes sent to sluice, to S3, status)"""
    c = http.client.HTTPConnection("127.0.0.1", port)
    req = json.dumps({"name": "direct.bin", "size": size, "content_type": "application/octet-stream",
                      "mode": "put"}).encode()
    c.request("POST", "/api/uploads", req, {"Authorization": "Bearer " + TOKEN,
                                            "Content-Type": "application/json"})
    r = json.loads(c.getresponse().read())
    u = urllib.parse.urlsplit(r["upload"]["url"])
    st = put(RGW.port, u.path + "?" + u.query, path, size, {"Content-Type": "application/octet-stream"},
             host=RGW.netloc)[0]
    c.request("POST", "/api/uploads/%s/complete" % r["id"], b"", {"Authorization": "Bearer " + TOKEN})
    done = c.getresponse()
    done.read()
    return len(req), size, done.status, st


def report_direct():
    size = 64 * MiB
    path = make_file("%s/f-%d" % (T, size), size)
    wp = worker_pids("sluice")
    say("## 8b. Direct uploads: what the worker carries and spends (%s file, 5 runs, medians)" % human(size))
    say()
    rows = []
    for name in ("streamed through sluice", "direct (presigned PUT + complete)"):
        cpus, wire, sts = [], [], []
        for i in range(5):
            c0 = cpu(wp)
            if name.startswith("streamed"):
                st = sluice_put(P["sluice"], path, size)[0]
                wire.append(size)
            else:
                n, _, st, _ = direct_upload(P["sluice"], path, size)
                wire.append(n)
            cpus.append(cpu(wp) - c0)
            sts.append(st)
            clean()
        c = med(cpus)
        rows.append([name, " ".join(map(str, sorted(set(sts)))), human(med(wire)),
                     "%.2f" % c if c > 0 else "< %.2f (below the clock tick)" % (1.0 / HZ)])

    table(["flow", "status", "payload bytes through the worker", "worker CPU s"], rows)


def report_thumbs():
    say("## 8a. Thumbnails: 12 MP JPEG decode (bench/thumb_decode)")
    say()
    o = subprocess.run([E["B_BUILD"] + "/bench/thumb_decode"], capture_output=True, text=True).stdout
    say("```")
    for line in o.rstrip().split("\n"):
        say(line)
    say("```")
    say()


def profile():
    """perf profile of the worker during one 256 MiB streamed upload: where its CPU goes"""
    size = 256 * MiB
    path = make_file("%s/f-%d" % (T, size), size)
    wp = worker_pids("sluice")
    data = "%s/perf.data" % T
    p = subprocess.Popen(["perf", "record", "-q", "-F", "999", "-g", "-o", data, "-p", str(wp[0])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    sluice_put(P["sluice"], path, size)
    p.send_signal(2)
    p.wait()
    clean()
    say("## Profile: where the worker's CPU goes (perf, one %s upload via nginx)" % human(size))
    say()
    for sort, limit in (("dso", "1"), ("dso,symbol", "2")):
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort,
                              "--stdio", "-g", "none", "--percent-limit", limit],
                             capture_output=True, text=True).stdout
        say("```")
        for line in rep.split("\n"):
            if line.strip() and not line.startswith("#"):
                say(line.rstrip().replace("  -      -", ""))
        say("```")
        say()


def chart(sel):
    dat = "%s/chart.dat" % T
    with open(dat, "w") as f:
        for size in SIZES:
            f.write("%d %f %f %f %f\n" % (size / MiB,
                    med(sel("sluice-nginx", size, "after")) * 1000, med(sel("naive", size, "after")) * 1000,
                    med(sel("sluice-nginx", size, "worker_peak")) / MiB, med(sel("naive", size, "temp")) / MiB))
    png = os.path.join(T if QUICK else HERE, "results.png")
    gp = """set terminal pngcairo size 1100,420 font ',10'
set output '%s'
set multiplot layout 1,2
set logscale x 2
set xlabel 'upload size (MiB)'
set key top left
set grid
set title 'time from last byte to reply'
set ylabel 'ms'
plot '%s' u 1:2 w lp lw 2 t 'sluice (nginx, streamed)', '' u 1:3 w lp lw 2 t 'naive (nginx buffering)'
set title 'memory and temp disk per upload'
set ylabel 'MiB'
set logscale y 2
set yrange [0.5:*]
plot '%s' u 1:4 w lp lw 2 t 'sluice worker peak RSS', '' u 1:5 w lp lw 2 t 'naive: nginx temp file'
unset multiplot
""" % (png, dat, dat)
    r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
    if r.returncode:
        print("gnuplot failed: " + r.stderr, file=sys.stderr)


def versions():
    def first(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout + r.stderr).strip().split("\n")[0]
        except OSError:
            return "?"
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    say("- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    say("- machine: %d cores (%s), %.0f GiB RAM, Linux %s" % (os.cpu_count(), cpu_model, int(mem) / 1048576.0,
                                                               platform.release()))
    say("- %s; %s; %s; %s" % (first(["nginx", "-v"]), first(["lighttpd", "-v"]), first(["radosgw", "--version"]),
                              first(["curl", "--version"])))
    say("- commit: %s" % first(["git", "-C", HERE, "rev-parse", "--short", "HEAD"]))
    say("- command: `make bench` (bench/run%s); S3: one local Ceph RGW (bluestore on a sparse file), "
        "everything on loopback" % (" --quick" if QUICK else ""))
    say()


def main():
    t0 = time.monotonic()
    say("# sluice benchmarks")
    say()
    versions()
    res = []
    measure_sizes(res)
    sel = report_sizes(res)
    report_concurrent()
    report_backpressure()
    report_slots()
    report_small()
    report_thumbs()
    report_direct()
    profile()
    chart(sel)
    say("(whole run: %.0f s)" % (time.monotonic() - t0))
    if not QUICK:
        with open(os.path.join(HERE, "results.md"), "w") as f:
            f.write("\n".join(out_md) + "\n")
        print("wrote bench/results.md and bench/results.png")


main()
