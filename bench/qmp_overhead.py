"""Per-test overhead: one QMP check in our pytest harness vs QEMU's functional framework.

Both run as a fresh process per repetition (how a developer runs one test),
alternating, on the same QEMU binary and the same -bios image.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.stats import Figure, timed_command
from harness.payloads import build_agent

HERE = Path(__file__).resolve().parent


def run(qemu: Path, qemu_src: Path, repo: Path, work: Path, reps: int) -> list[Figure]:
    bios = build_agent(64 * 1024, "bench", work / "images")
    env = dict(os.environ, BENCH_QEMU=str(qemu), BENCH_BIOS=str(bios))
    ours = Figure("per-test", "pytest harness (harness.vm)")
    theirs = Figure("per-test", "QEMU functional (qemu_test)")
    pytest_cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        str(HERE / "harness_check.py"),
    ]  # fmt: skip
    qemu_env = dict(
        env,
        PYTHONPATH=os.pathsep.join([str(qemu_src / "python"), str(qemu_src / "tests/functional")]),
        QEMU_TEST_QEMU_BINARY=str(qemu),
        QEMU_BUILD_ROOT=str(work / "qemu_test"),
    )
    qemu_cmd = [sys.executable, str(HERE / "qemu_test_check.py")]
    for _ in range(reps):
        ours.samples.append(timed_command(pytest_cmd, repo, env))
        theirs.samples.append(timed_command(qemu_cmd, work, qemu_env))
    ours.note = theirs.note = "one process per run: interpreter start, launch, 2 qom-get, quit"
    return [ours, theirs]
