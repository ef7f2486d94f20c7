"""The command line: exit codes, error text, -v placement, python -m harness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import workdir
from harness.cli import main, make_parser
from harness.errors import os_error

ARGPARSE_USAGE_ERROR = 2


@pytest.fixture(autouse=True)
def own_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commands run on a checkout of their own: the real one's .work may be locked by a
    build or test run going on beside the unit tests, and would make them wait."""
    repo = tmp_path / "checkout"
    for series in workdir.SERIES:
        (repo / workdir.SERIES_DIR / series).mkdir(parents=True)
    monkeypatch.setattr(workdir, "find_repo_root", lambda: repo)
    return repo


def test_bad_source_exits_non_zero_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["fetch", "--qemu-src", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("vmfwupdate fetch: error: QEMU source not found")
    assert "what to do:" in err


def test_qemu_src_environment_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QEMU_SRC", str(tmp_path / "from-env"))
    assert main(["apply"]) == 1
    assert str(tmp_path / "from-env") in capsys.readouterr().err


def test_verbose_before_or_after_the_command() -> None:
    parser = make_parser()
    assert parser.parse_args(["-v", "build"]).verbose == 1
    assert parser.parse_args(["build", "-v"]).verbose == 1
    assert parser.parse_args(["build"]).verbose == 0
    assert parser.parse_args(["build", "--asan"]).profile == "asan"
    assert parser.parse_args(["check"]).profile == "default"


def test_unknown_profile_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        make_parser().parse_args(["build", "--profile", "turbo"])
    assert info.value.code == ARGPARSE_USAGE_ERROR


def test_python_dash_m_harness_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    for command in ("fetch", "apply", "export", "build", "checkpatch", "check"):
        assert command in proc.stdout


def test_fuzz_options_parse() -> None:
    args = make_parser().parse_args(
        ["fuzz", "--target", "vmfwupdate-q35", "--time", "60", "--runs", "5", "--corpus", "c"]
    )
    assert (args.command, args.target, args.time, args.runs) == ("fuzz", "vmfwupdate-q35", 60, 5)
    assert args.corpus == Path("c")
    assert make_parser().parse_args(["fuzz"]).target == "all"


def test_fuzz_profile_only_for_build() -> None:
    assert make_parser().parse_args(["build", "--profile", "fuzz"]).profile == "fuzz"
    with pytest.raises(SystemExit):
        make_parser().parse_args(["check", "--profile", "fuzz"])


def test_fuzz_rejects_zero_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "--time", "0", "--no-build"]) == 1
    err = capsys.readouterr().err
    assert "vmfwupdate fuzz: error: --time must be at least 1" in err


@pytest.mark.parametrize(
    ("series", "argv"),
    [("v8", ["check", "--skip-unit"]), ("v8", ["build"]), ("V6", ["run", "--dry-run"])],
)
def test_unknown_series_from_the_environment_is_a_usage_error(
    series: str,
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """argparse checks --series but not a default from $SERIES: it was v7 (or a traceback)."""
    monkeypatch.setenv("SERIES", series)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == ARGPARSE_USAGE_ERROR
    assert f"SERIES={series} (from the environment) is not a series" in capsys.readouterr().err


@pytest.mark.parametrize("jobs", ["-3", "0"])
def test_jobs_must_be_positive(jobs: str) -> None:
    with pytest.raises(SystemExit):
        make_parser().parse_args(["build", "-j", jobs])


def test_file_system_error_is_a_step_error() -> None:
    """A file system error no step handled (read-only checkout, full disk) is rendered as
    the step's error with the file and what to do, not a traceback."""
    with pytest.raises(OSError) as raised:
        Path("/proc/version/logs").mkdir()
    text = os_error("build", raised.value).render()
    assert text.startswith("vmfwupdate build: error: Not a directory")
    assert "file: /proc/version/logs" in text and "what to do: " in text
