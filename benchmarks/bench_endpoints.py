"""Endpoint cost: memwatch's status against a trivial JSON route, per adapter, under real servers.

Each server runs in its own process on 127.0.0.1 with memwatch mounted (bearer
token) and a heap of --heap objects (benchlib.build_heap), and one route of
its own, /plain, that returns a dict of the status's shape and size (the
status as unstructured at startup) in the framework's own idiom:

- flask-werkzeug: Flask under werkzeug's threaded server;
- flask-gunicorn: Flask under gunicorn, one gthread worker with 4 threads;
- fastapi-uvicorn: FastAPI under uvicorn (h11), an ``async def`` route, as
  memwatch's status route is served inline on the event loop;
- tornado: Tornado's HTTPServer;
- wsgi-gunicorn: a bare WSGI app (``json.dumps`` per request) wrapped in
  ``memwatch.wsgi.MemwatchMiddleware``, gunicorn as flask-gunicorn;
- asgi-uvicorn: a bare ASGI app (``json.dumps`` per request) wrapped in
  ``memwatch.asgi.MemwatchMiddleware``, uvicorn as fastapi-uvicorn;
- django-gunicorn: Django (``JsonResponse``) with ``memwatch_urls`` included,
  gunicorn as flask-gunicorn.

Load comes from httpx in this process, one keep-alive connection, closed loop:

1. status vs /plain: alternating blocks of --block requests (--blocks each);
   p50/p99 latency over all requests of each, throughput per block (median).
   Target: status within 1.2x of /plain.
2. a census during load: two client threads request /plain for --load-seconds;
   in the census runs, POST /ah/memoryProfile and then POST .../end are sent
   a third of the way in. p50/p99/max of the ordinary requests, with and
   without the census (runs interleaved, medians over --census-runs).

Run: python benchmarks/bench_endpoints.py [--servers ...] [--heap 1000000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import threading
import time

import benchlib
import httpx
from benchlib import Table

SERVERS = (
    "flask-werkzeug",
    "flask-gunicorn",
    "fastapi-uvicorn",
    "tornado",
    "wsgi-gunicorn",
    "asgi-uvicorn",
    "django-gunicorn",
)
# Served by gunicorn (one gthread worker, 4 threads) through each one's app factory.
GUNICORN = {
    "flask-gunicorn": "flask_app",
    "wsgi-gunicorn": "wsgi_app",
    "django-gunicorn": "django_app",
}
STATUS = "/ah/memoryProfile/status"

# -- the server side (runs in the server process) --------------------------------------

KEPT = []


def _setup():
    """Build the heap and the /plain body: the status, unstructured to plain dicts once."""
    from memwatch.auth import bearer_token  # noqa: PLC0415 - server process only
    from memwatch.converter import converter  # noqa: PLC0415
    from memwatch.watcher import default_watcher  # noqa: PLC0415

    KEPT.append(benchlib.build_heap(int(os.environ.get("BENCH_HEAP", "0"))))
    body = converter.unstructure(default_watcher().status())
    return bearer_token(os.environ["BENCH_TOKEN"]), body


def flask_app():
    """The Flask app (gunicorn calls this factory)."""
    from flask import Flask  # noqa: PLC0415

    from memwatch_flask import Memwatch  # noqa: PLC0415

    auth, body = _setup()
    app = Flask("bench")

    @app.get("/plain")
    def plain():
        return body

    Memwatch(app, auth=auth)
    return app


def fastapi_app():
    from fastapi import FastAPI  # noqa: PLC0415

    from memwatch_fastapi import memwatch_lifespan, memwatch_router  # noqa: PLC0415

    auth, body = _setup()
    app = FastAPI(lifespan=memwatch_lifespan())

    @app.get("/plain")
    async def plain():
        return body

    app.include_router(memwatch_router(auth=auth))
    return app


def tornado_app():
    from tornado.web import Application, RequestHandler  # noqa: PLC0415

    from memwatch_tornado import memwatch_handlers  # noqa: PLC0415

    auth, body = _setup()

    class Plain(RequestHandler):
        def get(self):
            self.write(body)

    return Application([*memwatch_handlers(auth=auth), (r"/plain", Plain)])


def wsgi_app():
    """A bare WSGI app behind memwatch's WSGI middleware (gunicorn calls this factory)."""
    import json  # noqa: PLC0415

    from memwatch.wsgi import MemwatchMiddleware  # noqa: PLC0415

    auth, body = _setup()

    def plain(environ, start_response):
        if environ["PATH_INFO"] != "/plain":
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        data = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        start_response("200 OK", headers)
        return [data]

    return MemwatchMiddleware(plain, auth=auth)


