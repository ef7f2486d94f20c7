"""Parallel functional runs: the -n/--serial options and one count per test in the JUnit XML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import make_parser
from harness.workflows import step_report, workers
from harness.workflows.devloop import pytest_command

WORKERS = 3
TESTS = """
import pytest

@pytest.mark.parametrize("i", range(4))
def test_pass(i):
    pass

def test_fail():
    assert False

def test_skip():
    pytest.skip("not here")
"""


@pytest.mark.parametrize("command", ["test", "check"])
def test_workers_default_serial_and_n(command: str) -> None:
    parser = make_parser()
    assert parser.parse_args([command]).test_jobs is None
    assert parser.parse_args([command, "--serial"]).test_jobs == 1
    assert parser.parse_args([command, "-n", str(WORKERS)]).test_jobs == WORKERS
    with pytest.raises(SystemExit):
        parser.parse_args([command, "-n", "0"])


def test_pytest_args() -> None:
    assert workers.pytest_args(1) == []
    assert workers.pytest_args(2) == ["-n", "2", "--dist", "worksteal"]
    default = workers.pytest_args(None)
    assert default == ([] if workers.cpus() == 1 else workers.pytest_args(workers.cpus()))


REPO = Path("/w")
LOGS = REPO / ".work/v7/logs/functional"


def test_test_command_logs_per_series() -> None:
    """`vmfwupdate test` puts the VM logs in the series' own log directory, as the check
    pipeline does; a --vm-log-dir after -- comes later on the command line and wins."""
    parser = make_parser()
    qemu = Path("/b/qemu-system-x86_64")
    cmd = pytest_command(parser.parse_args(["test", "-m", "quick"]), qemu, "v7", LOGS, REPO)
    assert cmd[4:8] == ["--abi", "v7", f"--qemu-bin={qemu}", f"--vm-log-dir={LOGS}"]
    ci = pytest_command(
        parser.parse_args(["test", "--", "--vm-log-dir=ci"]), qemu, "v7", LOGS, REPO
    )
    assert ci.index("--vm-log-dir=ci") > ci.index(f"--vm-log-dir={LOGS}")


def test_test_command_workers() -> None:
    """The whole suite or a marker runs on all CPUs; -k (the edit loop) in one process,
    unless -n says otherwise; pytest arguments after -- come last and win."""
    parser = make_parser()
    qemu = Path("/b/qemu-system-x86_64")
    everything = pytest_command(parser.parse_args(["test", "-m", "quick"]), qemu, "v7", LOGS, REPO)
    assert everything[8:] == [*workers.pytest_args(None), "-m", "quick", "--accel", "tcg"]
    loop = pytest_command(
        parser.parse_args(["test", "-k", "cf9", "--", "-x"]), qemu, "v7", LOGS, REPO
    )
    assert loop[8:] == ["-k", "cf9", "--accel", "tcg", "-x"]
    spread = pytest_command(
        parser.parse_args(["test", "-k", "tcg", "-n", "2"]), qemu, "v7", LOGS, REPO
    )
    assert spread[8:] == ["-n", "2", "--dist", "worksteal", "-k", "tcg", "--accel", "tcg"]


def test_parallel_junit_counts_every_test_once(tmp_path: Path) -> None:
    """The pipeline's summary reads the JUnit XML that xdist's controller writes."""
    (tmp_path / "test_sample.py").write_text(TESTS)
    xml = tmp_path / "report.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    proc = subprocess.run(
        [*cmd, f"--junitxml={xml}", *workers.pytest_args(2)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bringing up nodes" in proc.stdout  # it did run on xdist workers
    assert step_report.junit_counts(xml) == "4 passed, 1 failed, 1 skipped"
