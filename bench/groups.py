"""The benchmark groups by name, each run for one series (`Target`) with one `Settings`:
the one dispatch both `make bench` and the functional step's smoke run go through."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from bench import build_bench, igvm_cost, qmp_overhead, quick_suite, reset_latency, slope
from bench.settings import Settings
from bench.stats import Figure
from bench.target import Target

Group = Callable[[Target, Path, Settings], list[Figure]]

GROUPS: Mapping[str, Group] = {
    "per-test": lambda t, work, s: qmp_overhead.run(t, work, s.reps),
    "slope": lambda t, work, s: slope.run(t, work, s.slope_counts, s.short_reps),
    "reset": lambda t, work, s: reset_latency.run(t, work, s.reset_sizes, s.reps),
    "igvm": lambda t, work, s: igvm_cost.run(
        t, work, s.igvm_sizes, s.igvm_directives, s.short_reps
    ),
    "suite": lambda t, work, s: quick_suite.run(t, work, s.suite_reps, s.suite_keyword),
    "build": build_bench.run,
}


def applies(name: str, target: Target) -> bool:
    """Whether group `name` measures anything on `target`'s series: the igvm group only
    on a series that takes IGVM images (its ABI names their trace event)."""
    return name != "igvm" or target.abi.igvm_trace is not None


def run_group(name: str, target: Target, work: Path, settings: Settings) -> list[Figure]:
    """Group `name` on `target`'s series, scratch files under `work`; its figures, each
    labelled with the series."""
    try:
        group = GROUPS[name]
    except KeyError:
        raise ValueError(
            f"no benchmark group {name!r}: the groups are {', '.join(GROUPS)}"
        ) from None
    figures = group(target, work, settings)
    for figure in figures:
        figure.series = target.series
    return figures