def asgi_app():
    """A bare ASGI app behind memwatch's ASGI middleware."""
    import json  # noqa: PLC0415

    from memwatch.asgi import MemwatchMiddleware  # noqa: PLC0415

    auth, body = _setup()

    async def plain(scope, _receive, send):
        if scope["type"] != "http":
            return
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return MemwatchMiddleware(plain, auth=auth)


def django_app():
    """A Django project with memwatch_urls included (gunicorn calls this factory)."""
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415
    from django.core.wsgi import get_wsgi_application  # noqa: PLC0415
    from django.http import JsonResponse  # noqa: PLC0415
    from django.urls import include, path  # noqa: PLC0415

    from memwatch_django import memwatch_urls  # noqa: PLC0415

    auth, body = _setup()
    urls = type(sys)("bench_urls")
    urls.urlpatterns = [
        path("plain", lambda _request: JsonResponse(body)),
        path("ah/", include(memwatch_urls(auth=auth))),
    ]
    settings.configure(ALLOWED_HOSTS=["127.0.0.1"], SECRET_KEY="bench", ROOT_URLCONF=urls)  # noqa: S106 - nothing is signed
    django.setup()
    return get_wsgi_application()


def serve(kind, port):
    if kind == "flask-werkzeug":
        from werkzeug.serving import make_server  # noqa: PLC0415

        make_server("127.0.0.1", port, flask_app(), threaded=True).serve_forever()
    elif kind == "fastapi-uvicorn":
        import uvicorn  # noqa: PLC0415

        uvicorn.run(
            fastapi_app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http="h11",
            ws="none",
            access_log=False,
        )
    elif kind == "asgi-uvicorn":
        import uvicorn  # noqa: PLC0415

        uvicorn.run(
            asgi_app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http="h11",
            ws="none",
            access_log=False,
        )
    elif kind == "tornado":
        import asyncio  # noqa: PLC0415

        from tornado.httpserver import HTTPServer  # noqa: PLC0415

        async def main():
            server = HTTPServer(tornado_app())
            server.listen(port, "127.0.0.1")
            await asyncio.Event().wait()

        asyncio.run(main())
    else:
        raise ValueError(kind)


def server_command(kind, port):
    if kind in GUNICORN:
        return [
            benchlib.python(),
            "-m",
            "gunicorn",
            "--chdir",
            str(benchlib.HERE),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "-k",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",
            f"bench_endpoints:{GUNICORN[kind]}()",
        ]
    return [benchlib.python(), __file__, "--serve", kind, "--port", str(port)]


# -- the load side ---------------------------------------------------------------------------


def timed_get(client, path, headers=None):
    start = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return start, elapsed, len(response.content)


