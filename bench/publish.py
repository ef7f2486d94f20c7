"""A run's results published: bench.json, the plots (matplotlib, the `bench` extra) and the
table in docs/benchmarks.md. `python -m bench.publish` draws them again from bench.json."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.report import (
    BAR_PLOTS,
    JSON_NAME,
    README,
    RESET_PLOT,
    RESULTS,
    Results,
    machine,
    merge,
    read_json,
    table,
    update_readme,
    write_json,
)
from bench.stats import Figure

SIZE_RE = re.compile(r"^(?P<kind>.*) (?P<kib>\d+) KiB$")


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
