"""A ``detector-plot`` directive: run memwatch's detector on a synthetic series and plot it.

Nothing here is drawn by hand. At build time the directive generates a
deterministic heap series, feeds it sample by sample to
:func:`memwatch.detector.make_detector`, and plots what the detector saw and
where (if anywhere) it reported a leak. The caption states the facts
from that same run, so the page cannot drift from the code::

    ```{detector-plot}
    :mode: trend
    :series: leak
    ```
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import matplotlib as mpl
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

import memwatch.detector
import memwatch.samples
from memwatch.detector import LeakFinding, StatsFinding, make_detector
from memwatch.formatting import format_duration, format_size
from memwatch.samples import Sample

mpl.use("Agg")
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from sphinx.application import Sphinx

MIB = 1024 * 1024


@attrs.frozen
class Scenario:
    """A synthetic heap: what it does, how often it is sampled, for how long."""

    title: str
    base: float  # bytes at t=0
    slope: float  # bytes per second of steady growth
    noise: float  # relative amplitude of uniform noise
    interval: float  # seconds between samples
    duration: float  # seconds
    full_every: int  # every n-th sample follows a full collection
    sawtooth: float = 0.0  # bytes a cache fills to before it is evicted
    sawtooth_period: float = 120.0
    step_at: float | None = None  # one jump of step_size at this time, then flat
    step_size: float = 0.0
    onset: float = 0.0  # the steady growth starts here
    seed: int = 7

    def samples(self) -> list[Sample]:
        """The series, deterministic for a given seed."""
        rng = random.Random(self.seed)  # noqa: S311 - synthetic data, not secrets
        out: list[Sample] = []
        count = int(self.duration / self.interval) + 1
        full = inc = 0
        for i in range(count):
            t = i * self.interval
            heap = self.base + self.slope * max(0.0, t - self.onset)
            if self.sawtooth:
                heap += self.sawtooth * ((t % self.sawtooth_period) / self.sawtooth_period)
            if self.step_at is not None and t >= self.step_at:
                heap += self.step_size
            heap *= 1 + rng.uniform(-self.noise, self.noise)
            is_full = i % self.full_every == 0
            full += is_full
            inc += 10
            out.append(Sample(t, int(heap), is_full, full, inc, full))
        return out


# Trend mode uses every sample (one per sample_interval, 1 s by default);
# memwatch mode only the samples taken right after a full collection.
SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("trend", "leak"): Scenario(
        "A leak of 1 MiB/min on a 40 MiB heap, ±5% noise", 40 * MIB, MIB / 60, 0.05, 1, 1200, 1
    ),
    ("trend", "late"): Scenario(
        "A leak of 1 MiB/min that starts after 20 healthy minutes, 40 MiB heap, ±5% noise",
        40 * MIB,
        MIB / 60,
        0.05,
        1,
        2400,
        1,
        onset=1200,
    ),
    ("trend", "stable"): Scenario(
        "A healthy heap: ±5% noise, a cache that fills and is evicted, one step",
        40 * MIB,
        0,
        0.05,
        1,
        1200,
        1,
        sawtooth=4 * MIB,
        sawtooth_period=150,
        step_at=330,
        step_size=6 * MIB,
    ),
    ("consecutive", "leak"): Scenario(
        "A leak of 1 MiB/min on a 40 MiB heap, ±1% noise, a full collection every 20 s",
        40 * MIB,
        MIB / 60,
        0.01,
        5,
        1200,
        4,
    ),
    ("consecutive", "stable"): Scenario(
        "A healthy heap, ±1% noise, a full collection every 20 s",
        40 * MIB,
        0,
        0.01,
        5,
        1200,
        4,
        seed=3,
    ),
}


@attrs.frozen
class Run:
    """What the detector did with a scenario's samples."""

    samples: list[Sample]
    accepted: list[StatsFinding]
    leaks: list[LeakFinding]


