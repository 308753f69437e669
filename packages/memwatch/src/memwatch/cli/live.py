"""``memwatch watch``: the heap reading and its baseline, live, with events as they come.

It polls the status every ``interval`` seconds on one kept connection and
redraws one panel (the latest reading, the baseline and a sparkline of each);
a new leak report, a new diff or a change of the answering process is printed
above the panel as a line of its own, so the scrollback is the event log.
Where the service serves ``/memory/samples``, the sparklines start from that
recent window instead of empty. Ctrl-C stops it, and the command exits 0.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from memwatch.cli import render
from memwatch.cli.client import ApiError

if TYPE_CHECKING:
    from rich.console import Console

    from memwatch.cli.client import ApiClient

__all__ = ["Tracker", "watch"]

_KEPT = 120


class Tracker:
    """The readings seen so far and the events not yet printed."""

    def __init__(self) -> None:
        """Start with no readings and nothing seen."""
        self.readings: deque[float] = deque(maxlen=_KEPT)
        self.baselines: deque[float] = deque(maxlen=_KEPT)
        self._leak = ""
        self._diff = ""
        self._pid: Any = None

    def seed(self, samples: dict[str, Any]) -> None:
        """Start the sparklines from a ``/memory/samples`` window."""
        self.readings.extend(samples.get("reading", []))
        self.baselines.extend(samples.get("baseline", []))

    def update(self, status: dict[str, Any]) -> list[RenderableType]:
        """Take one status; return the lines of what happened since the last one."""
        events: list[RenderableType] = []
        pid = (status.get("process") or {}).get("pid")
        if self._pid is not None and pid != self._pid:
            events.append(
                Text(
                    f"now answered by pid {pid} (was {self._pid}): restarted or another worker",
                    style="yellow",
                )
            )
        self._pid = pid
        leak = status.get("lastLeak", {})
        if leak.get("timestamp") and leak["timestamp"] != self._leak:
            events.append(render.leak_line(leak))
            self._leak = leak["timestamp"]
        diff = status.get("lastDiff", {})
        if diff.get("timestamp") and diff["timestamp"] != self._diff:
            details = diff.get("change", {}).get("details") or [{}]
            top, size = details[0].get("what", ""), diff.get("change", {}).get("size", "?")
            line = f"DIFF {diff['timestamp']}: change {size}, top type {top}"
            events.append(Text(line, style="cyan"))
            self._diff = diff["timestamp"]
        if status.get("watcher", {}).get("samples"):
            self.readings.append(status["watcher"].get("heap_bytes", 0))
            self.baselines.append(status.get("lastGC", {}).get("estimated_base", 0))
        return events

    def view(self, status: dict[str, Any], url: str) -> RenderableType:
        """The panel: the latest figures and a sparkline of reading and baseline."""
        label = render.probe_label(str(status.get("watcher", {}).get("probe", "")))
        lines: list[RenderableType] = [render.reading_line(status)]
        if self.readings:
            lines.append(
                Text(f"{label:<28}") + Text(render.sparkline(self.readings), style="green")
            )
            lines.append(
                Text(f"{'heap baseline':<28}")
                + Text(render.sparkline(self.baselines), style="blue")
            )
        pid = (status.get("process") or {}).get("pid", "?")
        return Panel(
            Group(*lines), title=f"memwatch watch {url} (pid {pid})", subtitle="Ctrl-C stops"
        )


def watch(
    client: ApiClient,
    console: Console,
    *,
    interval: float,
    count: int | None = None,
    as_json: bool = False,
) -> None:
    """Poll the status until Ctrl-C (or ``count`` readings); ``as_json``: one status per line."""
    tracker = Tracker()
    try:
        if as_json:
            _watch_json(client, interval, count)
            return
        try:
            tracker.seed(client.get("/memory/samples").body)
        except ApiError as exc:
            if exc.status != 404:  # an older service has no /memory/samples: start empty
                raise
        status = client.get("/memoryProfile/status").body
        with Live(
            tracker.view(status, client.base_url), console=console, auto_refresh=False
        ) as live:
            polls = 0
            while True:
                for event in tracker.update(status):
                    live.console.print(event)
                live.update(tracker.view(status, client.base_url), refresh=True)
                polls += 1
                if count is not None and polls >= count:
                    return
                time.sleep(interval)
                status = client.get("/memoryProfile/status").body
    except KeyboardInterrupt:
        if not as_json:
            console.print("stopped")


def _watch_json(client: ApiClient, interval: float, count: int | None) -> None:
    polls = 0
    while True:
        sys.stdout.write(json.dumps(client.get("/memoryProfile/status").body) + "\n")
        sys.stdout.flush()
        polls += 1
        if count is not None and polls >= count:
            return
        time.sleep(interval)
