"""``vmfwupdate check`` (``make check-vmfwupdate``): every step in order, one summary."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.build import qemu as build
from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree import series, source
from harness.workdir import Workdir
from harness.workflows import workers as parallel

SUITE = "vmfwupdate"


@dataclass
class StepResult:
    name: str
    status: str  # PASS, FAIL or SKIP
    seconds: float
    detail: str
    log: Path | None = None


class Skipped(Exception):
    """A step that cannot run; the reason goes into the summary."""


def junit_counts(path: Path) -> str:
    """``N passed, M failed, K skipped`` from a pytest junit XML file."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return "no junit report"
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return f"{tests - failed - skipped} passed, {failed} failed, {skipped} skipped"


def meson_counts(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    counts = []
    for label in ("Ok", "Expected Fail", "Fail", "Unexpected Pass", "Skipped", "Timeout"):
        found = re.findall(rf"^{label}:\s+(\d+)\s*$", text, re.M)
        if found:
            counts.append(f"{found[-1]} {label.lower()}")
    return ", ".join(counts) or "no meson summary in the log"


def suite_defined(build_dir: Path) -> bool:
    intro = build_dir / "meson-info" / "intro-tests.json"
    try:
        tests = json.loads(intro.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(
        suite == SUITE or suite.endswith(f":{SUITE}")
        for test in tests
        for suite in test.get("suite", [])
    )


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
            runner.say(f"  | {line}")

    return show


def in_tree_suite(runner: Runner, workdir: Workdir, build_dir: Path, jobs: int) -> StepResult:
    log = workdir.log("in-tree-vmfwupdate.log")
    log.write_text("", encoding="utf-8")
    if not suite_defined(build_dir):
        raise Skipped(
            f"the QEMU build defines no meson suite `{SUITE}` (the series does not add one "
            "yet): nothing ran"
        )
    start = time.monotonic()
    progress = build.NinjaProgress(runner, "in-tree build")
    show = echo(runner)

    def on_line(line: str) -> None:
        if build.NinjaProgress.PATTERN.match(line):
            progress(line)
        else:
            show(line)

    code = runner.stream(
        # meson's per-test timeouts x3: on a loaded 2-core machine the qtest can pass 60 s
        ["make", "-C", build_dir, f"-j{jobs}", f"check-{SUITE}", "TIMEOUT_MULTIPLIER=3"],
        env=build.build_env(workdir),
        log=log,
        on_line=on_line,
    )
    progress.finish()
    seconds = time.monotonic() - start
    status = "PASS" if code == 0 else "FAIL"
    detail = f"meson suite {SUITE}: {meson_counts(log)}"
    if code != 0:
        detail += f"; see {build_dir / 'meson-logs' / 'testlog.txt'}"
    return StepResult("in-tree", status, seconds, detail, log)


def timed(results: list[StepResult], runner: Runner, name: str, body: Callable[[], str]) -> bool:
    runner.say(f"==> {name}")
    start = time.monotonic()
    try:
        detail = body()
    except Skipped as why:
        results.append(StepResult(name, "SKIP", time.monotonic() - start, str(why)))
        runner.say(f"    skipped: {why}")
        return True
    except HarnessError as exc:
        runner.say(exc.render())
        detail = exc.problem + (f" ({exc.path})" if exc.path else "")
        log = exc.path if exc.path and exc.path.suffix == ".log" else None
        results.append(StepResult(name, "FAIL", time.monotonic() - start, detail, log))
        return False
    results.append(StepResult(name, "PASS", time.monotonic() - start, detail))
    return True


def has_tests(directory: Path) -> bool:
    return directory.is_dir() and any(directory.rglob("test_*.py"))


def check(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    results: list[StepResult] = []
    total_start = time.monotonic()
    if args.skip_unit:
        results.append(StepResult("unit", "SKIP", 0.0, "--skip-unit given"))
    else:
        runner.say("==> unit")
        results.append(run_pytest(runner, workdir, "unit", "tests/unit", []))

    state: dict[str, object] = {}

    def do_fetch() -> str:
        spec = source.resolve_spec(args.qemu_src, workdir)
        tree = source.prepare(spec, workdir, runner, sha256=args.sha256)
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
        result = build.build(
            tree.path,
            workdir,
            runner,
            profile=args.profile,
            build_dir=args.build_dir,
            jobs=args.jobs,
        )
        state["build"] = result
        how = "configured and built" if result.configured else "incremental"
        return f"{args.profile} profile, {how}: {result.qemu}"

    ok = timed(results, runner, "fetch", do_fetch)
    ok = ok and timed(results, runner, "apply", do_apply)
    ok = ok and timed(results, runner, "build", do_build)
    if ok:
        built = state["build"]
        assert isinstance(built, build.BuildResult)
        results[-1].log = built.log
        runner.say("==> in-tree")
        start = time.monotonic()
        try:
            results.append(in_tree_suite(runner, workdir, built.build_dir, args.jobs))
        except Skipped as why:
            results.append(StepResult("in-tree", "SKIP", time.monotonic() - start, str(why)))
        functional = workdir.repo / "tests" / "functional"
        if args.skip_functional:
            results.append(StepResult("functional", "SKIP", 0.0, "--skip-functional given"))
        elif not has_tests(functional):
            results.append(
                StepResult("functional", "SKIP", 0.0, "tests/functional has no tests yet")
            )
        else:
            runner.say("==> functional")
            results.append(
                run_pytest(
                    runner,
                    workdir,
                    "functional",
                    "tests/functional",
                    [
                        "--qemu-bin",
                        str(built.qemu),
                        *(["--hostile-long"] if args.long else []),
                        *parallel.pytest_args(args.test_jobs),
                    ],
                )
            )
    else:
        for name in ("apply", "build", "in-tree", "functional"):
            if not any(r.name == name for r in results):
                results.append(StepResult(name, "SKIP", 0.0, "not run: an earlier step failed"))
    summary(results, runner, workdir, time.monotonic() - total_start)
    return 1 if any(r.status == "FAIL" for r in results) else 0


def relative(path: Path, workdir: Workdir) -> str:
    try:
        return str(path.resolve().relative_to(workdir.repo.resolve()))
    except ValueError:
        return str(path)


def summary(results: list[StepResult], runner: Runner, workdir: Workdir, seconds: float) -> None:
    failed = [r for r in results if r.status == "FAIL"]
    skipped = [r for r in results if r.status == "SKIP"]
    lines = ["", "=" * 30 + " vmfwupdate check: summary " + "=" * 30]
    lines.append(f"{'step':<11} {'result':<6} {'time':>8}  details")
    for r in results:
        lines.append(f"{r.name:<11} {r.status:<6} {r.seconds:>7.1f}s  {r.detail}")
        if r.log is not None:
            lines.append(f"{'':<29}log: {relative(r.log, workdir)}")
    verdict = "FAIL" if failed else "PASS"
    lines.append(
        f"result: {verdict}: {len(results) - len(failed) - len(skipped)} passed, "
        f"{len(failed)} failed, {len(skipped)} skipped in {seconds:.0f}s; "
        f"logs in {relative(workdir.logs, workdir)}/"
    )
    print("\n".join(lines), flush=True)
