"""Marginal cost of one more test in a session: N checks in one process, ours vs qemu_test.

Each repetition runs the check of bench/qmp_overhead.py as N tests (1, 10, 50: settings.py) in
one process per framework (alternating) and fits wall time = intercept + slope * N by
least squares; the slope is what every further test in a session costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.qmp_overhead import Check, checks
from bench.stats import Figure, human
from bench.target import Target


def fit(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of seconds over test count."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        raise ValueError("need at least two different test counts to fit a slope")
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    return slope, mean_y - slope * mean_x


def measure(check: Check, counts: Sequence[int]) -> tuple[float, float]:
    return fit([(n, check.seconds(n)) for n in counts])


def run(target: Target, work: Path, counts: Sequence[int], reps: int) -> list[Figure]:
    ours_check, theirs_check = checks(target, work)
    theirs = Figure("slope", "one more test in a session, QEMU functional (qemu_test)")
    ours = Figure("slope", "one more test in a session, pytest harness", baseline=theirs.name)
    intercepts: dict[str, list[float]] = {ours.name: [], theirs.name: []}
    for _ in range(reps):
        for figure, check in ((ours, ours_check), (theirs, theirs_check)):
            slope, intercept = measure(check, counts)
            figure.samples.append(slope)
            intercepts[figure.name].append(intercept)
    for figure in (ours, theirs):
        start = sorted(intercepts[figure.name])[len(intercepts[figure.name]) // 2]
        figure.note = (
            f"N = {', '.join(map(str, counts))} tests in one process, least-squares slope; "
            f"fixed cost (intercept) {human(start)}"
        )
    return [ours, theirs]
