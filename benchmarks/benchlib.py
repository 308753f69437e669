"""Shared pieces of the benchmark suite: the heap, timing helpers, tables, machine facts, servers.

Every bench_*.py script imports this module (it sits beside them, and a script's
own folder is first on ``sys.path``). Nothing here is timed on its own.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KIB = 1024
MIB = 1024 * 1024

# -- the heap: a realistic mix --------------------------------------------------------


class Record:
    """An instance with a __dict__ (6 objects, 2 tracked: itself and its list)."""

    def __init__(self, i):
        self.i = i * 1000
        self.name = f"record-{i}"
        self.tags = [f"t{i}", i * 1000]
        self.blob = bytes(16 + i % 48)


class Point:
    """An instance with __slots__ (4 objects, 2 tracked: itself and its list)."""

    __slots__ = ("label", "value", "xs")

    def __init__(self, i):
        self.value = i * 7919
        self.label = str(i)
        self.xs = [i * 3, "x"]


def make_dict(i):
    """A dict holding a list (6 objects, 2 tracked)."""
    return {"id": i * 1000, "v": [i * 3000, f"s{i}"], "w": b"x" * (i % 40)}


def make_tuple(i):
    """A tuple holding a list and an atomic-only dict (6 objects, 2 tracked)."""
    return (i * 5000, f"k{i}", [i], {"a": i * 11})


MAKERS = (Record, Point, make_dict, make_tuple)
OBJECTS_PER_ITEM = 5.5  # 6, 4, 6 and 6 objects


def build_heap(objects):
    """About ``objects`` live objects (about 40% gc-tracked): dicts, lists, instances, str..."""
    return [MAKERS[i % 4](i) for i in range(int(objects / OBJECTS_PER_ITEM))]


# -- timing ---------------------------------------------------------------------------


def median_seconds(run, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_call_ns(function, calls):
    start = time.perf_counter_ns()
    for _ in range(calls):
        function()
    return (time.perf_counter_ns() - start) / calls


def gc_heavy_loop(iterations):
    """Allocate reference cycles so young collections run about every 350 iterations."""
    for _ in range(iterations):
        a = []
        b = [a]
        a.append(b)


def total_collections():
    return sum(stats["collections"] for stats in gc.get_stats())


def percentile(values, q):
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def current_rss():
    """Resident set size in bytes, from /proc/self/statm (0 where there is none)."""
    try:
        pages = Path("/proc/self/statm").read_text(encoding="ascii").split()[1]
        return int(pages) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


# -- tables -----------------------------------------------------------------------------


@dataclass
class Table:
    """A titled table of rows, printed as text and written as Markdown."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells):
        self.rows.append([_cell(c) for c in cells])

    def text(self):
        cells = [self.columns, *self.rows]
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(self.columns))]
        lines = [f"\n== {self.title} =="]
        for n, row in enumerate(cells):
            lines.append(
                "  ".join(
                    str(c).rjust(w) if n and i else str(c).ljust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)

    def markdown(self):
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append(
            "|" + "|".join("---" if i == 0 else "--:" for i in range(len(self.columns))) + "|"
        )
        lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in self.rows)
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines) + "\n"

    def to_json(self):
        return {
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data):
        return cls(data["title"], data["columns"], data["rows"], data["notes"])


def _cell(value):
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return value


def emit(tables, json_path):
    """Print the tables; with a path, also write them as JSON for run_all.py."""
    for table in tables:
        print(table.text(), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps([t.to_json() for t in tables], indent=1))


def verdict(ok):
    return "meets" if ok else "MISSES"


# -- the machine ---------------------------------------------------------------------------


def machine():
    """What the figures were measured on: cores, CPU model, RAM, Python, date, load."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * KIB
    except OSError:
        pass
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": model,
        "ram_gib": round(ram / (1024 * MIB), 1),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# -- servers in subprocesses -----------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(command, env=None, log=None):
    """Start a child process with the repository's environment plus ``env``."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(  # noqa: S603 - our own scripts, loopback servers
        command,
        env=full_env,
        cwd=ROOT,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def wait_for_http(url, process, timeout=30.0):
    """Wait until ``url`` answers (any status); raise if the process dies or time runs out."""
    import httpx  # noqa: PLC0415 - only the HTTP benchmarks need it

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1.0)
        except httpx.HTTPError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(process, timeout=10.0):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def python():
    return sys.executable
