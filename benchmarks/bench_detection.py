"""Detection in a live example service under load: leak onset to leak event, and false events.

Starts examples/flask_app.py (Flask under werkzeug, memwatch behind a bearer
token, the default watcher configured only by MEMWATCH_* variables) once per
scenario, each in its own process and all at the same time:

- ``healthy``: /healthy load only, for --healthy-minutes (default 10); every
  distinct leak event is a false one (target: 0);
- one leaking service per rate (10 KiB/s, 100 KiB/s, 1 MiB/s by default):
  /healthy load throughout; after --warmup seconds the leak starts: /leak is
  requested at the rate that keeps that many bytes a second (the route keeps
  about 120 KiB per request, measured here with tracemalloc). The time from
  the first /leak request to the leak event's timestamp is the latency; a
  scenario gives up after --leak-timeout minutes.

The status is read every 2 s over HTTP, as an operator would. Default
detector settings; --sample-interval sets MEMWATCH_SAMPLE_INTERVAL (the
default 1 s is the watcher's own).

Run: python benchmarks/bench_detection.py [--healthy-minutes 10] [--rates 10240 102400 1048576]
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
import threading
import time
import tracemalloc

import benchlib
import httpx
from benchlib import KIB, MIB, Table

APP = benchlib.ROOT / "examples" / "flask_app.py"
STATUS = "/ah/memoryProfile/status"


def bytes_per_leak_request():
    """What one /leak request keeps, measured by making what it makes under tracemalloc."""
    sys.path.insert(0, str(APP.parent))
    import flask_app  # noqa: PLC0415 - the example itself, for its LeakyThing

    kept = []
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(20):
        kept.extend(flask_app.LeakyThing(len(kept)) for _ in range(100))
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown / 20


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def rate_label(rate):
    return f"{rate / MIB:g} MiB/s" if rate >= MIB else f"{rate / KIB:g} KiB/s"


class Scenario:
    """One service process, its load, and what the status said."""

    def __init__(self, name, leak_rate, per_request, args, token):
        self.name = name
        self.leak_rate = leak_rate
        self.period = per_request / leak_rate if leak_rate else None
        self.args = args
        self.token = token
        self.port = benchlib.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        self.onset = None
        self.leak_requests = 0
        self.healthy_requests = 0
        self.errors = 0
        self.events = {}  # leak timestamp -> reason
        self.first_event_seen = None
        self.heap_at_onset = 0
        self.heap_at_end = 0
        self.process = None
        self.duration = (
            args.healthy_minutes * 60 if leak_rate is None else args.warmup + args.leak_timeout * 60
        )

    def start(self):
        env = {"MEMWATCH_TOKEN": self.token}
        if self.args.sample_interval:
            env["MEMWATCH_SAMPLE_INTERVAL"] = str(self.args.sample_interval)
        self.process = benchlib.spawn([benchlib.python(), str(APP), "--port", str(self.port)], env)
        benchlib.wait_for_http(self.base + "/healthy", self.process)

    def healthy_load(self):
        period = 1 / self.args.background_rps
        with httpx.Client(base_url=self.base, timeout=10) as client:
            next_at = time.monotonic()
            while not self.stop.is_set():
                try:
                    client.get("/healthy").raise_for_status()
                    self.healthy_requests += 1
                except httpx.HTTPError:
                    self.errors += 1
                next_at += period
                self.stop.wait(max(0.0, next_at - time.monotonic()))

    def leak_load(self):
        if self.stop.wait(self.args.warmup):
            return
        with httpx.Client(base_url=self.base, timeout=10) as client:
            self.heap_at_onset = self.read_status(client)["watcher"]["heap_bytes"]
            next_at = time.monotonic()
            while not self.stop.is_set():
                try:
                    client.get("/leak").raise_for_status()
                    if self.onset is None:
                        self.onset = dt.datetime.now(dt.timezone.utc)
                    self.leak_requests += 1
                except httpx.HTTPError:
                    self.errors += 1
                next_at += self.period
                self.stop.wait(max(0.0, next_at - time.monotonic()))

    def read_status(self, client):
        response = client.get(STATUS, headers={"Authorization": f"Bearer {self.token}"})
        response.raise_for_status()
        return response.json()

    def monitor(self, deadline):
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while time.monotonic() < deadline and not self.stop.is_set():
                try:
                    status = self.read_status(client)
                except httpx.HTTPError:
                    self.errors += 1
                else:
                    self.heap_at_end = status["watcher"]["heap_bytes"]
                    leak = status["lastLeak"]
                    if leak["timestamp"] and leak["timestamp"] not in self.events:
                        self.events[leak["timestamp"]] = leak["reason"]
                        if self.first_event_seen is None:
                            self.first_event_seen = dt.datetime.now(dt.timezone.utc)
                        if self.leak_rate is not None and self.onset is not None:
                            break  # a leaking scenario ends at its first event after onset
                self.stop.wait(2.0)
        self.stop.set()

    def run(self):
        try:
            self.start()
            deadline = time.monotonic() + self.duration
            threads = [threading.Thread(target=self.healthy_load, daemon=True)]
            if self.leak_rate is not None:
                threads.append(threading.Thread(target=self.leak_load, daemon=True))
            for thread in threads:
                thread.start()
            self.monitor(deadline)
            for thread in threads:
                thread.join(15)
        finally:
            if self.process is not None:
                benchlib.stop(self.process)

    def latency(self):
        """Seconds from onset to the first leak event after onset, or None."""
        if self.onset is None:
            return None
        after = [parse_time(ts) for ts in self.events if parse_time(ts) >= self.onset]
        return (min(after) - self.onset).total_seconds() if after else None

    def false_before_onset(self):
        if self.onset is None:
            return len(self.events)
        return sum(1 for ts in self.events if parse_time(ts) < self.onset)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthy-minutes", type=float, default=10.0)
    parser.add_argument(
        "--rates", type=float, nargs="*", default=[10 * KIB, 100 * KIB, MIB], help="bytes/s"
    )
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the leak starts")
    parser.add_argument("--leak-timeout", type=float, default=12.0, help="minutes per leak")
    parser.add_argument("--background-rps", type=float, default=20.0, help="/healthy requests/s")
    parser.add_argument("--sample-interval", type=float, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    per_request = bytes_per_leak_request()
    token = secrets.token_urlsafe(24)
    scenarios = []
    if args.healthy_minutes > 0:
        scenarios.append(Scenario("healthy", None, per_request, args, token))
    scenarios += [
        Scenario(f"leak {rate_label(rate)}", rate, per_request, args, token) for rate in args.rates
    ]
    print(f"{len(scenarios)} services at once; /leak keeps {per_request / KIB:.0f} KiB a request")
    threads = [threading.Thread(target=s.run) for s in scenarios]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    interval = args.sample_interval or 1.0
    table = Table(
        "Leak detection in a live Flask service under load",
        [
            "scenario",
            "/leak per s",
            "heap at onset MB",
            "onset to leak event s",
            "false events",
            "requests (healthy/leak)",
            "reason",
        ],
    )
    for s in scenarios:
        latency = s.latency()
        if s.leak_rate is None:
            shown = f"{s.duration / 60:g} min healthy"
            false = len(s.events)
        else:
            shown = (
                f"{latency:.0f}" if latency is not None else f"none in {args.leak_timeout:g} min"
            )
            false = s.false_before_onset()
        reason = next(iter(s.events.values()), "") if s.events else ""
        table.add(
            s.name,
            f"{1 / s.period:.2f}" if s.period else "-",
            (s.heap_at_onset or s.heap_at_end) / 1e6,
            shown,
            false,
            f"{s.healthy_requests}/{s.leak_requests}"
            + (f" ({s.errors} errors)" if s.errors else ""),
            reason,
        )
    healthy = [s for s in scenarios if s.leak_rate is None]
    table.notes += [
        (
            f"Default detector; sample interval {interval:g} s"
            + (" (MEMWATCH_SAMPLE_INTERVAL)" if args.sample_interval else " (the default)")
            + f"; /healthy at {args.background_rps:g} requests/s throughout; the leak starts"
            f" after {args.warmup:g} s of warm-up. All services ran at once, each in its own"
            " process."
        ),
        (
            f"/leak keeps {per_request / KIB:.0f} KiB per request (tracemalloc): the rate is set"
            " by the request rate. Latency: the leak event's timestamp minus the first /leak."
        ),
    ]
    if healthy:
        table.notes.append(
            f"False leak events over {healthy[0].duration / 60:g} healthy minutes: "
            f"{len(healthy[0].events)} (target 0: {benchlib.verdict(not healthy[0].events)})."
        )
    benchlib.emit([table], args.json)


if __name__ == "__main__":
    main()
