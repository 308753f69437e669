"""Rich renderables for memwatch's JSON: the one printing code of the CLI and the demo.

Every function takes the JSON the HTTP API serves (plain dicts, as decoded)
and tolerates keys that are absent: a newer or older service, a profile that
failed. Each figure carries its label, because memwatch reads three different
kinds of memory: the probe's reading (process RSS, or traced bytes when
tracemalloc is the probe), the Python objects a census counted (shallow
bytes of gc-tracked objects), and the allocation sites tracemalloc traced.

Allocation sites in libraries, the standard library and memwatch itself are
not shown, only counted: the line to fix is in the application.
"""

from __future__ import annotations

import itertools
import linecache
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memwatch.formatting import format_size

__all__ = [
    "application_sites",
    "diff_view",
    "gc_view",
    "is_application_file",
    "leak_line",
    "probe_label",
    "profile_view",
    "profiles_table",
    "reading_line",
    "retention_view",
    "sparkline",
    "status_view",
]

JSON = Mapping[str, Any]

_PROBE_LABELS = {
    "rss": "process RSS",
    "peak_rss": "peak process RSS",
    "tracemalloc": "traced bytes (tracemalloc)",
    "mallinfo2": "malloc in use (mallinfo2)",
    "cgroup": "cgroup memory",
}
_LIBRARY_DIRS = frozenset({"site-packages", "dist-packages"})
_STDLIB_DIR = re.compile(r"python3\.\d+t?")
_BLOCKS = "▁▂▃▄▅▆▇█"


def probe_label(name: str) -> str:
    """What a probe's reading is, in words: ``"rss"`` is ``"process RSS"``."""
    return _PROBE_LABELS.get(name, f"heap reading ({name})" if name else "heap reading")


def is_application_file(path: str) -> bool:
    """False for the standard library, installed packages and memwatch's own source."""
    if path.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return False
    parts = PurePath(path).parts
    if _LIBRARY_DIRS.intersection(parts):
        return False
    pairs = list(itertools.pairwise(parts))
    if any(a.lower() == "lib" and _STDLIB_DIR.fullmatch(b) for a, b in pairs):
        return False
    return not any(a == "src" and b.startswith("memwatch") for a, b in pairs)


def application_sites(sites: Iterable[JSON]) -> tuple[list[JSON], int]:
    """The sites in application code, and how many others were left out."""
    kept, hidden = [], 0
    for site in sites:
        if is_application_file(str(site.get("file", ""))):
            kept.append(site)
        else:
            hidden += 1
    return kept, hidden


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """The last ``width`` values as a line of block characters, lowest to highest."""
    shown = list(values)[-width:]
    if not shown:
        return ""
    low, high = min(shown), max(shown)
    span = (high - low) or 1.0
    return "".join(_BLOCKS[int((v - low) / span * (len(_BLOCKS) - 1))] for v in shown)


def _size(value: Any) -> str:
    return format_size(int(value)) if isinstance(value, int | float) else "-"


def _signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else f"{value:,}"


def _sampled(status: JSON) -> bool:
    return bool(status.get("watcher", {}).get("samples", 0))


def reading_line(status: JSON) -> Text:
    """One line: the probe's reading, the baseline, the trend and the last event."""
    watcher, last_gc = status.get("watcher", {}), status.get("lastGC", {})
    label = probe_label(str(watcher.get("probe", "")))
    if not _sampled(status):
        return Text(f"{label}: no sample yet", style="dim")
    line = Text()
    line.append(f"{label} ").append(_size(watcher.get("heap_bytes")), style="bold")
    if last_gc.get("timestamp"):
        line.append("  baseline ").append(_size(last_gc.get("estimated_base")), style="bold")
        line.append(f"  trend {last_gc.get('usage_trend', 0):+.1f}%")
    else:  # no stats event yet: a baseline of "0 bytes" would read as a measurement
        line.append("  baseline ").append("not estimated yet", style="dim")
    event = status.get("lastEvent") or "none yet"
    line.append("  last event ").append(event, style="red bold" if event == "leak" else "")
    return line


def leak_line(leak: JSON) -> Text:
    """A reported leak in one line; a dim "none reported" when there was none."""
    if not leak.get("timestamp"):
        return Text("none reported", style="dim")
    text = Text("LEAK ", style="bold red")
    text.append(str(leak.get("reason", "")))
    text.append(f"\n  reported {_short_time(leak['timestamp'])} UTC", style="dim")
    verdict = leak.get("verdict")
    judged = verdict.get("text") if isinstance(verdict, Mapping) else None
    if judged:  # from the probes alone, before any census: the text says "preliminary"
        text.append(f"\n  {judged}")
    return text


