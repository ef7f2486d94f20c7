"""Write benchmark results: bench/results/bench.json, PNG plots and the README table."""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt

from bench.stats import Figure, human

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
SIZE_RE = re.compile(r"^(?P<kind>.*) (?P<kib>\d+) KiB$")


def write_json(figures: Sequence[Figure], path: Path, meta: dict[str, object]) -> None:
    data = {"meta": meta, "figures": [f.as_dict() for f in figures]}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def machine() -> dict[str, object]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
    }


def table(figures: Sequence[Figure], meta: dict[str, object]) -> str:
    lines = [
        START,
        f"Measured by `make bench` on {meta['date']} ({meta['cpus']} CPUs); "
        "spread = max - min; data in `bench/results/bench.json`, plots in `bench/results/`.",
        "",
        "| group | figure | median | ratio | spread | reps | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        if not f.samples:
            continue
        lines.append(
            f"| {f.group} | {f.name} | {human(f.median)} | {ratio(f, figures)} | "
            f"{human(f.spread)} | {len(f.samples)} | {f.note} |"
        )
    lines.append(END)
    return "\n".join(lines)


def ratio(figure: Figure, figures: Sequence[Figure]) -> str:
    """``0.62x <baseline>``: this figure's median over its baseline's, '' without one."""
    base = next((f for f in figures if f.name == figure.baseline and f.samples), None)
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


def plot_bars(figures: Sequence[Figure], title: str, path: Path) -> None:
    shown = [f for f in figures if f.samples]
    if not shown:
        return
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(shown) + 1.5))
    medians = [f.median for f in shown]
    errors = [
        [f.median - min(f.samples) for f in shown],
        [max(f.samples) - f.median for f in shown],
    ]
    ax.barh([f.name for f in shown], medians, xerr=errors, capsize=4, color="tab:blue")
    ax.set_xlabel("seconds (median, bars: min..max)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_reset(figures: Sequence[Figure], path: Path) -> None:
    series: dict[str, list[tuple[int, Figure]]] = {}
    for f in figures:
        m = SIZE_RE.match(f.name)
        if m and f.samples:
            series.setdefault(m["kind"], []).append((int(m["kib"]), f))
    if not series:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for kind, points in series.items():
        points.sort(key=lambda p: p[0])
        xs = [p[0] for p in points]
        ys = [p[1].median for p in points]
        lo = [p[1].median - min(p[1].samples) for p in points]
        hi = [max(p[1].samples) - p[1].median for p in points]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=kind)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("image size (KiB)")
    ax.set_ylabel("seconds (median, bars: min..max)")
    ax.set_title("reset latency (TCG): QMP system_reset until the firmware's banner")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_all(figures: Sequence[Figure], results: Path, readme: Path) -> list[Path]:
    results.mkdir(parents=True, exist_ok=True)
    plt.switch_backend("Agg")
    meta = machine()
    write_json(figures, results / "bench.json", meta)
    groups = ("build", "per-test", "slope", "suite")
    by_group = {g: [f for f in figures if f.group == g] for g in groups}
    outputs = [results / "bench.json"]
    for group, title, name in (
        ("build", "build and edit-rebuild-test loop", "build.png"),
        ("per-test", "one QMP check: pytest harness vs qemu_test", "per_test.png"),
        ("slope", "one more QMP check in a session (least-squares slope)", "slope.png"),
        ("suite", "quick functional suite", "quick_suite.png"),
    ):
        if by_group[group]:
            plot_bars(by_group[group], title, results / name)
            outputs.append(results / name)
    resets = [f for f in figures if f.group == "reset"]
    if resets:
        plot_reset(resets, results / "reset_latency.png")
        outputs.append(results / "reset_latency.png")
    update_readme(readme, table(figures, meta))
    return outputs
