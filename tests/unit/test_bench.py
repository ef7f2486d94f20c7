"""The benchmarks' own logic that needs no QEMU: where the warm build sits, what ccache's
stats log says, the commands the groups run. (Every group runs in the functional step's
smoke run, tests/functional/bench_smoke/.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench import report
from bench.build_bench import COLD_DIR, WARM_DIR, bench_build_dir, ccache_counts
from bench.commands import suite_run, toolkit
from bench.settings import Settings, SettingsError
from bench.stats import BYTES, SECONDS, Figure, show
from bench.target import PROFILE
from harness.platform import KIB, MIB
from harness.tree.source import PINNED_VERSION
from harness.workdir import SERIES, Workdir


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("name", [WARM_DIR, COLD_DIR])
def test_bench_build_sits_where_the_series_builds_sit(
    tmp_path: Path, series: str, name: str
) -> None:
    """Under ccache's base directory the compiler sees paths relative to the build dir:
    the same path to the tree as the series' own build, or every object misses."""
    workdir = Workdir(tmp_path, series)
    tree = workdir.src / f"qemu-{PINNED_VERSION}"
    own = workdir.build_dir(PROFILE)
    bench = bench_build_dir(workdir, name)
    assert bench != own
    assert os.path.relpath(tree, bench) == os.path.relpath(tree, own)


@pytest.mark.skipif(shutil.which("ccache") is None, reason="ccache not installed")
def test_ccache_counts_read_a_real_stats_log(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text("int f(void) { return 1; }\n")
    log = tmp_path / "stats.log"
    env = dict(os.environ, CCACHE_DIR=str(tmp_path / "cache"), CCACHE_STATSLOG=str(log))
    for _ in range(2):
        subprocess.run(
            ["ccache", "cc", "-c", "a.c", "-o", "a.o"], cwd=tmp_path, env=env, check=True
        )
    assert ccache_counts(log) == (1, 1)
    assert ccache_counts(tmp_path / "missing.log") == (0, 0)


@pytest.mark.parametrize("series", SERIES)
def test_suite_run_names_the_series_abi_and_binary(tmp_path: Path, series: str) -> None:
    cmd = suite_run(series, Path("/q/qemu"), tmp_path, ["-m", "quick", "--accel", "tcg"], 3)
    joined = " ".join(cmd)
    assert f"--abi {series}" in joined and "--qemu-bin=/q/qemu" in joined
    assert "-n 3" in joined and "-m quick" in joined
    assert f"--vm-log-dir={tmp_path / 'vm-logs'}" in cmd[cmd.index("-m") :]  # ours wins
    assert " -n " not in " ".join(suite_run(series, Path("/q"), tmp_path, [], 1))


def test_toolkit_refuses_what_the_cli_does_not_take() -> None:
    assert toolkit("build", "--series", "v7")[-3:] == ["build", "--series", "v7"]
    with pytest.raises(ValueError, match="refuses"):
        toolkit("build", "--no-such-option")


def test_settings() -> None:
    smoke = Settings.smoke_run()
    assert smoke.reps == smoke.short_reps == smoke.suite_reps == 1
    assert len(smoke.reset_sizes) == 1 and len(set(smoke.slope_counts)) > 1  # a slope
    assert smoke.warm_builds == smoke.cold_builds == 0 and smoke.suite_keyword
    full = Settings.from_env({"BENCH_REPS": "4", "BENCH_COLD": "1"})
    assert (full.reps, full.short_reps, full.suite_reps, full.cold_builds) == (4, 3, 2, 1)
    assert full.suite_keyword is None
    with pytest.raises(SettingsError, match="BENCH_REPS"):
        Settings.from_env({"BENCH_REPS": "many"})


def test_igvm_settings() -> None:
    smoke, full = Settings.smoke_run(), Settings.from_env({})
    assert (len(smoke.igvm_sizes), len(smoke.igvm_directives)) == (1, 1)
    assert set(smoke.igvm_sizes) < set(full.igvm_sizes)
    assert set(smoke.igvm_directives) < set(full.igvm_directives)


def test_figures_in_bytes_show_as_bytes() -> None:
    assert show(1.5 * MIB, BYTES) == "1.5 MiB" and show(-24 * KIB, BYTES) == "-24.0 KiB"
    assert show(0.002, SECONDS) == "2.0 ms"
    with pytest.raises(ValueError, match="unit"):
        show(1.0, "furlongs")
    fig = Figure("igvm", "peak", [2.0 * MIB], unit=BYTES)
    assert Figure.from_dict(fig.as_dict()).unit == BYTES
    assert Figure.from_dict({"group": "g", "name": "n"}).unit == SECONDS  # older JSON


def test_a_partial_run_keeps_the_other_figures(tmp_path: Path) -> None:
    def fig(series: str, group: str, name: str, value: float) -> Figure:
        return Figure(group, name, [value], series=series)

    old = [fig("v6", "reset", "a", 1.0), fig("v7", "reset", "a", 2.0), fig("v7", "igvm", "b", 3.0)]
    report.write_json(report.Results({"date": "then", "cpus": 2}, old), tmp_path / "bench.json")
    new = [fig("v7", "igvm", "b", 4.0)]
    merged = report.merge(report.read_json(tmp_path / "bench.json"), new, [("v7", "igvm")])
    assert [(f.series, f.group, f.samples) for f in merged.figures] == [
        ("v6", "reset", [1.0]),
        ("v7", "reset", [2.0]),
        ("v7", "igvm", [4.0]),
    ]
    assert merged.meta["date"] == "then"
    header = report.table(merged).splitlines()[1]
    assert "the igvm group(s) (v7) measured again on" in header
    again = report.merge(merged, new, [("v7", "igvm")])
    assert len(again.meta[report.MERGED_RUNS]) == 1, "the first merge's date is replaced"
