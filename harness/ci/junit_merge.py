"""Merging the shards' JUnit reports into one verdict (``vmfwupdate shards merge``).

Input: the JUnit XML files the shards wrote (``--junitxml``) and, beside each, the shard
manifest the ``--shard`` plugin wrote (``X.shard.json``: every collected test id and the ones
this shard selected). The merge passes only when

- every shard 1..N of the run has a report (and all of them used the same N),
- all shards collected the same tests (else their partitions differ: e.g. a different
  durations file or a different checkout),
- every collected test has exactly one testcase across the reports (missing and duplicate
  tests are named), no testcase is for a test nobody collected,
- no testcase failed or errored (skips are fine).

It writes one merged JUnit file (one ``<testsuite>`` per shard), optionally the durations
file for the next run's balance, and prints a summary: counts, per-shard times, the
imbalance, the slowest tests.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.ci import shard
from harness.errors import HarnessError

log = logging.getLogger(__name__)

STEP = "shards merge"
SHOWN = 20  # test ids named per problem before "... and N more"


@dataclass
class Case:
    test_id: str
    seconds: float
    outcome: str  # passed, failed, error, skipped
    message: str
    report: Path


@dataclass
class ShardReport:
    junit: Path
    manifest: shard.Manifest | None
    cases: list[Case]
    wall: float  # the testsuite's own time: the shard's pytest session

    @property
    def label(self) -> str:
        return str(self.manifest.spec) if self.manifest else self.junit.name


@dataclass
class MergeResult:
    reports: list[ShardReport]
    expected: list[str]
    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicates: dict[str, list[Path]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    failed: list[Case] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.problems or self.missing or self.duplicates or self.unexpected or self.failed
        )

    @property
    def cases(self) -> list[Case]:
        return [case for report in self.reports for case in report.cases]


def outcome_of(case: ET.Element) -> tuple[str, str]:
    for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        child = case.find(tag)
        if child is not None:
            return outcome, (child.get("message") or "").strip()
    return "passed", ""


def read_junit(path: Path) -> tuple[list[Case], float]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise HarnessError(
            STEP,
            f"not a valid JUnit XML file: {exc}",
            path=path,
            hint="the shard job was cut short or the file was edited; re-run that shard",
        ) from exc
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    wall = sum(float(suite.get("time", "0") or 0) for suite in suites)
    cases = []
    for element in root.iter("testcase"):
        outcome, message = outcome_of(element)
        cases.append(
            Case(
                test_id=shard.testcase_id(element),
                seconds=float(element.get("time", "0") or 0),
                outcome=outcome,
                message=message,
                report=path,
            )
        )
    return cases, wall


def find_reports(paths: Sequence[Path]) -> list[Path]:
    """JUnit files among ``paths``: files as given, directories searched for ``*.xml``."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.xml") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise HarnessError(
                STEP,
                f"no such file or directory: {path}",
                path=path,
                hint="pass the directories the shard jobs' artifacts were unpacked into",
            )
    if not found:
        raise HarnessError(
            STEP,
            "no JUnit XML files found in " + ", ".join(str(p) for p in paths),
            hint="the shards write them with --junitxml; check the jobs' artifacts",
        )
    return found


def load(paths: Sequence[Path]) -> list[ShardReport]:
    reports = []
    for junit in find_reports(paths):
        cases, wall = read_junit(junit)
        manifest_file = shard.manifest_path(junit)
        manifest = None
        if manifest_file.is_file():
            try:
                manifest = shard.Manifest.read(manifest_file)
            except shard.ShardError as exc:
                raise HarnessError(STEP, str(exc), path=manifest_file) from exc
        reports.append(ShardReport(junit=junit, manifest=manifest, cases=cases, wall=wall))
    return reports


def named(ids: Iterable[str]) -> str:
    ids = list(ids)
    text = "\n".join(f"    {test_id}" for test_id in ids[:SHOWN])
    if len(ids) > SHOWN:
        text += f"\n    ... and {len(ids) - SHOWN} more"
    return text


def check(reports: list[ShardReport]) -> MergeResult:
    manifests = [r.manifest for r in reports if r.manifest is not None]
    result = MergeResult(reports=reports, expected=[])
    without = [r.junit for r in reports if r.manifest is None]
    if without:
        result.problems.append(
            "no shard manifest (what the shard collected) beside "
            + ", ".join(str(p) for p in without)
            + ": completeness cannot be checked; run the shards with --shard and --junitxml"
        )
    if manifests:
        totals = sorted({m.spec.total for m in manifests})
        if len(totals) > 1:
            result.problems.append(f"the shards disagree on the number of shards: {totals}")
        total = totals[-1]
        seen = Counter(m.spec.index for m in manifests)
        absent = [i for i in range(1, total + 1) if seen[i] == 0]
        if absent:
            result.problems.append(
                f"no report from shard(s) {', '.join(f'{i}/{total}' for i in absent)}"
            )
        twice = sorted(i for i, n in seen.items() if n > 1)
        if twice:
            result.problems.append(
                f"more than one report from shard(s) {', '.join(f'{i}/{total}' for i in twice)}"
            )
        collected = {tuple(m.collected) for m in manifests}
        if len({frozenset(c) for c in collected}) > 1:
            result.problems.append(
                "the shards collected different tests (different checkouts, options or "
                "plugins); their partitions do not fit together"
            )
        digests = {m.durations_sha256 for m in manifests}
        if len(digests) > 1:
            result.problems.append(
                "the shards balanced on different durations files (sha256 "
                + ", ".join(sorted(str(d)[:12] for d in digests))
                + "): give every shard of a run the same file"
            )
        expected: dict[str, None] = {}
        for m in manifests:
            expected.update(dict.fromkeys(m.collected))
        result.expected = list(expected)
    counts = Counter(case.test_id for case in result.cases)
    where: dict[str, list[Path]] = {}
    for case in result.cases:
        where.setdefault(case.test_id, []).append(case.report)
    if manifests:
        result.missing = [t for t in result.expected if counts[t] == 0]
        known = set(result.expected)
        result.unexpected = [t for t in counts if t not in known]
    result.duplicates = {t: where[t] for t, n in counts.items() if n > 1}
    result.failed = [c for c in result.cases if c.outcome in ("failed", "error")]
    return result


