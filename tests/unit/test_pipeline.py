"""The check pipeline's reading of test results and its summary."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.runner import Runner
from harness.workdir import Workdir
from harness.workflows import pipeline, step_report

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="2" skipped="3" tests="10">
</testsuite></testsuites>
"""

MESON_TAIL = """
Ok:                 4
Expected Fail:      0
Fail:               1
Unexpected Pass:    0
Skipped:            2
Timeout:            0
"""


def test_junit_counts(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    path.write_text(JUNIT)
    assert step_report.junit_counts(path) == "4 passed, 3 failed, 3 skipped"
    assert step_report.junit_counts(tmp_path / "missing.xml") == "no junit report"


def test_meson_counts(tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    log.write_text("1/5 qemu:qtest+vmfwupdate / qtest-x86_64/vmfwupdate-test OK\n" + MESON_TAIL)
    text = step_report.meson_counts(log)
    assert text == "4 ok, 0 expected fail, 1 fail, 0 unexpected pass, 2 skipped, 0 timeout"


def test_suite_detection(tmp_path: Path) -> None:
    intro = tmp_path / "meson-info"
    intro.mkdir()
    tests = [{"name": "qtest-x86_64/fw_cfg-test", "suite": ["qemu:qtest", "qemu:qtest-x86_64"]}]
    (intro / "intro-tests.json").write_text(json.dumps(tests))
    assert not pipeline.suite_defined(tmp_path)
    tests.append({"name": "qtest-x86_64/vmfwupdate-test", "suite": ["qemu:vmfwupdate"]})
    (intro / "intro-tests.json").write_text(json.dumps(tests))
    assert pipeline.suite_defined(tmp_path)
    assert not pipeline.suite_defined(tmp_path / "nowhere")


def test_summary_lists_every_step_and_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = Workdir(tmp_path)
    results = [
        step_report.StepResult("unit", "PASS", 1.0, "3 passed", tmp_path / ".work/logs/unit.log"),
        step_report.StepResult("build", "FAIL", 2.0, "ninja failed"),
        step_report.StepResult("functional", "SKIP", 0.0, "not run: an earlier step failed"),
    ]
    pipeline.summary(results, Runner(out=io.StringIO()), workdir, 3.0)
    text = capsys.readouterr().out
    assert "unit        PASS" in text and "build       FAIL" in text
    assert "log: .work/logs/unit.log" in text
    assert "result: FAIL: 1 passed, 1 failed, 1 skipped" in text
