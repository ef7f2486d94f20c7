"""Repeated measurements: run a timed action N times, keep every sample."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.platform import KIB, MIB

# The units of a figure's samples.
SECONDS = "s"
BYTES = "B"


@dataclass
class Figure:
    """One measured quantity: its samples (in `unit`: seconds, or bytes) and how they
    summarise."""

    group: str
    name: str
    samples: list[float] = field(default_factory=list)
    note: str = ""
    # Name of the figure this one is compared with (the report shows median / its median).
    baseline: str = ""
    # The series (= device ABI) measured; the baseline is a figure of the same series.
    series: str = ""
    unit: str = SECONDS

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """max - min of the samples (0 for a single sample)."""
        return max(self.samples) - min(self.samples)

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        if self.samples:
            out.update(median=self.median, spread=self.spread, reps=len(self.samples))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Figure:
        """The figure `as_dict` wrote (its summary fields are recomputed, not read)."""
        samples = data.get("samples", [])
        if not isinstance(samples, list):
            raise ValueError(f"figure {data.get('name')!r}: samples is not a list")
        return cls(
            group=str(data["group"]),
            name=str(data["name"]),
            samples=[float(x) for x in samples],
            note=str(data.get("note", "")),
            baseline=str(data.get("baseline", "")),
            series=str(data.get("series", "")),
            unit=str(data.get("unit", SECONDS)),
        )


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


def human_bytes(count: float) -> str:
    """Bytes in KiB below 1 MiB, else in MiB (a negative count keeps its sign)."""
    if abs(count) < MIB:
        return f"{count / KIB:.1f} KiB"
    return f"{count / MIB:.1f} MiB"


def show(value: float, unit: str) -> str:
    """A sample or summary of a figure in `unit`, as the report writes it."""
    if unit == BYTES:
        return human_bytes(value)
    if unit == SECONDS:
        return human(value)
    raise ValueError(f"a figure's unit is {SECONDS!r} or {BYTES!r}, not {unit!r}")


def timed_command(cmd: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> float:
    """Run `cmd` to completion; its wall time in seconds. A failure raises with its output."""
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=dict(env) if env is not None else None,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark command failed with exit {proc.returncode}: {' '.join(cmd)}\n"
            f"{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return seconds