def run(mode: str, scenario: Scenario) -> Run:
    """Feed every sample to a default-configured detector of ``mode``; keep its findings."""
    detector = make_detector(mode)
    samples = scenario.samples()
    stats: list[StatsFinding] = []
    leaks: list[LeakFinding] = []
    for sample in samples:
        for finding in detector.feed(sample):
            if isinstance(finding, StatsFinding):
                stats.append(finding)
            else:
                leaks.append(finding)
    return Run(samples, stats, leaks)


def plot(mode: str, scenario: Scenario, result: Run, path: Path) -> None:
    """Write an SVG of the series, the detector's baseline and its leak findings."""
    mpl.rcParams["svg.hashsalt"] = "memwatch-docs"  # stable ids: reproducible output
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    mins = [s.time / 60 for s in result.samples]
    ax.plot(
        mins,
        [s.heap_bytes / MIB for s in result.samples],
        lw=0.8,
        color="0.6",
        label="probe reading (every sample)",
    )
    ax.plot(
        [e.time / 60 for e in result.accepted],
        [e.estimated_base / MIB for e in result.accepted],
        lw=1.4,
        color="tab:blue",
        label="estimated_base",
    )
    if mode == "consecutive":
        full = [s for s in result.samples if s.full]
        ax.plot(
            [s.time / 60 for s in full],
            [s.heap_bytes / MIB for s in full],
            "o",
            ms=2.5,
            color="tab:green",
            label="full-collection samples (the only ones used)",
        )
    for i, leak in enumerate(result.leaks):
        ax.axvspan(leak.start / 60, leak.end / 60, color="tab:red", alpha=0.08)
        ax.plot(
            [leak.start / 60, leak.end / 60],
            [leak.start_base / MIB, leak.end_base / MIB],
            color="tab:red",
            lw=1.2,
            ls="--",
        )
        ax.axvline(
            leak.time / 60,
            color="tab:red",
            lw=1.2,
            label="leak reported (window shaded)" if i == 0 else None,
        )
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("heap (MiB)")
    ax.set_title(f"{mode} mode: {scenario.title}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def caption(mode: str, scenario: Scenario, result: Run) -> str:
    """One sentence of facts from the run: when the detector fired, and why."""
    used = len(result.accepted)
    head = (
        f"{mode} mode, default settings: {len(result.samples)} samples over "
        f"{format_duration(scenario.duration)}, {used} used by the detector. "
    )
    if not result.leaks:
        return head + "No leak reported."
    first = result.leaks[0]
    tail = "" if len(result.leaks) == 1 else f" ({len(result.leaks)} leaks reported in all)"
    return (
        head + f"First leak reported at {format_duration(first.time)}, growth "
        f"{format_size(first.growth)}: “{first.reason}”{tail}."
    )


class DetectorPlot(SphinxDirective):
    """Run the detector on a named scenario and insert the plot with a factual caption."""

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {
        "mode": lambda arg: directives.choice(arg, ("trend", "consecutive")),
        "series": lambda arg: directives.choice(arg, ("leak", "late", "stable")),
    }

    def run(self) -> list[nodes.Node]:
        """Generate the SVG under ``_generated/`` and return a figure node."""
        mode = self.options.get("mode", "trend")
        series = self.options.get("series", "leak")
        scenario = SCENARIOS[(mode, series)]
        # Rebuild this page whenever the detector or the samples it reads change.
        for module in sorted(Path(memwatch.detector.__file__).parent.glob("*.py")):
            self.env.note_dependency(str(module))
        self.env.note_dependency(memwatch.samples.__file__)
        self.env.note_dependency(__file__)
        result = run(mode, scenario)
        name = f"detector-{mode}-{series}.svg"
        plot(mode, scenario, result, Path(self.env.srcdir) / "_generated" / name)
        figure = nodes.figure()
        figure += nodes.image(uri=f"/_generated/{name}", alt=scenario.title)
        figure += nodes.caption(text=caption(mode, scenario, result))
        return [figure]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directive."""
    app.add_directive("detector-plot", DetectorPlot)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
