#!/usr/bin/env python3
"""Queueing at the gateway against answering at once, under overload.

  bench/queue.py [--quick] [--loads 0.7,1.0,1.5] [--seconds 8] [--rounds 3]

Four endpoints of max_inflight=1 (one "core" each) that take SERVICE_MS per
request sit behind one gateway of two workers. An open-loop client sends
requests at Poisson times at a multiple of the endpoints' capacity
(4 / SERVICE_MS), each on a connection of its own, and records every
answer. Two gateways, measured in alternating rounds on the same endpoints:

  queue   upstream `fado policy=lc queue=1024 timeout=1s`: a saturated
          request waits for a slot (503 after 1 s, or when the queue is full)
  reject  upstream `fado policy=lc`, `fado_no_route_status 429`: a saturated
          request gets 429 at once (the gateway before issue #17)

Per round: goodput (200s per second), the share refused, and p50/p99 of the
served requests' latency. CSV on stdout and in bench/results/, then the
medians over the rounds and the ratios queue/reject.

Every server is started here on 127.0.0.1, ports from BENCH_BASE_PORT
(default 27100; this benchmark uses +40..+49), and stopped at the end.
"""

import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gateway as gw  # noqa: E402  (servers, Redis client, CSV output)

SERVICE_MS = 50
ENDPOINTS = 4
P_QUEUE = gw.BASE + 40
P_REJECT = gw.BASE + 41
P_STATUS_Q = gw.BASE + 42
P_STATUS_R = gw.BASE + 43
P_EPS = [gw.BASE + 44 + i for i in range(ENDPOINTS)]
PREFIX = "benchq:"

