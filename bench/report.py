"""Benchmark results: bench/results/bench.json (every sample), and from it the PNG plots
and the measured table in docs/benchmarks.md (between the `bench:` markers).

bench.publish writes them (plots need matplotlib, the `bench` extra); this module does not
import it, so the unit tests run without it.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.stats import Figure, show

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# the measured page the table is generated into
README = HERE.parent / "docs" / "benchmarks.md"
JSON_NAME = "bench.json"
START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
BAR_PLOTS = (
    ("build", "build and edit-rebuild-test loop", "build.png"),
    ("per-test", "one QMP check: pytest harness vs qemu_test", "per_test.png"),
    ("slope", "one more QMP check in a session (least-squares slope)", "slope.png"),
    ("suite", "quick functional suite", "quick_suite.png"),
)
RESET_PLOT = "reset_latency.png"
# meta: the later runs of some groups merged into the results (`merge`)
MERGED_RUNS = "merged_runs"


@dataclass(frozen=True)
class Results:
    """One run's figures and what it ran on."""

    meta: Mapping[str, object]
    figures: list[Figure]


def machine() -> dict[str, object]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
    }


def write_json(results: Results, path: Path) -> None:
    data = {"meta": dict(results.meta), "figures": [f.as_dict() for f in results.figures]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def read_json(path: Path) -> Results:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Results(data["meta"], [Figure.from_dict(f) for f in data["figures"]])


def table(results: Results) -> str:
    meta = results.meta
    series = sorted({f.series for f in results.figures if f.samples})
    lines = [
        START,
        f"Measured by `make bench` on {meta['date']} ({meta['cpus']} CPUs; series "
        f"{', '.join(series)}){remeasured(meta)}; spread = max - min; generated from "
        "`bench/results/bench.json`, plots in `bench/results/`.",
        "",
        "| series | group | figure | median | ratio | spread | reps | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in results.figures:
        if not f.samples:
            continue
        lines.append(
            f"| {f.series} | {f.group} | {f.name} | {show(f.median, f.unit)} | "
            f"{ratio(f, results.figures)} | {show(f.spread, f.unit)} | {len(f.samples)} | "
            f"{f.note} |"
        )
    lines.append(END)
    return "\n".join(lines)


def remeasured(meta: Mapping[str, object]) -> str:
    """``; the igvm group (v7) measured again on <date>`` for each run merged into these
    results (`merge`), '' for none."""
    runs = meta.get(MERGED_RUNS, [])
    if not isinstance(runs, list):
        return ""
    return "".join(
        f"; the {', '.join(run['groups'])} group(s) ({', '.join(run['series'])}) measured "
        f"again on {run['date']}"
        for run in runs
    )


def ratio(figure: Figure, figures: Sequence[Figure]) -> str:
    """``0.62x <baseline>``: this figure's median over its baseline's (same series), '' without
    one."""
    base = next(
        (
            f
            for f in figures
            if f.name == figure.baseline and f.series == figure.series and f.samples
        ),
        None,
    )
    if base is None or base.median == 0:
        return ""
    return f"{figure.median / base.median:.2f}x {base.name}"


def update_readme(readme: Path, text: str) -> None:
    content = readme.read_text(encoding="utf-8")
    if START not in content or END not in content:
        raise RuntimeError(f"{readme} has no {START} ... {END} markers for the benchmark table")
    head, rest = content.split(START, 1)
    _old, tail = rest.split(END, 1)
    readme.write_text(head + text + tail, encoding="utf-8")


def merge(old: Results, figures: Sequence[Figure], measured: Sequence[tuple[str, str]]) -> Results:
    """`old` with the figures of each (series, group) in `measured` replaced by this run's
    `figures`, which come after the figures kept; the run's date and what it measured are
    added to the meta (`MERGED_RUNS`)."""
    replaced = set(measured)
    kept = [f for f in old.figures if (f.series, f.group) not in replaced]
    run = machine()
    meta = dict(old.meta)
    previous = meta.get(MERGED_RUNS, [])
    # an earlier merged run whose groups this one measures again is no longer in the table
    still_shown = [
        r
        for r in (previous if isinstance(previous, list) else [])
        if not {(s, g) for s in r["series"] for g in r["groups"]} <= replaced
    ]
    meta[MERGED_RUNS] = [
        *still_shown,
        {
            "date": run["date"],
            "groups": sorted({g for _, g in replaced}),
            "series": sorted({s for s, _ in replaced}),
        },
    ]
    return Results(meta, [*kept, *figures])
