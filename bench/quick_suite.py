"""Wall time of the quick functional suite (`-m quick`, TCG) on the default build."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.stats import Figure


def run(qemu: Path, repo: Path, reps: int) -> list[Figure]:
    cmd = [
        sys.executable, "-m", "pytest", "tests/functional", "-q", "-p", "no:cacheprovider",
        "-m", "quick", "--accel", "tcg", "--qemu-bin", str(qemu),
    ]  # fmt: skip
    figure = Figure("suite", "quick functional suite (-m quick, TCG)")
    for _ in range(reps):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)
        figure.samples.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(
                f"quick suite failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
            )
        figure.note = proc.stdout.strip().splitlines()[-1]
    return [figure]
