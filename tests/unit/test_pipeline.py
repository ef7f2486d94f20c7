"""The check pipeline's reading of test results and its summary."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.runner import Runner
from harness.workdir import Workdir
from harness.workflows import in_tree, pipeline, step_report

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


def write_meson_info(build: Path, src: Path) -> None:
    """meson-info as QEMU's build writes it: a qtest per target, a functional test."""
    info = build / "meson-info"
    info.mkdir(parents=True)
    tests = [
        {
            "name": f"qtest-{target}/{exe}",
            "cmd": [str(build / "tests" / "qtest" / exe), "--tap", "-k"],
            "depends": [f"7134ae4@@{exe}@exe", f"qemu-system-{target}@exe"],
        }
        for target in ("i386", "x86_64")
        for exe in ("fw_cfg-test", "vmfwupdate-test", "boot-order-test")
    ]
    tests.append(
        {
            "name": "func-x86_64-vmfwupdate",
            "cmd": [str(build / "pyvenv/bin/python3"), str(src / FUNC_TEST)],
            "depends": ["qemu-img@exe", "qemu-system-x86_64@exe"],
        }
    )
    targets = [
        {"id": f"7134ae4@@{exe}@exe", "filename": [str(build / "tests" / "qtest" / exe)]}
        for exe in ("fw_cfg-test", "vmfwupdate-test", "boot-order-test")
    ] + [
        {"id": f"{exe}@exe", "filename": [str(build / exe)]}
        for exe in ("qemu-img", "qemu-system-i386", "qemu-system-x86_64")
    ]
    (info / "intro-tests.json").write_text(json.dumps(tests))
    (info / "intro-targets.json").write_text(json.dumps(targets))
    directories = {"source": str(src), "build": str(build)}
    (info / "meson-info.json").write_text(json.dumps({"directories": directories}))


FUNC_TEST = "tests/functional/x86_64/test_vmfwupdate.py"


def test_in_tree_tests_are_the_tests_the_series_touches(tmp_path: Path) -> None:
    build, src = tmp_path / "build", tmp_path / "src"
    write_meson_info(build, src)
    touched = [
        "hw/misc/vmfwupdate.c",
        "tests/qtest/fw_cfg-test.c",
        "tests/qtest/meson.build",
        "tests/qtest/vmfwupdate-test.c",
        "tests/qtest/fuzz/generic_fuzz_configs.h",
        FUNC_TEST,
    ]
    tests = in_tree.select(build, touched)
    assert tests.names == (
        "func-x86_64-vmfwupdate",
        "qtest-i386/fw_cfg-test",
        "qtest-i386/vmfwupdate-test",
        "qtest-x86_64/fw_cfg-test",
        "qtest-x86_64/vmfwupdate-test",
    )
    assert tests.targets == (
        "qemu-img",
        "qemu-system-i386",
        "qemu-system-x86_64",
        "tests/qtest/fw_cfg-test",
        "tests/qtest/vmfwupdate-test",
    )


def test_in_tree_without_series_tests_says_so(tmp_path: Path) -> None:
    build, src = tmp_path / "build", tmp_path / "src"
    write_meson_info(build, src)
    with pytest.raises(in_tree.NoTests, match="touches no qtest"):
        in_tree.select(build, ["hw/misc/vmfwupdate.c"])


def test_in_tree_before_configure_says_to_build(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as info:
        in_tree.select(tmp_path, [FUNC_TEST])
    assert "vmfwupdate build" in (info.value.hint or "")


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
