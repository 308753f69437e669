"""Run the nine leak scenarios with memwatch's default settings and print what it found.

For each scenario: start it (``serve.py``), drive ``/work`` at a fixed rate,
wait for memwatch's own leak report and its auto-captured profile, and rank the
culprit in that profile by type (``change.details``), by line
(``change.allocation_sites``) and by root (``change.retention`` paths, then
``change.untracked`` holders). Prints one row per scenario::

    scenario            detected  type  line  root  verdict  leak's preliminary verdict

``u`` in the type column: the culprit is untracked data (str, bytes, numpy
arrays), named among a grown container's untracked types rather than a row.

Run with ``python3 -m nox -s scenarios`` or ``python examples/scenarios/matrix.py``
(minutes: each scenario waits for a real detection; run it alone).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import http.client
import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from serve import SCENARIOS, load  # noqa: E402 - serve.py sits beside this file

NEEDS = {"numpy_arrays": "numpy", "lxml_trees": "lxml"}
# Each scenario's auto-captured profile is written here, to read in full.
OUT = Path(tempfile.gettempdir()) / "memwatch-scenarios"
OUT.mkdir(exist_ok=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(base: str, path: str, timeout: float = 30.0) -> Any:
    with urllib.request.urlopen(base + path, timeout=timeout) as response:  # noqa: S310 - loopback
        body = response.read()
    return json.loads(body) if body[:1] in b"{[" else body


def culprit_lines(name: str) -> list[str]:
    """``name.py:N`` for each line marked ``# culprit`` in the scenario's source."""
    lines = [
        f"{name}.py:{number}"
        for number, text in enumerate((HERE / f"{name}.py").read_text().splitlines(), 1)
        if text.rstrip().endswith("# culprit")
    ]
    if not lines:
        raise SystemExit(f"{name}.py marks no culprit line")
    return lines


def drive(base: str, rate: float, stop: threading.Event) -> None:
    """Request /work about ``rate`` times a second until ``stop`` is set."""
    pause = 1.0 / rate
    while not stop.is_set():
        started = time.perf_counter()
        with contextlib.suppress(OSError, http.client.HTTPException):  # the scenario's, not ours
            get(base, "/work", timeout=10.0)
        stop.wait(max(0.0, pause - (time.perf_counter() - started)))


def rank(items: list[str], *wanted: str) -> str:
    """The 1-based position of the first item that is (or starts a chain at) one of ``wanted``."""
    for position, item in enumerate(items, 1):
        if any(item == one or item.startswith(one + " ") for one in wanted):
            return str(position)
    return "-"


def judge(name: str, profile: dict[str, Any], culprit: dict[str, str]) -> dict[str, str]:
    change = profile.get("lastDiff", {}).get("change", {})
    types = [detail["what"] for detail in change.get("details", [])]
    sites = [
        f"{Path(site['file']).name}:{site['line']}" for site in change.get("allocation_sites", [])
    ]
    roots = [
        path["root"] for entry in change.get("retention", []) for path in entry.get("paths", [])
    ]
    roots += [entry.get("holder", "") for entry in change.get("untracked", [])]
    roots = list(dict.fromkeys(root for root in roots if root))
    untracked_types = [
        what for entry in change.get("untracked", []) for what in entry.get("untracked_types", [])
    ]
    type_rank = rank(types, culprit["type"])
    if type_rank == "-" and culprit["type"] in untracked_types:
        type_rank = "u"  # named among the untracked data of a grown container
    return {
        "type": type_rank,
        "line": rank(sites, *culprit_lines(name)),
        "root": rank(roots, culprit["root"]),
        "verdict": profile.get("verdict", {}).get("layer", "-"),
        "leak": profile.get("lastLeak", {}).get("verdict", {}).get("layer", "") or "-",
    }


def run(name: str, rate: float, timeout: float) -> dict[str, str]:
    """One scenario, start to finish: its row of the matrix."""
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        return {"detected": f"skipped: no {NEEDS[name]}"}
    culprit = load(name).CULPRIT
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own script
        [
            sys.executable,
            str(HERE / "serve.py"),
            name,
            "--port",
            str(port),
            "--max-seconds",
            str(timeout + 60),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop = threading.Event()
    try:
        for _ in range(100):
            try:
                get(base, "/ok", timeout=1.0)
                break
            except OSError:
                time.sleep(0.1)
        started = dt.datetime.now(dt.timezone.utc)
        threads = [threading.Thread(target=drive, args=(base, rate / 2, stop)) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        detected = "-"
        while time.monotonic() < deadline:
            time.sleep(2.0)
            status = get(base, "/ah/memoryProfile/status")
            leak_at = status.get("lastLeak", {}).get("timestamp", "")
            if leak_at and detected == "-":
                moment = dt.datetime.fromisoformat(leak_at.replace("Z", "+00:00"))
                detected = f"{(moment - started).total_seconds():.0f}s"
            profiles = get(base, "/ah/memory?details=true")["memoryProfiles"]
            done = [p for p in profiles if p["trigger"] == "leak" and p["state"] != "running"]
            if done:
                (OUT / f"{name}.json").write_text(json.dumps(done[0], indent=1))
                return {"detected": detected, **judge(name, done[0], culprit)}
        return {
            "detected": detected,
            "type": "-",
            "line": "-",
            "root": "-",
            "verdict": "no profile",
        }
    finally:
        stop.set()
        server.terminate()
        server.wait(10)


def main() -> None:
    """Run the scenarios (``--parallel`` at a time) and print the matrix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--rate", type=float, default=50.0, help="/work requests a second")
    parser.add_argument("--timeout", type=float, default=420.0, help="seconds per scenario")
    parser.add_argument("--parallel", type=int, default=1, help="scenarios run at once")
    args = parser.parse_args()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        rows = list(pool.map(lambda name: run(name, args.rate, args.timeout), args.scenarios))
    print(
        f"{'scenario':20} {'detected':>9} {'type':>5} {'line':>5} {'root':>5}  "
        f"{'verdict':22}  leak's preliminary verdict"
    )
    for name, row in zip(args.scenarios, rows, strict=True):
        print(
            f"{name:20} {row['detected']:>9} {row.get('type', ''):>5} {row.get('line', ''):>5} "
            f"{row.get('root', ''):>5}  {row.get('verdict', ''):22}  {row.get('leak', '')}",
            flush=True,
        )


if __name__ == "__main__":
    main()
