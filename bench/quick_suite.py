"""Wall time of the quick functional suite (`-m quick`, TCG) of one series: serially in one
process and on one pytest-xdist worker per CPU (the default of `vmfwupdate test`)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.commands import suite_run
from bench.stats import Figure
from bench.target import Target
from harness.workflows.workers import cpus

NAME = "quick functional suite (-m quick, TCG)"


def timed_suite(cmd: list[str], repo: Path, figure: Figure) -> None:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)
    figure.samples.append(time.perf_counter() - start)
    if proc.returncode != 0:
        raise RuntimeError(
            f"quick suite failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}"
        )
    figure.note = proc.stdout.strip().splitlines()[-1]


def run(target: Target, work: Path, reps: int, keyword: str | None = None) -> list[Figure]:
    """`keyword`: a -k expression narrowing the suite (the smoke run's one test)."""
    selection = ["-m", "quick", "--accel", "tcg", *(["-k", keyword] if keyword else [])]
    name = f"{NAME}, -k {keyword}" if keyword else NAME
    runs = [(Figure("suite", f"{name}, serial"), 1)]
    if cpus() > 1:
        runs.append((Figure("suite", f"{name}, -n {cpus()}", baseline=runs[0][0].name), cpus()))
    commands = [
        (figure, suite_run(target.series, target.qemu, work, selection, n)) for figure, n in runs
    ]
    for _ in range(reps):
        for figure, cmd in commands:
            timed_suite(cmd, target.workdir.repo, figure)
    return [figure for figure, _n in runs]
