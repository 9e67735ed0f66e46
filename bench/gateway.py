#!/usr/bin/env python3
"""Gateway benchmarks for ngx_http_fado_module, with baselines in the same run.

  bench/gateway.py overhead     [--quick]   rps and p50/p99: fado (1k, 1M routes)
                                            vs plain nginx vs Caddy as FaDO used it
  bench/gateway.py propagation  [--quick]   route write in Redis -> first request
                                            served by the new endpoint (1k, 1M routes)
  bench/gateway.py resync                   1M-route resync time, shm bytes per route
  bench/gateway.py state                    1M routes: state file size and write time,
                                            cold start without Redis served from it
  bench/gateway.py overhead --v2 [--quick]  rps and p50/p99: fado with contract 2
                                            records (1k F2 buckets on 4 C2 clusters)
                                            vs plain nginx
  bench/gateway.py propagation --v2 [--quick]
                                            one cluster record (cset) that 10k F2
                                            buckets name -> first request served by
                                            the new endpoint; against rewriting the
                                            10k F1 records the same change needs

Every server is started here, on 127.0.0.1 ports from BENCH_BASE_PORT
(default 27100), and stopped at the end. Results are CSV on stdout and in
bench/results/. The machine is shared and noisy, so variants are measured
in alternating rounds and compared as ratios.
"""

import csv
import io
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("FADO_BUILD", os.path.join(ROOT, "build"))
MODULE = os.path.join(BUILD, "ngx_http_fado_module.so")
PUBLISH_LUA = os.path.join(ROOT, "docs", "fado-publish.lua")
BASE = int(os.environ.get("BENCH_BASE_PORT", "27100"))

P_REDIS = BASE + 0
P_FADO = BASE + 1
P_PLAIN = BASE + 2
P_CADDY = BASE + 3
P_STATUS = BASE + 4
P_BACKENDS = [BASE + 10 + i for i in range(4)]
PREFIX = "bench:"

procs = []
workdir = tempfile.mkdtemp(prefix="fado-bench-")


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def spawn(name, argv, **kw):
    out = open(os.path.join(workdir, name + ".log"), "wb")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True, **kw)
    procs.append(p)
    return p


def stop_all():
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    procs.clear()


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit("bench: nothing listens on %d after %ds (logs in %s)"
                     % (port, timeout, workdir))


# ------------------------------------------------------------ Redis

class Redis:
    """A minimal RESP client: enough to publish routes and read replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.reply()


def publish_keys(prefix=PREFIX):
    return [prefix + k for k in ("routes", "version", "feed", "default", "epoch",
                                 "clusters")]


def load_routes(redis, n, body_of, batch=10000, op="set", prefix=PREFIX):
    """Writes n routes through the publish script, pipelining the batches."""
    sha = redis.call("SCRIPT", "LOAD", open(PUBLISH_LUA, "rb").read()).decode()
    keys = publish_keys(prefix)
    pending = 0
    t0 = time.time()
    for start in range(0, n, batch):
        args = ["EVALSHA", sha, len(keys)] + keys + [200000]
        for i in range(start, min(n, start + batch)):
            args += [op, bucket_name(i), body_of(i)]
        redis.sock.sendall(Redis.encode(*args))
        pending += 1
        if pending == 8:
            redis.reply()
            pending -= 1
    while pending:
        redis.reply()
        pending -= 1
    log("loaded %d routes in %.1f s" % (n, time.time() - t0))
    return sha


def bucket_name(i):
    return "bkt-%07d" % i


def route_body(i, endpoints=2):
    eps = []
    for k in range(endpoints):
        port = P_BACKENDS[(i + k) % len(P_BACKENDS)]
        eps.append("127.0.0.1:%d,c%d,z%d,1,0" % (port, port % 3, port % 3))
    return "- " + " ".join(eps)


def load_clusters(redis):
    """Contract 2: one cluster record per backend, c0..c3."""
    sha = redis.call("SCRIPT", "LOAD", open(PUBLISH_LUA, "rb").read()).decode()
    args = ["EVALSHA", sha, len(publish_keys())] + publish_keys() + [200000]
    for k, port in enumerate(P_BACKENDS):
        args += ["cset", "c%d" % k, "z%d up 127.0.0.1:%d,1,0" % (k % 3, port)]
    return redis.call(*args)


def route_body_v2(i, clusters=2):
    names = sorted("c%d" % ((i + k) % len(P_BACKENDS)) for k in range(clusters))
    return "- " + " ".join(names)


# ------------------------------------------------------------ servers

def start_redis():
    spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(P_REDIS),
                    "--save", "", "--appendonly", "no", "--dir", workdir])
    wait_port(P_REDIS)
    return Redis(P_REDIS)


def nginx_conf(name, http_body, workers=1, load_module=False):
    d = os.path.join(workdir, name)
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        if load_module:
            f.write("load_module %s;\n" % MODULE)
        f.write("""
