"""The toolkit commands the benchmarks time, spelled as a developer types them.

Every argv is parsed by the toolkit's own parser (`harness.cli.make_parser`), so a
renamed or removed option fails the benchmark (and its smoke run) at once, and the
pytest run of `vmfwupdate test` comes from `devloop.pytest_command`, the one place that
says how a series' functional suite is run (--abi, --qemu-bin, workers).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli import make_parser
from harness.workdir import find_repo_root
from harness.workflows.devloop import pytest_command


def toolkit(*argv: str) -> list[str]:
    """``python -m harness ARGV``, after checking that the toolkit's parser takes ARGV."""
    parse(argv)
    return [sys.executable, "-m", "harness", *argv]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    try:
        return make_parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse has printed why
        raise ValueError(f"the toolkit's parser refuses `vmfwupdate {' '.join(argv)}`") from exc


def suite_run(
    series: str, qemu: Path, work: Path, test_args: Sequence[str], workers: int
) -> list[str]:
    """The pytest command `vmfwupdate test --series SERIES --no-build TEST_ARGS -n WORKERS`
    runs, on `qemu`, with its VM logs and agent images under `work`."""
    args = parse(
        [
            "test",
            "--series",
            series,
            "--no-build",
            *test_args,
            "-n",
            str(workers),
            "--",
            f"--vm-log-dir={work / 'vm-logs'}",
            f"--payload-dir={work / 'payloads'}",
            "-p",
            "no:cacheprovider",
        ]
    )
    return pytest_command(args, qemu, series, work / "vm-logs", find_repo_root())
