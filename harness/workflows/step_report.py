"""What a step of the check pipeline reports: its result, test counts from its logs, the summary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.workdir import Workdir


@dataclass
class StepResult:
    name: str
    status: str  # PASS, FAIL or SKIP
    seconds: float
    detail: str
    log: Path | None = None


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


def relative(path: Path, workdir: Workdir) -> str:
    try:
        return str(path.resolve().relative_to(workdir.repo.resolve()))
    except ValueError:
        return str(path)


def render_summary(results: list[StepResult], workdir: Workdir, seconds: float) -> str:
    """The table `vmfwupdate check` ends with: each step, its result, time and log."""
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
    return "\n".join(lines)