worker_processes %d;
daemon off;
master_process on;
error_log %s/logs/error.log warn;
pid %s/logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %s/tmp;
    proxy_temp_path %s/tmp;
%s
}
""" % (workers, d, d, d, d, http_body))
    return d, conf


def start_backends():
    servers = "".join(
        '    server { listen 127.0.0.1:%d; keepalive_requests 100000; '
        'location / { return 200 "b%d\\n"; } }\n' % (p, i)
        for i, p in enumerate(P_BACKENDS))
    d, conf = nginx_conf("backends", servers, workers=1)
    spawn("backends", ["nginx", "-p", d + "/", "-c", conf, "-e", d + "/logs/error.log"])
    for p in P_BACKENDS:
        wait_port(p)


PROXY = """
        proxy_http_version 1.1;
        proxy_set_header Connection "";
"""


def start_plain_nginx():
    ups = "".join("        server 127.0.0.1:%d;\n" % p for p in P_BACKENDS)
    body = """
    upstream static { %s        keepalive 64; }
    server { listen 127.0.0.1:%d; keepalive_requests 100000;
        location / { %s proxy_pass http://static; } }
""" % (ups, P_PLAIN, PROXY)
    d, conf = nginx_conf("plain", body)
    spawn("plain", ["nginx", "-p", d + "/", "-c", conf, "-e", d + "/logs/error.log"])
    wait_port(P_PLAIN)


def start_fado_nginx(shm="512m", state=None, port=P_FADO, status=P_STATUS,
                     prefix=PREFIX, name="fado"):
    if state:
        shm += " state=" + state
    body = """
    fado_shm_zone fado_bench %s;
    fado_redis 127.0.0.1:%d prefix=%s;
    upstream fn { fado policy=rr; keepalive 64; }
    server { listen 127.0.0.1:%d; keepalive_requests 100000;
        location / { fado_bucket $http_x_fado_bucket; fado_unknown_bucket 404;
                     %s proxy_pass http://fn; } }
    server { listen 127.0.0.1:%d;
        location = /fado/status { fado_status; } }
""" % (shm, P_REDIS, prefix, port, PROXY, status)
    d, conf = nginx_conf(name, body, load_module=True)
    p = spawn(name, ["nginx", "-p", d + "/", "-c", conf, "-e", d + "/logs/error.log"])
    wait_port(status)
    return p


def start_caddy(n_routes):
    """Caddy as FaDO configured it: one header-matched route per bucket,
    reverse_proxy to the bucket's endpoints with a load-balancing policy."""
    lines = ["{", "    admin off", "    auto_https off", "}",
             "http://127.0.0.1:%d {" % P_CADDY, "    bind 127.0.0.1"]
    for i in range(n_routes):
        ups = " ".join(e.split(",")[0] for e in route_body(i).split()[1:])
        lines.append("    @b%d header X-Fado-Bucket %s" % (i, bucket_name(i)))
        lines.append("    reverse_proxy @b%d %s {\n        lb_policy round_robin\n    }"
                     % (i, ups))
    lines.append("}")
    path = os.path.join(workdir, "Caddyfile")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    spawn("caddy", ["caddy", "run", "--config", path, "--adapter", "caddyfile"],
          env=dict(os.environ, HOME=workdir, XDG_DATA_HOME=workdir,
                   XDG_CONFIG_HOME=workdir))
    wait_port(P_CADDY, timeout=60)


def fado_status(status=P_STATUS):
    s = socket.create_connection(("127.0.0.1", status))
    s.sendall(b"GET /fado/status HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.split(b"\r\n\r\n", 1)[1].decode()


def wait_routes(n, timeout=120, status=P_STATUS):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = fado_status(status)
        m = re.search(r'"routes":(\d+)', st)
        if m and int(m.group(1)) >= n and '"state":"following"' in st:
            return st
        time.sleep(0.05)
    raise SystemExit("bench: gateway did not load %d routes: %s" % (n, fado_status()[:300]))


# ------------------------------------------------------------ wrk

WRK_LUA = """
local buckets = {}
local n = %d
math.randomseed(%d)
request = function()
  local b = string.format("bkt-%%07d", math.random(0, n - 1))
  return wrk.format("GET", "/function/fn", { ["X-Fado-Bucket"] = b })
end
"""


def run_wrk(port, n_buckets, seconds, conns):
    script = os.path.join(workdir, "buckets.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA % (n_buckets, random.randint(1, 1 << 30)))
    out = subprocess.run(
        ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "-s", script,
         "http://127.0.0.1:%d/" % port], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit("bench: %s non-2xx answers on port %d:\n%s" % (errors.group(1), port, out))

    def pct(p):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return rps, pct(50), pct(99)


# ------------------------------------------------------------ benchmarks

def emit(name, header, rows):
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results",
                        "%s-%s.csv" % (name, time.strftime("%Y%m%d-%H%M%S")))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    sys.stdout.write(buf.getvalue())
    with open(path, "w") as f:
        f.write(buf.getvalue())
    log("written " + os.path.relpath(path, ROOT))


def overhead(quick):
    seconds = 3 if quick else 8
    rounds = 2 if quick else 3
    conns = 32
    redis = start_redis()
    start_backends()
    start_plain_nginx()
    start_caddy(1000)
    load_routes(redis, 1000, route_body)
    start_fado_nginx()
    wait_routes(1000)

    results = {}

    def measure(variant, port, n_buckets):
        r = results.setdefault(variant, [])
        r.append(run_wrk(port, n_buckets, seconds, conns))
        log("%s: %.0f rps p50 %.3f ms p99 %.3f ms" % ((variant,) + r[-1]))

    # warm-up, then alternate so drift on the shared machine hits all alike
    for port in (P_PLAIN, P_FADO, P_CADDY):
        run_wrk(port, 1000, 1, conns)
    for _ in range(rounds):
        measure("nginx-static", P_PLAIN, 1000)
        measure("fado-1k", P_FADO, 1000)
        measure("caddy-fado-1k", P_CADDY, 1000)

    load_routes(redis, 1000000, route_body)
    wait_routes(1000000)
    for _ in range(rounds):
        measure("nginx-static-b", P_PLAIN, 1000)
        measure("fado-1m", P_FADO, 1000000)

    def med(variant, k):
        return statistics.median(x[k] for x in results[variant])

    base1 = med("nginx-static", 0)
    base2 = med("nginx-static-b", 0)
    caddy = med("caddy-fado-1k", 0)
    rows = []
    for variant, routes, base in (("nginx-static", 0, base1), ("fado-1k", 1000, base1),
                                  ("caddy-fado-1k", 1000, base1),
                                  ("nginx-static-b", 0, base2), ("fado-1m", 1000000, base2)):
        rps = med(variant, 0)
        rows.append([variant, routes, "%.0f" % rps, "%.3f" % med(variant, 1),
                     "%.3f" % med(variant, 2), "%.3f" % (rps / base), "%.2f" % (rps / caddy)])
    emit("gateway-overhead",
         ["variant", "routes", "rps", "p50_ms", "p99_ms", "ratio_vs_nginx_static",
          "ratio_vs_caddy"], rows)


def overhead_v2(quick):
    seconds = 3 if quick else 8
    rounds = 2 if quick else 3
    conns = 32
    redis = start_redis()
    start_backends()
    start_plain_nginx()
    load_clusters(redis)
    load_routes(redis, 1000, route_body_v2, op="set2")
    start_fado_nginx()
    wait_routes(1000)
    # the same routes as contract 1 records, on a gateway of their own
    load_routes(redis, 1000, route_body, prefix="bench1:")
    start_fado_nginx(port=P_CADDY, status=P_STATUS + 1, prefix="bench1:",
                     name="fado1")
    wait_routes(1000, status=P_STATUS + 1)
    st = fado_status()
    if '"clusters_count":4' not in st:
        raise SystemExit("bench: gateway has not the 4 cluster records: " + st[:300])

    results = {}

    def measure(variant, port):
        r = results.setdefault(variant, [])
        r.append(run_wrk(port, 1000, seconds, conns))
        log("%s: %.0f rps p50 %.3f ms p99 %.3f ms" % ((variant,) + r[-1]))

    for port in (P_PLAIN, P_FADO, P_CADDY):
        run_wrk(port, 1000, 1, conns)
    for _ in range(rounds):
        measure("nginx-static", P_PLAIN)
        measure("fado-v2-1k", P_FADO)
        measure("fado-v1-1k", P_CADDY)

    def med(variant, k):
        return statistics.median(x[k] for x in results[variant])

    base = med("nginx-static", 0)
    rows = []
    for variant, routes in (("nginx-static", 0), ("fado-v2-1k", 1000),
                            ("fado-v1-1k", 1000)):
        rps = med(variant, 0)
        rows.append([variant, routes, 4 if variant == "fado-v2-1k" else 0,
                     "%.0f" % rps,
                     "%.3f" % med(variant, 1), "%.3f" % med(variant, 2),
                     "%.3f" % (rps / base)])
    emit("gateway-overhead-v2",
         ["variant", "routes", "clusters", "rps", "p50_ms", "p99_ms",
          "ratio_vs_nginx_static"], rows)


class Client:
    """Keep-alive HTTP/1.1 client reading one small response at a time."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get(self, bucket):
        self.sock.sendall(b"GET /function/fn HTTP/1.1\r\nHost: x\r\nX-Fado-Bucket: "
                          + bucket.encode() + b"\r\n\r\n")
        data = b""
        while True:
            data += self.sock.recv(65536)
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"Content-Length: (\d+)", head, re.I)
                if m and len(body) >= int(m.group(1)):
                    return body[:int(m.group(1))]


def propagation(quick):
    updates = 200 if quick else 1000
    redis = start_redis()
    start_backends()
    rows = []
    for n in (1000, 1000000):
        if n == 1000:
            load_routes(redis, n, route_body)
            start_fado_nginx()
        else:
            load_routes(redis, n, route_body)
        wait_routes(n)
        sha = redis.call("SCRIPT", "LOAD", open(PUBLISH_LUA, "rb").read()).decode()
        client = Client(P_FADO)
        times = []
        for u in range(updates):
            b = bucket_name(random.randrange(n))
            current = client.get(b)
            # move the bucket to a backend that answers differently
            idx = int(current.strip()[1:])
            new_port = P_BACKENDS[(idx + 2) % len(P_BACKENDS)]
            want = ("b%d\n" % ((idx + 2) % len(P_BACKENDS))).encode()
            body = "- 127.0.0.1:%d,cx,zx,1,0" % new_port
            t0 = time.perf_counter()
            redis.call("EVALSHA", sha, len(publish_keys()), *publish_keys(), 200000,
                       "set", b, body)
            while client.get(b) != want:
                if time.perf_counter() - t0 > 5:
                    raise SystemExit("bench: update of %s not seen in 5 s" % b)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p50 = times[len(times) // 2]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        log("propagation at %d routes: p50 %.3f ms p99 %.3f ms max %.3f ms"
            % (n, p50, p99, times[-1]))
        rows.append([n, updates, "%.3f" % p50, "%.3f" % p99, "%.3f" % times[-1]])
    emit("gateway-propagation", ["routes", "updates", "p50_ms", "p99_ms", "max_ms"], rows)


def propagation_v2(quick):
    """A cluster's endpoint changes while 10k buckets name the cluster."""
    updates = 200 if quick else 1000
    rewrites = 10 if quick else 30
    n = 10000
    redis = start_redis()
    start_backends()
    sha = redis.call("SCRIPT", "LOAD", open(PUBLISH_LUA, "rb").read()).decode()
    keys = publish_keys()
    nk = len(keys)
    redis.call("EVALSHA", sha, nk, *keys, 200000, "cset", "cx",
               "zx up 127.0.0.1:%d,1,0" % P_BACKENDS[0])
    load_routes(redis, n, lambda i: "- cx", op="set2")
    start_fado_nginx()
    wait_routes(n)
    client = Client(P_FADO)
    rows = []

    def move(idx):
        new = (idx + 2) % len(P_BACKENDS)
        return new, ("b%d\n" % new).encode()

    # contract 2: one cset moves the 10k buckets
    times = []
    for u in range(updates):
        b = bucket_name(random.randrange(n))
        idx = int(client.get(b).strip()[1:])
        new, want = move(idx)
        v0 = int(redis.call("GET", PREFIX + "version"))
        t0 = time.perf_counter()
        v1 = redis.call("EVALSHA", sha, nk, *keys, 200000, "cset", "cx",
                        "zx up 127.0.0.1:%d,1,0" % P_BACKENDS[new])
        while client.get(b) != want:
            if time.perf_counter() - t0 > 5:
                raise SystemExit("bench: cluster change not seen for %s in 5 s" % b)
        times.append((time.perf_counter() - t0) * 1000)
        if v1 != v0 + 1:
            raise SystemExit("bench: one cset took versions %d..%d" % (v0, v1))
    rows.append(summary("v2-cset", n, updates, 1, times))

    # contract 1: the same change rewrites every bucket record
    load_routes(redis, n, lambda i: "- 127.0.0.1:%d,cx,zx,1,0" % P_BACKENDS[0])
    v = int(redis.call("GET", PREFIX + "version"))
    wait_version(v)
    times = []
    for u in range(rewrites):
        b = bucket_name(random.randrange(n))
        idx = int(client.get(b).strip()[1:])
        new, want = move(idx)
        body = "- 127.0.0.1:%d,cx,zx,1,0" % P_BACKENDS[new]
        args = ["EVALSHA", sha, nk] + keys + [200000]
        for i in range(n):
            args += ["set", bucket_name(i), body]
        t0 = time.perf_counter()
        redis.call(*args)
        while client.get(b) != want:
            if time.perf_counter() - t0 > 10:
                raise SystemExit("bench: rewrite not seen for %s in 10 s" % b)
        times.append((time.perf_counter() - t0) * 1000)
        wait_version(int(redis.call("GET", PREFIX + "version")))
    rows.append(summary("v1-rewrite", n, rewrites, n, times))
    emit("gateway-propagation-v2",
         ["variant", "buckets", "changes", "records_per_change", "p50_ms",
          "p99_ms", "max_ms"], rows)


def summary(variant, n, count, records, times):
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    log("%s, %d buckets naming the cluster: p50 %.3f ms p99 %.3f ms max %.3f ms"
        % (variant, n, p50, p99, times[-1]))
    return [variant, n, count, records, "%.3f" % p50, "%.3f" % p99,
            "%.3f" % times[-1]]


def wait_version(v, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(r'"table_version":(\d+)', fado_status())
        if m and int(m.group(1)) >= v:
            return
        time.sleep(0.02)
    raise SystemExit("bench: gateway did not reach version %d" % v)


def resync(_quick):
    redis = start_redis()
    start_backends()
    n = 1000000
    load_routes(redis, n, route_body)
    rows = []
    for attempt in range(3):
        p = start_fado_nginx()
        st = wait_routes(n)
        ms = int(re.search(r'"last_resync_ms":(\d+)', st).group(1))
        bpr = int(re.search(r'"bytes_per_route":(\d+)', st).group(1))
        used = int(re.search(r'"used":(\d+)', st).group(1))
        log("resync %d routes: %d ms, %d bytes/route" % (n, ms, bpr))
        rows.append([attempt + 1, n, ms, used, bpr])
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=20)
        procs.remove(p)
        time.sleep(0.5)
    emit("gateway-resync", ["attempt", "routes", "resync_ms", "shm_used_bytes",
                            "shm_bytes_per_route"], rows)


def state(_quick):
    """The state file (fado_shm_zone state=) with 1M routes."""
    redis_proc_count = len(procs)
    redis = start_redis()
    redis_proc = procs[redis_proc_count]
    start_backends()
    n = 1000000
    load_routes(redis, n, route_body)
    version = int(redis.call("GET", PREFIX + "version"))
    # workers may run as another user (nobody): they write the file
    sdir = os.path.join(workdir, "state")
    os.makedirs(sdir)
    os.chmod(workdir, 0o711)
    os.chmod(sdir, 0o777)
    path = os.path.join(sdir, "routes.snap")
    p = start_fado_nginx(state=path)
    wait_routes(n)
    deadline = time.time() + 60
    while time.time() < deadline:
        st = fado_status()
        if '"written_version":%d,' % version in st:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("bench: the state file was not written: "
                         + re.search(r'"state_file":\{[^}]*\}', st).group(0))
    write_ms = int(re.search(r'"write_ms":(\d+)', st).group(1))
    size = os.path.getsize(path)
    log("state file: %d bytes (%.1f per route), written in %d ms"
        % (size, size / n, write_ms))
    # Redis goes away, the gateway restarts: its table comes from the file
    os.killpg(redis_proc.pid, signal.SIGKILL)
    redis_proc.wait()
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=30)
    procs.remove(p)
    t0 = time.time()
    p = start_fado_nginx(state=path)
    wait_port(P_STATUS)
    while time.time() < t0 + 60:
        m = re.search(r'"routes":(\d+)', fado_status())
        if m and int(m.group(1)) == n:
            break
        time.sleep(0.01)
    start_s = time.time() - t0
    client = Client(P_FADO)
    body = client.get(bucket_name(12345))
    if not body.startswith(b"b"):
        raise SystemExit("bench: a bucket is not served from the state file: %r" % body)
    log("cold start without Redis: %d routes served after %.2f s" % (n, start_s))
    emit("gateway-state", ["routes", "file_bytes", "bytes_per_route", "write_ms",
                           "cold_start_s"],
         [[n, size, "%.1f" % (size / n), write_ms, "%.2f" % start_s]])


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("overhead", "propagation", "resync",
                                                 "state"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if not os.path.exists(MODULE):
        sys.exit("bench: %s not built: run make" % MODULE)
    quick = "--quick" in sys.argv
    if "--v2" in sys.argv and sys.argv[1] in ("resync", "state"):
        sys.exit("bench: %s has no --v2 variant" % sys.argv[1])
    table = {"overhead": overhead, "propagation": propagation, "resync": resync,
             "state": state}
    if "--v2" in sys.argv:
        table = {"overhead": overhead_v2, "propagation": propagation_v2}
    try:
        table[sys.argv[1]](quick)
    finally:
        stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
