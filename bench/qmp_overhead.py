"""Per-test overhead: one QMP check in our pytest harness vs QEMU's functional framework.

Both run as a fresh process per repetition (how a developer runs one test),
alternating, on the same QEMU binary and the same -bios image.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.stats import Figure, timed_command
from bench.target import Target
from harness.build.agent_image import build_agent

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Check:
    """One framework's run of the check: BENCH_N tests of it in one process."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]

    def seconds(self, tests: int = 1) -> float:
        return timed_command(self.argv, self.cwd, {**self.env, "BENCH_N": str(tests)})


def checks(target: Target, work: Path) -> tuple[Check, Check]:
    """(ours, qemu_test's) check on the series' QEMU with the 64 KiB agent as -bios, each
    run once; qemu_test comes from the tree that QEMU was built from.

    Both run as Python normally does, writing and reusing bytecode: an inherited
    PYTHONDONTWRITEBYTECODE would make every run compile both frameworks' sources again.
    The bytecode goes below `work` (PYTHONPYCACHEPREFIX), not into the QEMU tree or the
    checkout; the warm-up run leaves those caches in place."""
    qemu, qemu_src, repo = target.qemu, target.tree, target.workdir.repo
    bios = build_agent(64 * 1024, "bench", work / "images")
    env = dict(os.environ, BENCH_QEMU=str(qemu), BENCH_BIOS=str(bios))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    ours = Check([sys.executable, "-m", "pytest", "-q", str(HERE / "harness_check.py")], repo, env)
    qemu_env = dict(
        env,
        PYTHONPATH=os.pathsep.join([str(qemu_src / "python"), str(qemu_src / "tests/functional")]),
        QEMU_TEST_QEMU_BINARY=str(qemu),
        QEMU_BUILD_ROOT=str(work / "qemu_test"),
    )
    theirs = Check([sys.executable, str(HERE / "qemu_test_check.py")], work, qemu_env)
    ours.seconds()
    theirs.seconds()
    return ours, theirs


def run(target: Target, work: Path, reps: int) -> list[Figure]:
    ours_check, theirs_check = checks(target, work)
    theirs = Figure("per-test", "QEMU functional (qemu_test)")
    ours = Figure("per-test", "pytest harness (harness.machine.vm)", baseline=theirs.name)
    for _ in range(reps):
        ours.samples.append(ours_check.seconds())
        theirs.samples.append(theirs_check.seconds())
    ours.note = theirs.note = "one process per run: interpreter start, launch, 2 qom-get, quit"
    return [ours, theirs]
