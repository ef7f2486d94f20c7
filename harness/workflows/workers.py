"""How many pytest-xdist workers the functional suite runs on (``-n N``, ``--serial``).

The tests mostly wait for QEMU, so one worker per CPU keeps the machine busy. Every test
writes its logs to its own ``<vm-log-dir>/<test id>/`` and every worker has its own
temporary directory (agent images, sockets, disks), so workers share no files.
"""

from __future__ import annotations

import argparse
import os


def cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0))


def workers_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1 (workers, jobs), not {text!r}")
    return value


def pytest_args(workers: int | None) -> list[str]:
    """pytest-xdist arguments for `workers` (None: one per CPU); none at all for 1."""
    count = cpus() if workers is None else workers
    if count <= 1:
        return []
    # worksteal: an idle worker takes queued tests from a busy one, so a few long tests
    # (the hostile run, OVMF) do not leave one worker alone at the end.
    return ["-n", str(count), "--dist", "worksteal"]
