"""memwatch's demo: a Flask service that leaks, found and explained by memwatch.

It starts ``examples/flask_app.py`` under a real server on 127.0.0.1 with
memwatch's default settings (tracemalloc off), drives traffic at its leaking
and its healthy route, and reads memwatch's HTTP API the way an on-call
engineer would: the leak event with its rate, then the profile memwatch
captured on its own, with a tracing window: the leaking class, the line that
allocates it, who holds it, and which layer of memory grows. It stops its
server and finishes within four minutes.

Run it with ``python3 -m nox -s demo`` (it installs the packages first), or
``python examples/demo.py`` where memwatch (with its ``cli`` extra) and
memwatch-flask are installed. It prints with the ``memwatch`` command's own
renderer (:mod:`memwatch.cli.render`), so what it shows is what
``memwatch status`` and ``memwatch show`` show.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from memwatch.cli import render
from memwatch.cli.client import ApiClient

HERE = Path(__file__).resolve().parent
APP = HERE / "flask_app.py"
LEAK_ROUTE_RATE = 10.0  # /leak requests a second: about 1.2 MB/s of LeakyThing objects


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """The service's own routes (stdlib), and its memwatch API through the CLI's client."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.memwatch = ApiClient(base, token=token)

    def get(self, path: str, *, timeout: float = 10.0) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=timeout) as response:  # noqa: S310 - loopback only
            return bytes(response.read())

    def api(self, path: str) -> Any:
        return self.memwatch.get(path).body


class Traffic:
    """Background load: /leak at a steady rate, /healthy as fast as it goes."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.stop = threading.Event()
        self.sent = {"/leak": 0, "/healthy": 0}
        self.errors = 0
        self.threads = [
            threading.Thread(target=self.run, args=("/leak", 1 / LEAK_ROUTE_RATE), daemon=True),
            threading.Thread(target=self.run, args=("/healthy", 0.05), daemon=True),
        ]

    def run(self, path: str, period: float) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                self.client.get(path)
                self.sent[path] += 1
            except (OSError, urllib.error.URLError):
                self.errors += 1
            next_at += period
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> Traffic:  # noqa: PYI034 - Self needs Python 3.11
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def start_server(port: int, token: str, log: Any) -> subprocess.Popen[bytes]:
    # Default settings throughout: no MEMWATCH_* tuning. The auto-captured profile
    # ends at the next leak report (or after 60 s), whichever comes first.
    env = {**os.environ, "MEMWATCH_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    for name in [name for name in env if name.startswith("MEMWATCH_") and name != "MEMWATCH_TOKEN"]:
        del env[name]
    command = [sys.executable, str(APP), "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def wait_until_up(client: Client, server: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            client.get("/healthy", timeout=2)
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
        else:
            return
    raise RuntimeError("the server did not come up in time")


# Piped to a file or CI log, rich would assume 80 columns and cut file names short.
CONSOLE = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)


def print_leak(status: dict[str, Any], elapsed: float) -> None:
    pid = status["process"]["pid"]
    CONSOLE.print(f"\nLEAK reported {elapsed:.0f}s after the service started (pid {pid})")
    CONSOLE.print(Text("  ") + render.leak_line(status["lastLeak"]))


def print_profile(profile: dict[str, Any]) -> None:
    CONSOLE.print("\nAuto-captured profile (trigger: leak):")
    CONSOLE.print(render.profile_view(profile, limit=6))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=240.0, help="give up after this long")
    args = parser.parse_args()

    port, token = free_port(), secrets.token_urlsafe(24)
    client = Client(f"http://127.0.0.1:{port}", token)
    started = time.monotonic()
    deadline = started + args.timeout
    print("memwatch demo: a Flask service that leaks, found and explained by memwatch")
    print(f"  service : {APP.name} on http://127.0.0.1:{port} (werkzeug, default settings)")
    print("  traffic : GET /leak keeps 100 LeakyThing per request; GET /healthy keeps none")
    print("  figures : the heap reading (named by its probe), the detector's baseline of it,")
    print("            and in a diff the Python objects a census counted\n")

    with tempfile.TemporaryFile() as log:
        server = start_server(port, token, log)
        try:
            wait_until_up(client, server, deadline)
            return watch(client, started, deadline)
        except Exception as exc:  # noqa: BLE001 - report, show the server's log, fail
            print(f"\ndemo failed: {exc}", file=sys.stderr)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            return 1
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def watch(client: Client, started: float, deadline: float) -> int:
    leak_seen = False
    with Traffic(client) as traffic:
        next_report = time.monotonic()
        while time.monotonic() < deadline:
            status = client.api("/memoryProfile/status")
            elapsed = time.monotonic() - started
            if time.monotonic() >= next_report and not leak_seen:
                sent = sum(traffic.sent.values())
                row = Text(f"  {elapsed:>4.0f}s  {sent:>6} requests  ")
                CONSOLE.print(row + render.reading_line(status))
                next_report += 5
            if not leak_seen and status["lastLeak"]["timestamp"]:
                leak_seen = True
                print_leak(status, elapsed)
                print("\n  waiting for the auto-captured profile to finish ...")
            if leak_seen:
                profiles = client.api("/memory?details=true")["memoryProfiles"]
                done = [p for p in profiles if p["trigger"] == "leak" and p["state"] != "running"]
                if done:
                    print_profile(done[0])
                    print(f"\nfinished in {time.monotonic() - started:.0f}s; stopping the server")
                    return 0 if done[0]["state"] == "complete" else 1
            time.sleep(1)
    print("\nno leak was reported before the timeout", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
