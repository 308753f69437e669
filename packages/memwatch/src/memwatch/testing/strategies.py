"""Heap-sample series for the detector's tests and benchmarks, and Hypothesis strategies over them.

The plain functions build a series from a seeded :class:`random.Random`, so a
benchmark can draw thousands and a Hypothesis strategy can pick the parameters
(and the seed) and shrink them. Noise is uniform within ``±noise`` of the base.
:func:`feed_all` and :func:`leak_findings` run a series through a detector.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from memwatch.detector import LeakFinding
from memwatch.samples import Sample

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from memwatch.detector import Detector, Finding

MB = 1_000_000
MIB = 1024 * 1024
#: The watcher's default sample interval, in seconds.
INTERVAL = 1.0
TEN_MINUTES = 600.0

Series = list[Sample]


def to_samples(heaps: list[float], interval: float = INTERVAL, *, full: bool = False) -> Series:
    """One sample per ``interval`` seconds from time 0, with cumulative collection counts."""
    return [
        Sample(
            time=i * interval,
            heap_bytes=max(0, round(heap)),
            full=full,
            num_full_gc=i if full else 0,
            num_inc_gc=0 if full else 10 * i,
            heap_compactions=i if full else 0,
        )
        for i, heap in enumerate(heaps)
    ]


def feed_all(detector: Detector, samples: Iterable[Sample]) -> list[Finding]:
    """Every finding ``detector`` returns for ``samples``, in order."""
    return [finding for sample in samples for finding in detector.feed(sample)]


def leak_findings(findings: Iterable[Finding]) -> list[LeakFinding]:
    """The leak findings among ``findings``."""
    return [finding for finding in findings if isinstance(finding, LeakFinding)]


def _times(duration: float, interval: float) -> list[float]:
    return [i * interval for i in range(int(duration // interval) + 1)]


def _noisy(rng: random.Random, base: float, noise: float) -> float:
    return rng.uniform(-noise, noise) * base


def linear_leak(
    seed: int,
    base: float,
    *,
    rate: float,
    noise: float = 0.05,
    duration: float = 1200.0,
    interval: float = INTERVAL,
    onset: float = 0.0,
) -> Series:
    """A heap of ``base`` bytes growing ``rate`` bytes a second from ``onset``, plus noise."""
    rng = random.Random(seed)
    times = _times(duration, interval)
    return to_samples(
        [base + rate * max(0.0, t - onset) + _noisy(rng, base, noise) for t in times], interval
    )


def stationary(
    seed: int,
    base: float,
    noise: float = 0.05,
    duration: float = TEN_MINUTES,
    interval: float = INTERVAL,
) -> Series:
    """Bounded noise around a constant."""
    rng = random.Random(seed)
    heaps = [base + _noisy(rng, base, noise) for _ in _times(duration, interval)]
    return to_samples(heaps, interval)


def sawtooth(
    seed: int,
    base: float,
    *,
    period: float,
    amplitude: float,
    noise: float = 0.05,
    duration: float = TEN_MINUTES,
    interval: float = INTERVAL,
) -> Series:
    """Fill and evict: ``amplitude`` (a share of ``base``) gained each ``period``, then dropped."""
    rng = random.Random(seed)
    phase = rng.uniform(0, period)
    return to_samples(
        [
            base + amplitude * base * (((t + phase) % period) / period) + _noisy(rng, base, noise)
            for t in _times(duration, interval)
        ],
        interval,
    )


def step(
    seed: int,
    base: float,
    *,
    at: float,
    height: float,
    ramp: float = 0.0,
    noise: float = 0.05,
    duration: float = TEN_MINUTES,
    interval: float = INTERVAL,
) -> Series:
    """A cache filling once: ``height`` (of ``base``) over ``ramp`` s from ``at``, then flat."""
    rng = random.Random(seed)

    def filled(t: float) -> float:
        if ramp <= 0:
            return 1.0 if t >= at else 0.0
        return min(1.0, max(0.0, (t - at) / ramp))

    return to_samples(
        [
            base + height * base * filled(t) + _noisy(rng, base, noise)
            for t in _times(duration, interval)
        ],
        interval,
    )


def churn(
    seed: int,
    base: float,
    *,
    noise: float = 0.05,
    burst_chance: float = 0.1,
    burst: float = 0.2,
    duration: float = TEN_MINUTES,
    interval: float = INTERVAL,
) -> Series:
    """Allocation churn: noise plus requests that briefly hold up to ``burst`` of the base."""
    rng = random.Random(seed)
    heaps = []
    for _ in _times(duration, interval):
        spike = rng.uniform(0, burst) * base if rng.random() < burst_chance else 0.0
        heaps.append(base + spike + _noisy(rng, base, noise))
    return to_samples(heaps, interval)


# The stable families with their parameter ranges, shared by the benchmark and the tests.
# Sawtooth cycles are 10-60 s; a cache fill of 5-60% of the heap completes within 10 s
# (two samples), at any time ("step") or in the first 200 s ("early step"), where the
# trend detector's window is still short and its floors least certain.
def random_stable(kind: str, rng: random.Random, interval: float = INTERVAL) -> Series:
    """One stable series of family ``kind`` with parameters drawn from ``rng``."""
    seed = rng.getrandbits(32)
    base = rng.uniform(30, 300) * MB
    makers: dict[str, Callable[[], Series]] = {
        "stationary": lambda: stationary(seed, base, interval=interval),
        "sawtooth": lambda: sawtooth(
            seed,
            base,
            period=rng.uniform(10, 60),
            amplitude=rng.uniform(0.02, 0.25),
            interval=interval,
        ),
        "step": lambda: step(
            seed,
            base,
            at=rng.uniform(0, TEN_MINUTES),
            height=rng.uniform(0.05, 0.6),
            ramp=rng.uniform(0, 10),
            interval=interval,
        ),
        "early step": lambda: step(
            seed,
            base,
            at=rng.uniform(0, 200),
            height=rng.uniform(0.05, 0.6),
            ramp=rng.uniform(0, 10),
            interval=interval,
        ),
        "churn": lambda: churn(seed, base, interval=interval),
    }
    return makers[kind]()


STABLE_KINDS = ("stationary", "sawtooth", "step", "early step", "churn")

seeds = st.integers(min_value=0, max_value=2**32 - 1)
bases = st.floats(min_value=30 * MB, max_value=300 * MB)
#: Sample intervals the detector must judge alike (its time constants are seconds).
intervals = st.sampled_from([1.0, 2.0, 5.0])


def leaks(min_rate: float, max_rate: float = 1 * MB) -> st.SearchStrategy[Series]:
    """Linear growth of ``min_rate``..``max_rate`` bytes a second on a 30-60 MB heap, ±5% noise."""
    return st.builds(
        linear_leak,
        seed=seeds,
        base=st.floats(min_value=30 * MB, max_value=60 * MB),
        rate=st.floats(min_value=min_rate, max_value=max_rate),
        interval=intervals,
    )


def strong_leaks(min_share: float, duration: float) -> st.SearchStrategy[Series]:
    """Growth of at least ``min_share`` of a 25-300 MB heap per second, ±5% noise, from start."""
    return st.builds(
        lambda seed, base, share, interval: linear_leak(
            seed, base, rate=share * base, duration=duration, interval=interval
        ),
        seeds,
        st.floats(min_value=25 * MB, max_value=300 * MB),
        st.floats(min_value=min_share, max_value=10 * min_share),
        intervals,
    )


LATE_LEAK_HORIZON = 600.0
"""Seconds after its onset within which a late leak must be found (see late_leaks)."""


def late_leaks(min_rate: float, max_rate: float = 1 * MB) -> st.SearchStrategy[Series]:
    """Like :func:`leaks`, but the heap stays flat for 15 minutes to 2 hours first.

    Sampled every 2 or 5 s: two hours at 1 s would make each example slow.
    """
    return st.integers(min_value=900, max_value=7200).flatmap(
        lambda onset: st.builds(
            linear_leak,
            seed=seeds,
            base=st.floats(min_value=30 * MB, max_value=60 * MB),
            rate=st.floats(min_value=min_rate, max_value=max_rate),
            onset=st.just(float(onset)),
            duration=st.just(onset + LATE_LEAK_HORIZON),
            interval=st.sampled_from([2.0, 5.0]),
        )
    )


LATE_STRONG_HORIZON = 240.0
"""Seconds after its onset within which a late leak of a 300th of the heap a second is found."""


def late_strong_leaks(min_share: float) -> st.SearchStrategy[Series]:
    """Growth of ``min_share`` to thrice that of a 30-300 MB heap a second, after 15-30 flat min.

    Sampled every second (the watcher's default), ±5% noise; the series ends
    ``LATE_STRONG_HORIZON`` seconds after the onset.
    """
    return st.integers(min_value=900, max_value=1800).flatmap(
        lambda onset: st.builds(
            lambda seed, base, share: linear_leak(
                seed,
                base,
                rate=share * base,
                onset=onset,
                duration=onset + LATE_STRONG_HORIZON,
            ),
            seeds,
            bases,
            st.floats(min_value=min_share, max_value=3 * min_share),
        )
    )


def late_fills(max_ramp: float) -> st.SearchStrategy[Series]:
    """A cache filling 5-60% of the heap over 10 s to ``max_ramp`` after 15-30 flat minutes.

    ±5% noise, sampled every 1 or 2 s; the series ends ten minutes after the fill began.
    """
    return st.integers(min_value=900, max_value=1800).flatmap(
        lambda at: st.builds(
            step,
            seed=seeds,
            base=bases,
            at=st.just(float(at)),
            height=st.floats(min_value=0.05, max_value=0.6),
            ramp=st.floats(min_value=10, max_value=max_ramp),
            duration=st.just(at + TEN_MINUTES),
            interval=st.sampled_from([1.0, 2.0]),
        )
    )


def stationary_series() -> st.SearchStrategy[Series]:
    """Any noise within ±5% around a constant, values chosen by Hypothesis itself (adversarial)."""
    return st.builds(
        lambda base, offsets, interval: to_samples(
            [base * (1 + offset) for offset in offsets], interval
        ),
        bases,
        st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=1, max_size=301),
        intervals,
    )


def sawtooth_series() -> st.SearchStrategy[Series]:
    """Fill and evict every 10-60 s by up to 25% of the base, with ±5% noise."""
    return st.builds(
        sawtooth,
        seed=seeds,
        base=bases,
        period=st.floats(min_value=10, max_value=60),
        amplitude=st.floats(min_value=0.0, max_value=0.25),
        interval=intervals,
    )


def step_series(noise: float = 0.05, max_ramp: float = 10.0) -> st.SearchStrategy[Series]:
    """One fill of 5-60% of the base over up to ``max_ramp`` s, at any time, then flat."""
    return st.builds(
        step,
        seed=seeds,
        noise=st.just(noise),
        base=bases,
        at=st.floats(min_value=0, max_value=TEN_MINUTES),
        height=st.floats(min_value=0.05, max_value=0.6),
        ramp=st.floats(min_value=0, max_value=max_ramp),
        interval=intervals,
    )


@st.composite
def growing_runs(draw: st.DrawFn, max_runs: int = 6, max_length: int = 12) -> Series:
    """memwatch-style full-collection samples: runs of strict growth separated by drops or repeats.

    Times advance by 0-10 s (a 0 s gap is allowed), so windows of 0 s occur.
    """
    heap = draw(st.integers(min_value=1, max_value=10 * MB))
    heaps = [heap]
    for _ in range(draw(st.integers(min_value=1, max_value=max_runs))):
        for _ in range(draw(st.integers(min_value=0, max_value=max_length))):
            heap += draw(st.integers(min_value=1, max_value=MB))
            heaps.append(heap)
        heap -= draw(st.integers(min_value=0, max_value=heap - 1))
        heaps.append(heap)
    gaps = draw(
        st.lists(st.sampled_from([0.0, 1.0, 2.5, 10.0]), min_size=len(heaps), max_size=len(heaps))
    )
    samples = []
    time = 0.0
    for i, (value, gap) in enumerate(zip(heaps, gaps, strict=True)):
        time += gap
        samples.append(
            Sample(time=time, heap_bytes=value, full=True, num_full_gc=i + 1, num_inc_gc=3 * i)
        )
    return samples
