"""Every benchmark group (bench/) once, at its smallest, on the series' binary: so that a
change that breaks a benchmark fails the functional step. Nothing about time is checked.

Settings.smoke_run: one repetition, the smallest reset image, the 1 MiB and the
10-directive IGVM files (a series that takes IGVM images), slope over 1 and 2 tests,
the suite narrowed to the edit loop's one test, the build group's commands parsed and its
test run without building (a build here would race the tests running the binary). Not
`core`, so not `quick`: the suite group's `-m quick` run never runs these.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.groups import GROUPS, applies, run_group
from bench.settings import Settings
from bench.target import target
from harness.workdir import Workdir

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("group", list(GROUPS))
def test_bench_group_runs(group: str, abi: str, qemu_bin: Path, tmp_path: Path) -> None:
    measured = target(Workdir(REPO, abi), qemu_bin)
    if not applies(group, measured):
        pytest.skip(f"bench group {group} measures nothing on {abi} (bench/groups.py: applies)")
    figures = run_group(group, measured, tmp_path, Settings.smoke_run())
    assert figures, f"bench group {group} measured nothing"
    empty = [f.name for f in figures if not f.samples]
    assert not empty, f"bench group {group}: figures without samples: {empty}"
    assert {f.series for f in figures} == {abi}
