"""Benchmark results: bench/results/bench.json (every sample), and from it the PNG plots
and the measured table in docs/benchmarks.md (between the `bench:` markers).

`python -m bench.report` renders the plots and the table again from the JSON alone.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt

from bench.stats import Figure, show

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# the measured page the table is generated into
README = HERE.parent / "docs" / "benchmarks.md"
JSON_NAME = "bench.json"
START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
SIZE_RE = re.compile(r"^(?P<kind>.*) (?P<kib>\d+) KiB$")
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


def label(figure: Figure) -> str:
    return f"{figure.series}: {figure.name}"


def plot_bars(figures: Sequence[Figure], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(figures) + 1.5))
    medians = [f.median for f in figures]
    errors = [
        [f.median - min(f.samples) for f in figures],
        [max(f.samples) - f.median for f in figures],
    ]
    ax.barh([label(f) for f in figures], medians, xerr=errors, capsize=4, color="tab:blue")
    ax.set_xlabel("seconds (median, bars: min..max)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_reset(figures: Sequence[Figure], path: Path) -> None:
    curves: dict[str, list[tuple[int, Figure]]] = {}
    for f in figures:
        m = SIZE_RE.match(f.name)
        if m:
            curves.setdefault(f"{f.series}: {m['kind']}", []).append((int(m["kib"]), f))
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, points in curves.items():
        points.sort(key=lambda p: p[0])
        xs = [p[0] for p in points]
        ys = [p[1].median for p in points]
        lo = [p[1].median - min(p[1].samples) for p in points]
        hi = [max(p[1].samples) - p[1].median for p in points]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("image size (KiB)")
    ax.set_ylabel("seconds (median, bars: min..max)")
    ax.set_title("reset latency (TCG): QMP system_reset until the firmware's banner")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(results_dir: Path = RESULTS, readme: Path = README) -> list[Path]:
    """Plots and the README table from `results_dir`/bench.json; the files written. Plots of
    groups the run did not measure are removed, so none is left from an older run."""
    results = read_json(results_dir / JSON_NAME)
    measured = [f for f in results.figures if f.samples]
    plt.switch_backend("Agg")
    outputs = []
    plots = [(g, t, n, [f for f in measured if f.group == g]) for g, t, n in BAR_PLOTS]
    plots.append(("reset", "", RESET_PLOT, [f for f in measured if f.group == "reset"]))
    for group, title, name, figures in plots:
        path = results_dir / name
        if not figures:
            path.unlink(missing_ok=True)
        elif group == "reset":
            plot_reset(figures, path)
            outputs.append(path)
        else:
            plot_bars(figures, title, path)
            outputs.append(path)
    update_readme(readme, table(results))
    return [*outputs, readme]


def merge(old: Results, figures: Sequence[Figure], measured: Sequence[tuple[str, str]]) -> Results:
    """`old` with the figures of each (series, group) in `measured` replaced by this run's
    `figures`, which come after the figures kept; the run's date and what it measured are
    added to the meta (`MERGED_RUNS`)."""
    replaced = set(measured)
    kept = [f for f in old.figures if (f.series, f.group) not in replaced]
    run = machine()
    meta = dict(old.meta)
    previous = meta.get(MERGED_RUNS, [])
    meta[MERGED_RUNS] = [
        *(previous if isinstance(previous, list) else []),
        {
            "date": run["date"],
            "groups": sorted({g for _, g in replaced}),
            "series": sorted({s for s, _ in replaced}),
        },
    ]
    return Results(meta, [*kept, *figures])


def write_all(
    figures: Sequence[Figure],
    results_dir: Path = RESULTS,
    *,
    keep_others: Sequence[tuple[str, str]] | None = None,
) -> list[Path]:
    """bench.json of this run, then everything rendered from it. With `keep_others` (the
    (series, group) pairs this run measured), the figures of every other pair in the
    bench.json there are kept (`merge`) instead of dropped."""
    path = results_dir / JSON_NAME
    if keep_others is not None and path.is_file():
        results = merge(read_json(path), figures, keep_others)
    else:
        results = Results(machine(), list(figures))
    write_json(results, path)
    return [path, *render(results_dir)]


if __name__ == "__main__":
    for written in render():
        print(written)
    sys.exit(0)
