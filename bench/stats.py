"""Repeated measurements: run a timed action N times, keep every sample."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class Figure:
    """One measured quantity: its samples (seconds) and how they summarise."""

    group: str
    name: str
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """max - min of the samples (0 for a single sample)."""
        return max(self.samples) - min(self.samples)

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out.update(median=self.median, spread=self.spread, reps=len(self.samples))
        return out


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def human(seconds: float) -> str:
    """Seconds in the unit that reads best: us, ms or s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.1f} s"
