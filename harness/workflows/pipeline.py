"""``vmfwupdate check`` (``make check-vmfwupdate``): every step in order, one summary."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness.build import qemu
from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree import series, source
from harness.tree.patchfile import series_files
from harness.workdir import SERIES, Workdir
from harness.workflows import in_tree as in_tree_tests
from harness.workflows import workers
from harness.workflows.prepare import build_tree, qemu_tree
from harness.workflows.run_logs import new_run_dir
from harness.workflows.step_report import StepResult, junit_counts, render_summary
from harness.worklock import series_lock

logger = logging.getLogger(__name__)

# --series value of `check` that runs every series.
ALL_SERIES = "all"


class Skipped(Exception):
    """A step that cannot run; the reason goes into the summary."""


def run_pytest(
    runner: Runner, workdir: Workdir, name: str, target: str, extra: list[str]
) -> StepResult:
    log = workdir.log(f"{name}.log")
    log.write_text("", encoding="utf-8")
    xml = workdir.logs / f"{name}.xml"
    xml.unlink(missing_ok=True)
    cmd: list[str | Path] = [sys.executable, "-m", "pytest", target, "-ra", f"--junitxml={xml}"]
    start = time.monotonic()
    code = runner.stream([*cmd, *extra], cwd=workdir.repo, log=log, on_line=echo(runner))
    seconds = time.monotonic() - start
    counts = junit_counts(xml)
    if code == 5:
        return StepResult(name, "SKIP", seconds, f"no tests collected in {target}", log)
    status = "PASS" if code == 0 else "FAIL"
    return StepResult(name, status, seconds, f"{counts} (exit {code})", log)


def echo(runner: Runner) -> Callable[[str], None]:
    def show(line: str) -> None:
        if not runner.verbose:
            logger.info(f"  | {line}")

    return show


def timed(results: list[StepResult], runner: Runner, name: str, body: Callable[[], str]) -> bool:
    logger.info(f"==> {name}")
    start = time.monotonic()
    try:
        detail = body()
    except Skipped as why:
        results.append(StepResult(name, "SKIP", time.monotonic() - start, str(why)))
        logger.info(f"    skipped: {why}")
        return True
    except KeyboardInterrupt:
        results.append(interrupted(name, start))
        raise
    except HarnessError as exc:
        logger.info(exc.render())
        detail = exc.problem + (f" ({exc.path})" if exc.path else "")
        log = exc.path if exc.path and exc.path.suffix == ".log" else None
        results.append(StepResult(name, "FAIL", time.monotonic() - start, detail, log))
        return False
    results.append(StepResult(name, "PASS", time.monotonic() - start, detail))
    return True


def interrupted(name: str, start: float) -> StepResult:
    return StepResult(
        name,
        "FAIL",
        time.monotonic() - start,
        "interrupted (Ctrl-C or SIGTERM); later steps did not run",
    )


def has_tests(directory: Path) -> bool:
    return directory.is_dir() and any(directory.rglob("test_*.py"))


def check(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    """Unit tests once, then fetch, apply, build, in-tree suite and functional tests for each
    series (--series, default all: v6 then v7); one summary row per series and step."""
    results: list[StepResult] = []
    total_start = time.monotonic()
    chosen = selected_series(args)
    try:
        if args.skip_unit:
            results.append(StepResult("unit", "SKIP", 0.0, "--skip-unit given"))
        else:
            logger.info("==> unit")
            start = time.monotonic()
            try:
                # on one worker per CPU, as the functional step: several tests run pytest,
                # git or a compiler in a process of their own and mostly wait on it
                unit = run_pytest(runner, workdir, "unit", "tests/unit", workers.pytest_args(None))
                results.append(unit)
            except KeyboardInterrupt:
                results.append(interrupted("unit", start))
                raise
        for name in chosen:
            with series_lock(workdir.for_series(name).series_root, "check", runner.say) as lock:
                lock.exclusive(f"check series {name}")
                check_series(
                    series_args(args, name, chosen), workdir.for_series(name), runner, results
                )
    except KeyboardInterrupt:
        summary(results, runner, workdir, time.monotonic() - total_start)
        raise
    summary(results, runner, workdir, time.monotonic() - total_start)
    return 1 if any(r.status == "FAIL" for r in results) else 0


def series_args(args: argparse.Namespace, name: str, chosen: tuple[str, ...]) -> argparse.Namespace:
    """The options for one series: with several series, --build-dir D is D/<series> (each
    series has its own binary; one directory would rebuild the other's every time)."""
    build_dir = getattr(args, "build_dir", None)
    if build_dir is None or len(chosen) == 1:
        return args
    return argparse.Namespace(**{**vars(args), "build_dir": build_dir / name})


def selected_series(args: argparse.Namespace) -> tuple[str, ...]:
    chosen = getattr(args, "series", ALL_SERIES)
    return SERIES if chosen == ALL_SERIES else (chosen,)


def check_series(
    args: argparse.Namespace, workdir: Workdir, runner: Runner, results: list[StepResult]
) -> None:
    """The steps of one series, each named `<series> <step>` in the summary."""
    prefix = f"{workdir.series} "
    state: dict[str, object] = {}

    def do_fetch() -> str:
        tree = qemu_tree(args, workdir, runner)
        state["tree"] = tree
        return f"QEMU {tree.version} at {tree.path} ({tree.kind})"

    def do_apply() -> str:
        tree = state["tree"]
        assert isinstance(tree, source.QemuTree)
        result = series.apply(
            tree,
            workdir.patches,
            runner,
            branch=args.branch or series.DEFAULT_BRANCH,
            base_rev=args.base,
        )
        return f"{result.patches} patch(es) on {result.branch}: {result.action}"

    def do_build() -> str:
        tree = state["tree"]
        assert isinstance(tree, source.QemuTree)
        result = build_tree(tree, args, workdir, runner)
        state["build"] = result
        how = "configured and built" if result.configured else "incremental"
        return f"{args.profile} profile, {how}: {result.qemu}"

    ok = timed(results, runner, prefix + "fetch", do_fetch)
    ok = ok and timed(results, runner, prefix + "apply", do_apply)
    ok = ok and timed(results, runner, prefix + "build", do_build)
    if not ok:
        for step in ("apply", "build", "in-tree", "functional"):
            if not any(r.name == prefix + step for r in results):
                results.append(
                    StepResult(prefix + step, "SKIP", 0.0, "not run: an earlier step failed")
                )
        return
    built = state["build"]
    assert isinstance(built, qemu.BuildResult)
    results[-1].log = built.log
    test_series(args, workdir, runner, built, results)


def test_series(
    args: argparse.Namespace,
    workdir: Workdir,
    runner: Runner,
    built: qemu.BuildResult,
    results: list[StepResult],
) -> None:
    """The in-tree suite and the functional tests of one series' build."""
    prefix = f"{workdir.series} "
    logger.info(f"==> {prefix}in-tree")
    start = time.monotonic()
    touched = [f for patch in series_files(workdir.patches) for f in series.touched_files(patch)]
    try:
        in_tree = in_tree_tests.run(
            runner,
            workdir,
            built.build_dir,
            touched,
            args.jobs,
            echo(runner),
            slowdown=qemu.PROFILES[args.profile].slowdown,
        )
    except KeyboardInterrupt:
        results.append(interrupted(prefix + "in-tree", start))
        raise
    except in_tree_tests.NoTests as why:
        in_tree = StepResult("in-tree", "SKIP", time.monotonic() - start, f"{why}: nothing ran")
    in_tree.name = prefix + in_tree.name
    results.append(in_tree)
    if args.skip_functional:
        results.append(StepResult(prefix + "functional", "SKIP", 0.0, "--skip-functional given"))
    elif not has_tests(workdir.repo / "tests" / "functional"):
        results.append(
            StepResult(prefix + "functional", "SKIP", 0.0, "tests/functional has no tests yet")
        )
    else:
        logger.info(f"==> {prefix}functional")
        start = time.monotonic()
        try:
            step = functional(args, workdir, runner, built.qemu)
        except KeyboardInterrupt:
            results.append(interrupted(prefix + "functional", start))
            raise
        step.name = prefix + step.name
        results.append(step)


def functional(
    args: argparse.Namespace, workdir: Workdir, runner: Runner, binary: Path
) -> StepResult:
    """The functional suite on the series' binary, its VM logs in a directory of this run."""
    return run_pytest(
        runner,
        workdir,
        "functional",
        "tests/functional",
        [
            "--abi",
            workdir.series,
            f"--qemu-bin={binary}",
            f"--vm-log-dir={new_run_dir(workdir.vm_logs)}",
            *(["--hostile-long"] if args.long else []),
            *workers.pytest_args(args.test_jobs),
        ],
    )


def summary(results: list[StepResult], runner: Runner, workdir: Workdir, seconds: float) -> None:
    """Print the summary table (stdout: the command's result)."""
    print(render_summary(results, workdir, seconds), flush=True)