def compare_status(base, token, blocks, block):
    """Alternating blocks of /plain and status: latencies and per-block throughputs."""
    auth = {"Authorization": f"Bearer {token}"}
    latencies = {"plain": [], "status": []}
    rates = {"plain": [], "status": []}
    sizes = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(20):  # warm up both routes and the connection
            timed_get(client, "/plain")
            timed_get(client, STATUS, auth)
        for b in range(blocks * 2):
            name = ("plain", "status")[(b + b // 2) % 2]  # ABBA order
            path, headers = ("/plain", None) if name == "plain" else (STATUS, auth)
            start = time.perf_counter()
            for _ in range(block):
                _, elapsed, size = timed_get(client, path, headers)
                latencies[name].append(elapsed)
                sizes[name] = size
            rates[name].append(block / (time.perf_counter() - start))
    return latencies, rates, sizes


def ordinary_load(base, seconds, census_at, token, out):
    """Two threads on /plain for ``seconds``; with ``census_at``, a census pair at that offset."""
    stop = threading.Event()
    results = []

    def load():
        mine = []
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                mine.append(timed_get(client, "/plain"))
        results.extend(mine)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    if census_at is not None:
        time.sleep(census_at)
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=120) as client:
            start = time.perf_counter()
            started = client.post("/ah/memoryProfile", headers=auth)
            started.raise_for_status()
            pid = started.json()["id"]
            ended = client.post(f"/ah/memoryProfile/{pid}/end", headers=auth)
            ended.raise_for_status()
            out["census_seconds"] = time.perf_counter() - start
            out["diff_seconds"] = ended.json()["lastDiff"].get("elapsed_seconds", 0.0)
            client.delete(f"/ah/memoryProfile/{pid}", headers=auth)
        time.sleep(max(0.0, seconds - census_at - out["census_seconds"]))
    else:
        time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return [elapsed for _, elapsed, _ in results]


def measure_server(kind, args, token):
    port = benchlib.free_port()
    env = {"BENCH_TOKEN": token, "BENCH_HEAP": str(args.heap)}
    process = benchlib.spawn(server_command(kind, port), env)
    base = f"http://127.0.0.1:{port}"
    try:
        benchlib.wait_for_http(base + "/plain", process, timeout=120)
        latencies, rates, sizes = compare_status(base, token, args.blocks, args.block)
        runs = {"without": [], "with": []}
        census = []
        for _ in range(args.census_runs):
            for label in ("without", "with"):
                out = {}
                at = args.load_seconds / 3 if label == "with" else None
                runs[label].append(ordinary_load(base, args.load_seconds, at, token, out))
                if out:
                    census.append(out["census_seconds"])
    finally:
        benchlib.stop(process)
    return {"latencies": latencies, "rates": rates, "sizes": sizes, "runs": runs, "census": census}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", nargs="*", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--heap", type=int, default=1_000_000, help="objects in each server")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--census-runs", type=int, default=3)
    parser.add_argument("--load-seconds", type=float, default=6.0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return

    token = secrets.token_urlsafe(24)
    latency = Table(
        "Endpoint cost: memwatch status against a plain JSON route of the same size",
        [
            "server",
            "body bytes",
            "plain p50 ms",
            "status p50 ms",
            "plain p99 ms",
            "status p99 ms",
            "plain req/s",
            "status req/s",
            "status/plain time",
        ],
    )
    census = Table(
        "Endpoint cost: a census (start + end a profile) during load, ordinary requests' latency",
        [
            "server",
            "census s",
            "p50 ms without/with",
            "p99 ms without/with",
            "max ms without/with",
            "requests in run",
        ],
    )
    checks = Table("Endpoint cost: targets", ["target", "measured", "verdict"])
    for kind in args.servers:
        try:
            r = measure_server(kind, args, token)
        except (RuntimeError, httpx.HTTPError) as exc:
            print(f"{kind}: {exc}", file=sys.stderr)
            latency.add(kind, f"failed: {exc}", *["-"] * 7)
            continue
        lat, rates = r["latencies"], r["rates"]
        p = {name: {q: benchlib.percentile(lat[name], q) * 1000 for q in (50, 99)} for name in lat}
        rate = {name: statistics.median(rates[name]) for name in rates}
        slower = rate["plain"] / rate["status"]
        latency.add(
            kind,
            f"{r['sizes']['plain']}/{r['sizes']['status']}",
            p["plain"][50],
            p["status"][50],
            p["plain"][99],
            p["status"][99],
            rate["plain"],
            rate["status"],
            f"{slower:.2f}x",
        )
        checks.add(
            f"{kind}: status within 1.2x of plain (time per request)",
            f"{slower:.2f}x",
            benchlib.verdict(slower <= 1.2),
        )

        def stat(label, q, runs=r["runs"]):
            values = [
                benchlib.percentile(run, q) * 1000 if q < 100 else max(run) * 1000
                for run in runs[label]
            ]
            return statistics.median(values)

        count = statistics.median(len(run) for run in r["runs"]["with"])
        census.add(
            kind,
            statistics.median(r["census"]) if r["census"] else "-",
            f"{stat('without', 50):.2f} / {stat('with', 50):.2f}",
            f"{stat('without', 99):.2f} / {stat('with', 99):.2f}",
            f"{stat('without', 100):.1f} / {stat('with', 100):.1f}",
            int(count),
        )
        print(latency.text().splitlines()[-1], flush=True)
        print(census.text().splitlines()[-1], flush=True)
    latency.notes.append(
        f"One keep-alive connection, closed loop, {args.blocks} blocks of {args.block} requests"
        " per route in ABBA order; latency percentiles over all requests of a route, throughput"
        f" the median over its blocks. Each server process holds ~{args.heap / 1e6:g}M objects."
        " Body bytes: /plain / status."
    )
    census.notes.append(
        f"Two client threads on /plain for {args.load_seconds:g} s; in the census runs a third"
        " client starts and ends a profile a third of the way in (two censuses of the whole"
        f" heap and a diff). {args.census_runs} runs of each, interleaved; medians."
    )
    benchlib.emit([latency, census, checks], args.json)


if __name__ == "__main__":
    main()
