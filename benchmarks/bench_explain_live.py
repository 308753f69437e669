"""Explaining a leak in a live service: what the app's own requests see, same run.

Each server runs in its own process on 127.0.0.1 with memwatch mounted
(loopback only), a heap of --heap objects (benchlib.build_heap) and two routes
of its own: /plain (a small JSON body, no allocation to speak of) and /leak
(bench_explain.leak: five kinds of leaked objects, --leak of each per call).
Load comes from httpx in this process, two closed-loop keep-alive clients.

1. Retention paths off the loop (FastAPI under uvicorn, Tornado): /plain's
   latency for --seconds with nothing else running (the baseline), then for
   as long again while a profile runs: POST /ah/memoryProfile, 20 calls of
   /leak, POST .../end (the closing census, the diff, retention paths for its
   top 5 types x 20 samples, the grown containers). p50/p99/max of /plain over
   the requests that overlap the end call, against the baseline.
   Target (issue 10): p99 under 150 ms.
2. The tracing window's cost (Flask under werkzeug, threaded): /work (a
   request that builds and serializes 50 small dicts) throughput outside a
   window, inside one (POST /ah/memoryProfile?trace=true, tracemalloc on with
   10 frames), after the window closed (past MEMWATCH_TRACE_SECONDS, the
   profile still running), alternating, --seconds each, twice; and
   the same service started with PYTHONTRACEMALLOC=1 (tracemalloc from start,
   one frame, what users do today).

Run: python benchmarks/bench_explain_live.py [--heap 1000000] [--seconds 6]
(about 2 minutes on two shared cores).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import threading
import time

import benchlib
import httpx
from benchlib import Table, emit, verdict

from memwatch.tracing import DEFAULT_FRAMES

LATENCY_SERVERS = ("fastapi-uvicorn", "tornado")
KEPT = []
_calls = itertools.count()

# -- the server side (runs in the server process) --------------------------------------


def _setup():
    from bench_explain import leak  # noqa: PLC0415 - the leaking kinds bench_explain times

    from memwatch.auth import loopback_only  # noqa: PLC0415 - server process only

    KEPT.append(benchlib.build_heap(int(os.environ.get("BENCH_HEAP", "0"))))
    per_call = int(os.environ.get("BENCH_LEAK", "100"))

    def leak_once():
        leak(per_call, offset=next(_calls) * per_call)
        return {"leaked": per_call}

    return loopback_only(), leak_once


def _work():
    return json.dumps([{"id": i, "name": f"item-{i}", "tags": [i, i * 2]} for i in range(50)])


def fastapi_app():
    from fastapi import FastAPI  # noqa: PLC0415

    from memwatch_fastapi import memwatch_lifespan, memwatch_router  # noqa: PLC0415

    auth, leak_once = _setup()
    app = FastAPI(lifespan=memwatch_lifespan())

    @app.get("/plain")
    async def plain():
        return {"ok": True}

    @app.get("/leak")
    async def leak_route():
        return leak_once()

    app.include_router(memwatch_router(auth=auth))
    return app


def tornado_app():
    from tornado.web import Application, RequestHandler  # noqa: PLC0415

    from memwatch_tornado import memwatch_handlers  # noqa: PLC0415

    auth, leak_once = _setup()

    class Plain(RequestHandler):
        def get(self):
            self.write({"ok": True})

    class Leak(RequestHandler):
        def get(self):
            self.write(leak_once())

    return Application([*memwatch_handlers(auth=auth), (r"/plain", Plain), (r"/leak", Leak)])


def flask_app():
    from flask import Flask  # noqa: PLC0415

    from memwatch_flask import Memwatch  # noqa: PLC0415

    auth, _ = _setup()
    app = Flask("bench")

    @app.get("/work")
    def work():
        return _work()

    Memwatch(app, auth=auth)
    return app


def serve(kind, port):
    if kind == "fastapi-uvicorn":
        import uvicorn  # noqa: PLC0415

        uvicorn.run(
            fastapi_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    elif kind == "tornado":
        import asyncio  # noqa: PLC0415

        from tornado.httpserver import HTTPServer  # noqa: PLC0415

        async def main():
            HTTPServer(tornado_app()).listen(port, "127.0.0.1")
            await asyncio.Event().wait()

        asyncio.run(main())
    elif kind == "flask":
        from werkzeug.serving import make_server  # noqa: PLC0415

        make_server("127.0.0.1", port, flask_app(), threaded=True).serve_forever()
    else:
        raise ValueError(kind)


# -- the load side ---------------------------------------------------------------------------


class Load:
    """Two closed-loop clients on ``path`` until stopped: (start, seconds) per request."""

    def __init__(self, base, path):
        self._stop = threading.Event()
        self.results = []
        self._threads = [threading.Thread(target=self._run, args=(base, path)) for _ in range(2)]

    def _run(self, base, path):
        mine = []
        with httpx.Client(base_url=base, timeout=60) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                client.get(path).raise_for_status()
                mine.append((start, time.perf_counter() - start))
        self.results.extend(mine)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def ms(values, q):
    return benchlib.percentile(values, q) * 1000 if values else float("nan")


def start_server(kind, args, env=None):
    port = benchlib.free_port()
    command = [benchlib.python(), __file__, "--serve", kind, "--port", str(port)]
    full = {"BENCH_HEAP": str(args.heap), "BENCH_LEAK": str(args.leak), **(env or {})}
    process = benchlib.spawn(command, full)
    base = f"http://127.0.0.1:{port}"
    benchlib.wait_for_http(base + "/ah/memoryProfile/status", process, timeout=180)
    return process, base


def paths_latency(kind, args):
    """/plain's latencies alone, and while a profile's end computes retention paths."""
    process, base = start_server(kind, args)
    try:
        with Load(base, "/plain") as warm:
            time.sleep(1.0)
        with Load(base, "/plain") as alone:
            time.sleep(args.seconds)
        with httpx.Client(base_url=base, timeout=180) as client, Load(base, "/plain") as during:
            time.sleep(0.5)
            profile = client.post("/ah/memoryProfile").json()["id"]
            for _ in range(20):
                client.get("/leak").raise_for_status()
            began = time.perf_counter()
            ended = client.post(f"/ah/memoryProfile/{profile}/end").json()
            finished = time.perf_counter()
            time.sleep(0.5)
    finally:
        benchlib.stop(process)
    overlapping = [s for start, s in during.results if start < finished and start + s > began]
    retention = ended["lastDiff"]["change"]["retention"]
    return {
        "alone": [s for _, s in alone.results],
        "during": overlapping,
        "end_seconds": finished - began,
        "census_seconds": ended["lastDiff"]["elapsed_seconds"],
        "types": len(retention),
        "warm": len(warm.results),
    }


def throughput(base, seconds, path="/work"):
    with Load(base, path) as load:
        time.sleep(seconds)
    return len(load.results) / seconds


def window_throughput(args):
    """/work's throughput outside and inside tracing windows, and traced from start."""
    rates = {"outside": [], "inside": [], "after": [], "from start": []}
    # The window closes after trace_seconds while its profile goes on: past it, the
    # service should run as fast as outside a window.
    trace_seconds = args.seconds + 2
    process, base = start_server("flask", args, {"MEMWATCH_TRACE_SECONDS": str(trace_seconds)})
    try:
        throughput(base, 1.0)  # warm up
        with httpx.Client(base_url=base, timeout=180) as client:
            for _ in range(2):
                rates["outside"].append(throughput(base, args.seconds))
                opened = time.monotonic()
                profile = client.post("/ah/memoryProfile?trace=true").json()["id"]
                rates["inside"].append(throughput(base, args.seconds))
                time.sleep(max(0.0, opened + trace_seconds + 1.5 - time.monotonic()))
                rates["after"].append(throughput(base, args.seconds))
                client.post(f"/ah/memoryProfile/{profile}/end")
                client.delete(f"/ah/memoryProfile/{profile}")
    finally:
        benchlib.stop(process)
    process, base = start_server("flask", args, {"PYTHONTRACEMALLOC": "1"})
    try:
        throughput(base, 1.0)
        for _ in range(2):
            rates["from start"].append(throughput(base, args.seconds))
    finally:
        benchlib.stop(process)
    return {name: statistics.median(values) for name, values in rates.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--heap", type=int, default=1_000_000)
    parser.add_argument("--leak", type=int, default=100, help="objects of each kind per /leak")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--servers", nargs="*", default=list(LATENCY_SERVERS))
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    paths = Table(
        f"/plain latency while a profile's end computes retention paths, heap {args.heap:,} "
        f"objects, Python {sys.version.split()[0]}",
        ["server", "alone p50/p99 ms", "during end p50/p99/max ms", "end s", "target", "verdict"],
    )
    for kind in args.servers:
        r = paths_latency(kind, args)
        p99 = ms(r["during"], 99)
        paths.add(
            kind,
            f"{ms(r['alone'], 50):.1f} / {ms(r['alone'], 99):.1f}",
            f"{ms(r['during'], 50):.1f} / {p99:.1f} / {ms(r['during'], 100):.1f}",
            f"{r['end_seconds']:.2f}",
            "p99 < 150 ms",
            verdict(p99 < 150),
        )
        paths.notes.append(
            f"{kind}: {len(r['during'])} requests overlapped the end call; closing census "
            f"{r['census_seconds']:.2f} s; retention paths for {r['types']} types"
        )
    rates = window_throughput(args)
    window = Table(
        f"Flask (werkzeug, threaded) /work throughput, heap {args.heap:,} objects",
        ["condition", "requests/s", "x outside"],
    )
    for name, label in (
        ("outside", "outside a window (tracemalloc off)"),
        ("inside", f"inside a tracing window ({DEFAULT_FRAMES} frames)"),
        ("after", "same profile, after its window closed"),
        ("from start", "PYTHONTRACEMALLOC=1 from start"),
    ):
        window.add(label, f"{rates[name]:.0f}", f"{rates[name] / rates['outside']:.2f}")
    emit([paths, window], args.json)


if __name__ == "__main__":
    main()