def failure_text(result: MergeResult) -> str:
    lines: list[str] = list(result.problems)
    dup = [
        f"{t} ({len(paths)}x: {', '.join(p.name for p in paths)})"
        for t, paths in result.duplicates.items()
    ]
    failed = [
        f"{c.test_id} ({c.outcome}, {c.report.name}): {c.message[:160]}" for c in result.failed
    ]
    for title, rows in (
        ("collected test(s) did not run in any shard", result.missing),
        ("test(s) ran more than once", dup),
        ("testcase(s) for tests no shard collected", result.unexpected),
        ("test(s) failed", failed),
    ):
        if rows:
            lines.append(f"{len(rows)} {title}:\n" + named(rows))
    return "\n".join(lines)


def first(ids: Sequence[str]) -> str:
    more = f" and {len(ids) - 1} more" if len(ids) > 1 else ""
    return f"{ids[0]}{more}"


def headline(result: MergeResult) -> str:
    """One line naming what is wrong, with the first test concerned."""
    parts = []
    if result.missing:
        parts.append(f"collected but ran in no shard: {first(result.missing)}")
    if result.duplicates:
        parts.append(f"ran more than once: {first(list(result.duplicates))}")
    if result.unexpected:
        parts.append(f"not collected by any shard: {first(result.unexpected)}")
    if result.failed:
        parts.append(f"failed: {first([c.test_id for c in result.failed])}")
    if not parts:
        parts.append(result.problems[0])
    return "; ".join(parts)


def hint(result: MergeResult) -> str:
    if result.missing or result.duplicates or result.unexpected or result.problems:
        return (
            "every shard must collect the same tests and split them the same way: the same "
            "checkout, options and --shard-durations file for all N shards (and every shard "
            "job's report in the directories given); re-run the pipeline"
        )
    return "see the failed tests' shard logs and JUnit reports (artifacts of the shard jobs)"


def summary(result: MergeResult, slowest: int = 10) -> str:
    cases = result.cases
    outcomes = Counter(c.outcome for c in cases)
    lines = [
        f"merged {len(result.reports)} shard report(s): {len(cases)} testcases, "
        f"{len(set(c.test_id for c in cases))} distinct tests, "
        f"{len(result.expected)} collected; "
        + ", ".join(f"{outcomes[o]} {o}" for o in ("passed", "failed", "error", "skipped")),
        "shard      tests   test time    wall time  report",
    ]
    for report in sorted(
        result.reports, key=lambda r: (r.manifest.spec.index if r.manifest else 0, r.junit)
    ):
        busy = sum(c.seconds for c in report.cases)
        lines.append(
            f"{report.label:<9} {len(report.cases):>6} {busy:>10.1f} s {report.wall:>10.1f} s  "
            f"{report.junit}"
        )
    walls = [r.wall for r in result.reports]
    if walls and min(walls) > 0:
        mean = sum(walls) / len(walls)
        lines.append(
            f"imbalance: slowest shard {max(walls):.1f} s = {max(walls) / mean:.2f}x the mean "
            f"({mean:.1f} s), {max(walls) / min(walls):.2f}x the fastest ({min(walls):.1f} s)"
        )
    balanced = {r.manifest.by_durations for r in result.reports if r.manifest}
    if balanced:
        lines.append(
            "balanced by: "
            + ("recorded durations" if balanced == {True} else "test id (no durations file)")
        )
    if cases:
        lines.append(f"slowest {min(slowest, len(cases))} tests:")
        for case in sorted(cases, key=lambda c: -c.seconds)[:slowest]:
            lines.append(f"  {case.seconds:8.2f} s  {case.test_id}")
    return "\n".join(lines)


def write_merged(result: MergeResult, output: Path) -> None:
    """One JUnit file with every shard's testsuite (GitLab shows them as one report)."""
    root = ET.Element("testsuites")
    for report in result.reports:
        tree = ET.parse(report.junit).getroot()
        for suite in [tree] if tree.tag == "testsuite" else list(tree.iter("testsuite")):
            suite.set("name", f"{suite.get('name', 'pytest')} shard {report.label}")
            root.append(suite)
    totals = Counter()
    for suite in root:
        for key in ("tests", "failures", "errors", "skipped"):
            totals[key] += int(suite.get(key, "0") or 0)
    for key, value in totals.items():
        root.set(key, str(value))
    output.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(output, encoding="utf-8", xml_declaration=True)


def merge(
    paths: Sequence[Path],
    *,
    output: Path | None = None,
    durations_out: Path | None = None,
    slowest: int = 10,
) -> tuple[MergeResult, str]:
    """Check and merge; returns the result and its summary. Raises HarnessError on failure
    (after writing the merged report and the durations, which are useful either way)."""
    reports = load(paths)
    result = check(reports)
    text = summary(result, slowest)
    if output is not None:
        write_merged(result, output)
    if durations_out is not None:
        durations = {c.test_id: c.seconds for c in result.cases}
        shard.write_durations(durations_out, durations)
        log.info("wrote %d durations to %s", len(durations), durations_out)
    if not result.ok:
        raise HarnessError(
            STEP,
            headline(result),
            details=failure_text(result) + "\n" + text,
            hint=hint(result),
        )
    return result, text
