"""Wall time of the quick functional suite (`-m quick`, TCG) on the default build: serially in
one process and on one pytest-xdist worker per CPU (the default of `vmfwupdate test`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.stats import Figure
from harness.workflows.workers import cpus, pytest_args


def timed_suite(cmd: list[str], repo: Path, figure: Figure) -> None:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)
    figure.samples.append(time.perf_counter() - start)
    if proc.returncode != 0:
        raise RuntimeError(f"quick suite failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}")
    figure.note = proc.stdout.strip().splitlines()[-1]


def run(qemu: Path, repo: Path, reps: int) -> list[Figure]:
    cmd = [
        sys.executable, "-m", "pytest", "tests/functional", "-q", "-p", "no:cacheprovider",
        "-m", "quick", "--accel", "tcg", "--qemu-bin", str(qemu),
    ]  # fmt: skip
    serial = Figure("suite", "quick functional suite (-m quick, TCG), serial")
    workers = pytest_args(None)
    figures = [serial]
    if workers:
        par = Figure(
            "suite",
            f"quick functional suite (-m quick, TCG), -n {cpus()}",
            baseline=serial.name,
        )
        figures.append(par)
    for _ in range(reps):
        timed_suite(cmd, repo, serial)
        if workers:
            timed_suite([*cmd, *workers], repo, par)
    return figures