def _add(table: Table, *cells: str | Text) -> None:
    """Add a row whose strings are plain text: a type name like ``list[int]`` is not markup."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))


def _titled(title: str, table: Table, note: str = "") -> Group:
    parts: list[RenderableType] = [Text(title, style="bold"), table]
    if note:
        parts.append(Text(note, style="dim"))
    return Group(*parts)


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    return grid


def status_view(status: JSON) -> RenderableType:
    """A labelled summary of ``GET /memoryProfile/status``."""
    process, watcher = status.get("process") or {}, status.get("watcher", {})
    last_gc, diff = status.get("lastGC", {}), status.get("lastDiff", {})
    grid = _grid()
    tracing = ", tracemalloc tracing" if process.get("tracemalloc_tracing") else ""
    _add(
        grid,
        "process",
        f"pid {process.get('pid', '?')}, Python {process.get('python_version', '?')}{tracing}",
    )
    label = probe_label(str(watcher.get("probe", "")))
    if _sampled(status):
        _add(grid, f"{label} now", _size(watcher.get("heap_bytes")))
        trend = f" (trend {last_gc.get('usage_trend', 0):+.1f}%)"
        _add(grid, "heap baseline", _size(last_gc.get("estimated_base")) + trend)
    else:
        _add(grid, label, Text("no sample yet", style="dim"))
    memory = status.get("memory") or {}
    if memory.get("limit_bytes"):
        headroom = memory.get("headroom_bytes")
        extra = f", headroom {_size(headroom)}" if headroom is not None else ""
        _add(
            grid,
            "memory limit",
            f"{_size(memory['limit_bytes'])} ({memory.get('limit_source', '?')}{extra})",
        )
    _add(
        grid,
        "collections",
        f"{last_gc.get('num_full_gc', 0):,} full, {last_gc.get('num_inc_gc', 0):,} young",
    )
    _add(grid, "last event", status.get("lastEvent") or Text("none yet", style="dim"))
    _add(grid, "leak", leak_line(status.get("lastLeak", {})))
    if diff.get("timestamp"):
        after = diff.get("after", {})
        counted = f"{after.get('nodes', 0):,} Python objects counted ({after.get('size', '?')})"
        _add(
            grid,
            "last diff",
            f"{diff['timestamp']}: {counted}, change {diff.get('change', {}).get('size', '?')}",
        )
    else:
        _add(grid, "last diff", Text("none yet", style="dim"))
    errors = watcher.get("errors", 0)
    running = "running" if watcher.get("running") else "stopped"
    note = f", {errors} errors (latest: {watcher.get('last_error', '')})" if errors else ""
    mode, interval = watcher.get("mode", "?"), watcher.get("sample_interval", "?")
    _add(grid, "watcher", f"{running}, {mode} mode, sample every {interval}s{note}")
    return grid


def _types_table(details: Sequence[JSON], limit: int) -> Group:
    table = Table(box=None)
    table.add_column("type", no_wrap=True)
    table.add_column("+", justify="right", style="green")
    table.add_column("-", justify="right", style="red")
    table.add_column("size", justify="right")
    for detail in details[:limit]:
        _add(
            table,
            str(detail.get("what", "?")),
            f"{detail.get('+', 0):,}",
            f"{detail.get('-', 0):,}",
            str(detail.get("size", _size(detail.get("size_bytes")))),
        )
    return _titled("types (Python objects counted)", table)


def _sites_table(sites: Sequence[JSON], hidden: int, limit: int) -> Group:
    lines = "1 line" if hidden == 1 else f"{hidden} lines"
    note = f"{lines} in libraries or memwatch not shown" if hidden else ""
    table = Table(box=None)
    table.add_column("line", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("blocks", justify="right", no_wrap=True)
    # The code is cut, never the line, size or count beside it.
    table.add_column("code", overflow="ellipsis", no_wrap=True, max_width=64)
    for site in sites[:limit]:
        file, line = str(site.get("file", "?")), int(site.get("line", 0))
        code = linecache.getline(file, line).strip() if line else ""
        if site.get("library"):
            code = f"{code}   (in {site['library']})"
        size = str(site.get("size", _size(site.get("size_bytes"))))
        _add(table, f"{PurePath(file).name}:{line}", size, _signed(int(site.get("count", 0))), code)
    return _titled("lines holding the growth (allocation sites, tracemalloc)", table, note)


def _path_line(path: Mapping[str, Any]) -> str:
    """``app.SESSIONS [item]``: the root, then each edge, as the retention search names them."""
    return " ".join([str(path.get("root", "?")), *map(str, path.get("edges", ()))])


def retention_view(retention: Any, limit: int = 5) -> Group | None:
    """Who keeps the new objects alive (retention paths), when the diff has them."""
    entries = [e for e in (retention or ()) if isinstance(e, Mapping)]
    if not entries:
        return None
    table = Table(box=None)
    table.add_column("type", no_wrap=True)
    table.add_column("share", justify="right")
    table.add_column("path from a root")
    for entry in entries[:limit]:
        for path in list(entry.get("paths", ()))[:2]:
            share = path.get("share")
            shown = f"{share:.0%}" if isinstance(share, int | float) else ""
            _add(table, str(entry.get("what", "")), shown, _path_line(path))
    return _titled("who holds the new objects (retention paths, sampled)", table)


def _untracked_lines(untracked: Any) -> list[RenderableType]:
    lines: list[RenderableType] = []
    for grown in [g for g in (untracked or ()) if isinstance(g, Mapping)][:3]:
        holder = grown.get("holder") or grown.get("what", "?")
        kinds = ", ".join(grown.get("untracked_types", ()))
        gained = (
            f"+{grown.get('size', '?')} of {kinds}"
            if kinds
            else "all gc-tracked (counted in the types above)"
        )
        lines.append(
            Text(
                f"grown container: {holder} ({grown.get('what', '?')}): "
                f"+{grown.get('items', 0):,} items, {gained}"
            )
        )
    return lines


def diff_view(diff: JSON, limit: int = 10) -> RenderableType:
    """A heap diff: totals, the types that changed, the lines and paths behind them."""
    before, after = diff.get("before", {}), diff.get("after", {})
    change = diff.get("change", {})
    summary = Text()
    summary.append("Python objects counted: ", style="bold")
    summary.append(f"{before.get('nodes', 0):,} ({before.get('size', '?')}) → ")
    summary.append(f"{after.get('nodes', 0):,} ({after.get('size', '?')}), ")
    summary.append(f"change {change.get('size', '?')}: ", style="bold")
    summary.append(
        f"{change.get('allocated_nodes', 0):,} allocated, {change.get('freed_nodes', 0):,} freed"
    )
    if diff.get("partial"):
        summary.append("  (partial: the census ran out of its time budget)", style="yellow")
    parts: list[RenderableType] = [summary, _types_table(change.get("details", []), limit)]
    sites, hidden = application_sites(change.get("allocation_sites", change.get("sites", [])))
    if sites or hidden:
        parts.append(_sites_table(sites, hidden, limit))
    retention = retention_view(change.get("retention"))
    if retention is not None:
        parts.append(retention)
    parts += _untracked_lines(change.get("untracked"))
    return Group(*parts)


def _period(profile: JSON) -> str:
    started, ended = _short_time(profile.get("started")), _short_time(profile.get("ended"))
    if ended[:10] == started[:10]:
        ended = ended[11:]
    return f"{started or '?'} .. {ended or '…'} UTC"


def profile_view(profile: JSON, limit: int = 10) -> RenderableType:
    """One profile: who, when, its state, and its diff once complete."""
    head = Text()
    head.append(f"profile {profile.get('id', '?')}", style="bold")
    state, trigger = profile.get("state", "?"), profile.get("trigger", "?")
    head.append(f"  {state}, trigger {trigger}, pid {profile.get('pid', '?')}, {_period(profile)}")
    parts: list[RenderableType] = [head]
    if profile.get("error"):
        parts.append(Text(f"failed: {profile['error']}", style="red"))
    if profile.get("state") == "complete":
        parts.append(diff_view(profile.get("lastDiff", {}), limit))
    verdict = (profile.get("verdict") or {}).get("text")
    if verdict:
        parts.append(Text(f"verdict: {verdict}", style="bold"))
    return Group(*parts)


def _short_time(timestamp: Any) -> str:
    """``2026-12-01T13:23:20.052939Z`` as ``2026-12-01 13:23:20`` (UTC): tables stay narrow."""
    return str(timestamp or "")[:19].replace("T", " ")


def profiles_table(profiles: Iterable[JSON]) -> Table:
    """The stored profiles, one row each, with the type that grew most (times in UTC)."""
    table = Table(box=None)
    for name in ("id", "state", "trigger", "pid"):
        table.add_column(name, no_wrap=True, min_width=len(name))
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("ended (UTC)", no_wrap=True)
    table.add_column("change", justify="right", no_wrap=True)
    table.add_column("top type", overflow="fold")
    for profile in profiles:
        change = profile.get("lastDiff", {}).get("change", {})
        details = change.get("details") or [{}]
        done = profile.get("state") == "complete"
        _add(
            table,
            str(profile.get("id", "?")),
            str(profile.get("state", "?")),
            str(profile.get("trigger", "?")),
            str(profile.get("pid", "?")),
            _short_time(profile.get("started")),
            _short_time(profile.get("ended")),
            str(change.get("size", "")) if done else "",
            str(details[0].get("what", "")) if done else "",
        )
    return table


def gc_view(result: JSON) -> Text:
    """The answer of a forced collection, in one line."""
    last_gc = result.get("lastGC", {})
    text = Text(
        f"full collection forced: {result.get('collected', 0):,} unreachable objects collected"
    )
    text.append(f"; heap baseline {_size(last_gc.get('estimated_base'))}")
    text.append(f", reading {_size(last_gc.get('current_base'))}")
    return text
