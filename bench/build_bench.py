"""Build figures of one series: cold (no compiler cache), ccache-warm, the edit-rebuild-test
loop, a rebuild with nothing changed.

Cold and warm builds configure and build a fresh directory beside the series' own
builds, ``.work/<series>/build/bench-warm`` (the developer's ``build/default`` is not
touched): at the same place relative to the series' tree as ``build/default``, so under
ccache's base directory (``.work``, `harness.build.qemu.build_env`) the compiler command
lines are those of the series' own build and a warm build finds them in the cache. Each
build's ccache stats log gives the figure's note: how many compilations came from the
cache. Cold builds run with CCACHE_DISABLE=1. The loop is the developer's one command
after editing hw/misc/vmfwupdate.c: the file is touched (content unchanged) and
`vmfwupdate test --series S -k LOOP_TEST` rebuilds and reruns one flow test.

The smoke run builds nothing (a build in the functional step would race the tests that
run the binary): it checks every command line against the toolkit's parser and runs
the loop's test selection once on the series' binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.commands import suite_run, toolkit
from bench.settings import LOOP_TEST, Settings
from bench.stats import Figure, timed_command
from bench.target import Target
from harness.workdir import Workdir

EDITED = Path("hw/misc/vmfwupdate.c")
WARM_DIR = "bench-warm"
COLD_DIR = "bench-cold"
CACHE_HITS = ("direct_cache_hit", "preprocessed_cache_hit")
CACHE_MISS = "cache_miss"


def other_builds() -> str:
    """Other ninja processes on the machine (they skew build figures); '' if none."""
    proc = subprocess.run(["pgrep", "-a", "ninja"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def bench_build_dir(workdir: Workdir, name: str) -> Path:
    """A fresh build directory at the same depth below the series as its own builds."""
    return workdir.build_dir(name)


def ccache_counts(stats_log: Path) -> tuple[int, int]:
    """(hits, misses) of the compilations in a ccache stats log (CCACHE_STATSLOG)."""
    try:
        lines = stats_log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0, 0
    counts = Counter(line.strip() for line in lines)
    return sum(counts[h] for h in CACHE_HITS), counts[CACHE_MISS]


def fresh_build(target: Target, work: Path, name: str, env: dict[str, str]) -> tuple[float, str]:
    """Configure and build `name` from scratch; (seconds, what ccache said)."""
    build_dir = bench_build_dir(target.workdir, name)
    stats_log = work / f"ccache-{name}.log"
    stats_log.parent.mkdir(parents=True, exist_ok=True)
    stats_log.unlink(missing_ok=True)
    shutil.rmtree(build_dir, ignore_errors=True)
    argv = toolkit("build", "--series", target.series, "--build-dir", str(build_dir))
    try:
        env = {**env, "CCACHE_STATSLOG": str(stats_log)}
        seconds = timed_command(argv, target.workdir.repo, env)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    hits, misses = ccache_counts(stats_log)
    return seconds, f"ccache: {hits} hits, {misses} misses"


def fresh_builds(target: Target, work: Path, settings: Settings, note: str) -> list[Figure]:
    figures = []
    for name, label, reps, env in (
        (COLD_DIR, "cold build (no ccache)", settings.cold_builds, {"CCACHE_DISABLE": "1"}),
        (WARM_DIR, "ccache-warm build, fresh dir", settings.warm_builds, {}),
    ):
        if not reps:
            continue
        figure = Figure("build", label)
        cache = ""
        for _ in range(reps):
            seconds, cache = fresh_build(target, work, name, dict(os.environ, **env))
            figure.samples.append(seconds)
        figure.note = f"{note}; last build {cache}" if not env else note
        figures.append(figure)
    return figures


def run(target: Target, work: Path, settings: Settings) -> list[Figure]:
    if settings.smoke:
        return smoke(target, work)
    busy = other_builds()
    note = f"other builds running: {busy.count(chr(10)) + 1}" if busy else "machine otherwise idle"
    figures = fresh_builds(target, work, settings, note)
    loop = Figure("build", "edit vmfwupdate.c, rebuild, rerun 1 test", note=note)
    rebuild = Figure("build", "rebuild, nothing changed", note=note)
    test = toolkit("test", "--series", target.series, "-k", LOOP_TEST)
    build = toolkit("build", "--series", target.series)
    repo = target.workdir.repo
    for _ in range(settings.short_reps):
        (target.tree / EDITED).touch()
        loop.samples.append(timed_command(test, repo))
        rebuild.samples.append(timed_command(build, repo))
    return [*figures, loop, rebuild]


def smoke(target: Target, work: Path) -> list[Figure]:
    """Every command line of the group parsed, the loop's test run once, nothing built."""
    for name in (COLD_DIR, WARM_DIR):
        build_dir = bench_build_dir(target.workdir, name)
        toolkit("build", "--series", target.series, "--build-dir", str(build_dir))
    toolkit("test", "--series", target.series, "-k", LOOP_TEST)
    toolkit("build", "--series", target.series)
    if not (target.tree / EDITED).is_file():
        raise RuntimeError(f"the loop edits {EDITED}, which {target.tree} does not have")
    cmd = suite_run(target.series, target.qemu, work, ["-k", LOOP_TEST], 1)
    figure = Figure("build", "rerun the loop's test (smoke: no rebuild)")
    figure.samples.append(timed_command(cmd, target.workdir.repo))
    return [figure]
