"""False positives of the default trend detector over many random cache fills and stable series.

A wider net than ``detector_figures.py`` (d): cache fills of 5-60% of a 30-300 MB
heap over 10-120 s at any time of an hour, sampled every 1, 2 and 5 s, an extra
set of the slow fills (80-120 s) that look longest like a leak, and the stable
ten-minute families of section (b) at the same intervals. Every series is drawn
from a seeded generator, so two versions of the rule are compared on the same
series: each false positive is printed as the ``step(...)`` or family call that
rebuilds it.

Run: python3 benchmarks/detector_sweep.py [--fills N] [--slow N] [--stable N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import TYPE_CHECKING

from memwatch.detector import LeakFinding, make_detector
from memwatch.testing.strategies import MB, STABLE_KINDS, random_stable, step

if TYPE_CHECKING:
    from memwatch.samples import Sample

INTERVALS = (1.0, 2.0, 5.0)
HOUR = 3600.0


def first_leak(series: list[Sample]) -> float | None:
    detector = make_detector()
    for sample in series:
        if any(isinstance(finding, LeakFinding) for finding in detector.feed(sample)):
            return sample.time
    return None


def fills(count: int, rng: random.Random, min_ramp: float, label: str) -> int:
    """Run ``count`` one-hour fill series per interval; print and count the reported ones."""
    total = 0
    for interval in INTERVALS:
        hits = 0
        for _ in range(count):
            options = {
                "seed": rng.getrandbits(32),
                "base": round(rng.uniform(30, 300) * MB),
                "at": round(rng.uniform(0, HOUR)),
                "height": round(rng.uniform(0.05, 0.6), 4),
                "ramp": round(rng.uniform(min_ramp, 120)),
                "duration": HOUR,
                "interval": interval,
            }
            found = first_leak(step(**options))
            if found is not None:
                hits += 1
                call = ", ".join(f"{key}={value}" for key, value in options.items())
                print(f"  FP {label}: step({call}) at +{found - options['at']:.0f} s")
        print(f"  {label} fills, {interval:.0f} s samples: {hits} of {count}")
        total += hits
    return total


def stable(count: int, rng: random.Random) -> int:
    """Run ``count`` ten-minute series of every stable family per interval."""
    total = 0
    for interval in INTERVALS:
        for kind in STABLE_KINDS:
            hits = 0
            for index in range(count):
                found = first_leak(random_stable(kind, rng, interval))
                if found is not None:
                    hits += 1
                    print(f"  FP {kind} #{index}, {interval:.0f} s samples: at {found:.0f} s")
            print(f"  {kind:<10} {interval:.0f} s samples: {hits} of {count}")
            total += hits
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fills", type=int, default=1000, help="fills of 10-120 s per interval")
    parser.add_argument("--slow", type=int, default=500, help="fills of 80-120 s per interval")
    parser.add_argument("--stable", type=int, default=400, help="series per family per interval")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    start = time.perf_counter()
    total = fills(args.fills, random.Random(args.seed), 10, "any")
    total += fills(args.slow, random.Random(args.seed + 1), 80, "slow")
    total += stable(args.stable, random.Random(args.seed + 2))
    print(f"total {total} false positives ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
