"""The in-tree step: QEMU's own tests that the series adds or changes, run by meson.

The series names its tests by touching them: every qtest source (``tests/qtest/*.c``) and
functional test (``tests/functional/**/*.py``) a patch adds or changes is a test of the
series, for every target the build has (``qtest-x86_64/vmfwupdate-test`` and, on a build
with i386, ``qtest-i386/vmfwupdate-test``). meson's own description of the build
(``meson-info/``) says which tests those files are and what they need built, so the series
carries no meson suite of its own in QEMU's generic test loops.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.build import qemu
from harness.errors import HarnessError
from harness.runner import Runner
from harness.workdir import Workdir
from harness.workflows.step_report import StepResult, meson_counts

STEP = "in-tree"
# meson's per-test timeouts x3: on a loaded 2-core machine the qtest can pass 60 s
TIMEOUT_MULTIPLIER = 3


class NoTests(Exception):
    """The series touches no test that this build defines."""


@dataclass(frozen=True)
class InTreeTests:
    """meson test names, and the ninja targets they need."""

    names: tuple[str, ...]
    targets: tuple[str, ...]


def is_test_source(path: str) -> bool:
    """Whether a path a patch touches is a qtest or a functional test."""
    return (path.startswith("tests/qtest/") and path.endswith(".c") and path.count("/") == 2) or (
        path.startswith("tests/functional/") and path.endswith(".py")
    )


def runs_source(cmd: list[str], build_dir: Path, src_dir: Path, source: str) -> bool:
    """Whether a meson test command runs the test built from, or written in, `source`."""
    if source.endswith(".c"):
        return bool(cmd) and Path(cmd[0]) == build_dir / source.removesuffix(".c")
    return str(src_dir / source) in cmd


def select(build_dir: Path, touched: Iterable[str]) -> InTreeTests:
    """The tests of `build_dir` that run one of the `touched` test sources, and their targets."""
    info = build_dir / "meson-info"
    try:
        meson_info = json.loads((info / "meson-info.json").read_text(encoding="utf-8"))
        tests = json.loads((info / "intro-tests.json").read_text(encoding="utf-8"))
        targets = json.loads((info / "intro-targets.json").read_text(encoding="utf-8"))
        src_dir = Path(meson_info["directories"]["source"])
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(
            STEP,
            f"cannot read meson's description of the build: {exc}",
            path=info,
            hint="build first: `vmfwupdate build` (it configures the build directory)",
        ) from exc
    sources = [s for s in touched if is_test_source(s)]
    chosen = [
        t for t in tests if any(runs_source(t["cmd"], build_dir, src_dir, s) for s in sources)
    ]
    if not chosen:
        raise NoTests(
            f"the series touches no qtest or functional test this build defines "
            f"({', '.join(sources) or 'no test sources'})"
        )
    files = {t["id"]: t["filename"] for t in targets}
    needed = sorted(
        {
            str(Path(f).relative_to(build_dir))
            for t in chosen
            for dep in t.get("depends", [])
            for f in files.get(dep, [])
        }
    )
    return InTreeTests(tuple(sorted(t["name"] for t in chosen)), tuple(needed))


def run(
    runner: Runner,
    workdir: Workdir,
    build_dir: Path,
    touched: Iterable[str],
    jobs: int,
    on_line: Callable[[str], None],
    slowdown: int = 1,
) -> StepResult:
    """Build what the series' in-tree tests need, run them with meson, and sum them up.
    `slowdown`: how many times slower the build's QEMU is (its profile's), which scales
    meson's timeouts."""
    log = workdir.log("in-tree-vmfwupdate.log")
    log.write_text("", encoding="utf-8")
    tests = select(build_dir, touched)
    start = time.monotonic()
    env = qemu.build_env(workdir)
    try:
        qemu.run_ninja(build_dir, list(tests.targets), runner, env, log, jobs, "in-tree build")
    except HarnessError as exc:
        return StepResult(STEP, "FAIL", time.monotonic() - start, exc.problem, log)
    meson = [build_dir / "pyvenv" / "bin" / "meson", "test", "-C", build_dir, "--no-rebuild"]
    # The qtests' sockets (qtest-*.sock, *.qmp) and directories go to a TMPDIR of this run,
    # deleted afterwards even when the run is interrupted and a test had no time to clean up.
    tmp = Path(tempfile.mkdtemp(prefix="vmfwupdate-in-tree-"))
    try:
        code = runner.stream(
            [
                *meson,
                "--print-errorlogs",
                f"--timeout-multiplier={TIMEOUT_MULTIPLIER * slowdown}",
                *tests.names,
            ],
            env={**env, "TMPDIR": str(tmp)},
            log=log,
            on_line=on_line,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.monotonic() - start
    detail = f"{', '.join(tests.names)}: {meson_counts(log)}"
    if code != 0:
        detail += f"; see {build_dir / 'meson-logs' / 'testlog.txt'}"
    return StepResult(STEP, "PASS" if code == 0 else "FAIL", seconds, detail, log)