BACKEND = r"""
import asyncio, sys
ms = int(sys.argv[1])
async def serve(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(ms / 1000)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        await writer.drain()
    except Exception:
        pass
    writer.close()
async def main():
    for p in sys.argv[2:]:
        await asyncio.start_server(serve, "127.0.0.1", int(p), backlog=1024)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_endpoints():
    gw.spawn("endpoints", [sys.executable, "-c", BACKEND, str(SERVICE_MS)]
             + [str(p) for p in P_EPS])
    for p in P_EPS:
        gw.wait_port(p)


def start_gateway(name, port, status, upstream, extra):
    body = """
    fado_shm_zone fado_benchq_%s 4m;
    fado_redis 127.0.0.1:%d prefix=%s;
    upstream fn { %s }
    server { listen 127.0.0.1:%d reuseport backlog=4096; %s
        location / { fado_bucket $http_x_fado_bucket; proxy_pass http://fn; } }
    server { listen 127.0.0.1:%d;
        location = /fado/status { fado_status; } }
""" % (name, gw.P_REDIS, PREFIX, upstream, port, extra, status)
    d, conf = gw.nginx_conf(name, body, workers=2, load_module=True)
    gw.spawn(name, ["nginx", "-p", d + "/", "-c", conf, "-e", d + "/logs/error.log"])
    gw.wait_port(status)
    gw.wait_routes(1, status=status)


async def one(port, results, t_sched):
    t0 = time.monotonic()
    status = 0
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        w.write(b"GET /fn HTTP/1.0\r\nHost: x\r\nX-Fado-Bucket: photos\r\n\r\n")
        line = await asyncio.wait_for(r.readline(), 10)
        m = re.match(rb"HTTP/1\.\d (\d+)", line)
        status = int(m.group(1)) if m else 0
        await asyncio.wait_for(r.read(), 10)
        w.close()
    except (OSError, asyncio.TimeoutError):
        status = 0
    results.append((status, time.monotonic() - t0, t0 - t_sched))


async def open_loop(port, rate, seconds):
    """Poisson arrivals at `rate` per second for `seconds`."""
    results, tasks = [], []
    start = time.monotonic()
    t = start
    while True:
        t += random.expovariate(rate)
        if t - start >= seconds:
            break
        delay = t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(port, results, t)))
    await asyncio.gather(*tasks)
    return results


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def measure(variant, port, load, seconds):
    rate = load * ENDPOINTS * 1000 / SERVICE_MS
    res = asyncio.run(open_loop(port, rate, seconds))
    served = [lat for st, lat, _ in res if st == 200]
    refused = sum(1 for st, _, _ in res if st in (429, 503))
    other = sum(1 for st, _, _ in res if st not in (200, 429, 503))
    late = pct([lag for _, _, lag in res], 99)
    return [variant, load, round(rate), len(res), len(served),
            round(len(served) / seconds, 1), refused, other,
            round(100.0 * refused / max(1, len(res)), 1),
            round(pct(served, 50) * 1000, 1), round(pct(served, 99) * 1000, 1),
            round(late * 1000, 1)]


def main():
    quick = "--quick" in sys.argv
    args = dict(zip(sys.argv[1::1], sys.argv[2::1]))
    loads = [float(x) for x in args.get("--loads", "0.7,1.0,1.5").split(",")]
    seconds = float(args.get("--seconds", 3 if quick else 8))
    rounds = int(args.get("--rounds", 1 if quick else 3))

    if not os.path.exists(gw.MODULE):
        sys.exit("bench: %s not built: run make" % gw.MODULE)

    try:
        redis = gw.start_redis()
        start_endpoints()
        eps = " ".join("127.0.0.1:%d,c%d,z,1,1" % (p, i) for i, p in enumerate(P_EPS))
        sha = redis.call("SCRIPT", "LOAD", open(gw.PUBLISH_LUA, "rb").read()).decode()
        keys = gw.publish_keys(PREFIX)
        redis.call("EVALSHA", sha, len(keys), *keys, 1000, "set", "photos", "- " + eps)
        start_gateway("queue", P_QUEUE, P_STATUS_Q,
                      "fado policy=lc queue=1024 timeout=1s;", "")
        start_gateway("reject", P_REJECT, P_STATUS_R, "fado policy=lc;",
                      "fado_no_route_status 429;")

        header = ["variant", "load", "offered_rps", "sent", "served", "goodput_rps",
                  "refused", "other", "refused_pct", "served_p50_ms", "served_p99_ms",
                  "client_lag_p99_ms"]
        rows = []
        for rnd in range(rounds):
            for load in loads:
                # alternate which variant goes first, round by round
                order = [("queue", P_QUEUE), ("reject", P_REJECT)]
                if rnd % 2:
                    order.reverse()
                for variant, port in order:
                    row = measure(variant, port, load, seconds)
                    gw.log("round %d: %s" % (rnd + 1, row))
                    rows.append(row)
                    time.sleep(1.2)     # the queue's 1 s timeout drains it
        gw.emit("queue", header, rows)

        summary = []
        for load in loads:
            med = {}
            for variant in ("queue", "reject"):
                sel = [r for r in rows if r[0] == variant and r[1] == load]
                med[variant] = (statistics.median(r[5] for r in sel),
                                statistics.median(r[8] for r in sel),
                                statistics.median(r[10] for r in sel))
            summary.append([load, med["queue"][0], med["reject"][0],
                            round(med["queue"][0] / max(med["reject"][0], 0.1), 2),
                            med["queue"][1], med["reject"][1],
                            med["queue"][2], med["reject"][2],
                            round(med["queue"][2] / max(med["reject"][2], 0.1), 1)])
        gw.emit("queue-summary",
                ["load", "goodput_queue", "goodput_reject", "goodput_ratio",
                 "refused_pct_queue", "refused_pct_reject", "served_p99_ms_queue",
                 "served_p99_ms_reject", "served_p99_ratio"], summary)
        for name, port in (("queue", P_STATUS_Q), ("reject", P_STATUS_R)):
            st = gw.fado_status(port)
            q = re.search(r'"queues":\[(.*)\]', st)
            gw.log("%s gateway: %s" % (name, q.group(1) if q else "no queue"))
    finally:
        gw.stop_all()
        shutil.rmtree(gw.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
