"""Build figures: cold (empty compiler cache), ccache-warm, and the edit-rebuild-test loop.

Cold and warm builds configure and build a fresh directory under
.work/bench/ (the developer's .work/build/default is not touched); cold runs
with CCACHE_DISABLE=1 so nothing comes from the cache. The loop is the
developer's one command after editing hw/misc/vmfwupdate.c: the file is
touched (content unchanged) and `vmfwupdate test -k PATTERN` rebuilds and
reruns one flow test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.stats import Figure, timed_command

LOOP_TEST = "test_update_applied_on_reset and pc and cf9"
EDITED = Path("hw/misc/vmfwupdate.c")


def other_builds() -> str:
    """Other ninja processes on the machine (they skew build figures); '' if none."""
    proc = subprocess.run(["pgrep", "-a", "ninja"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> float:
    return timed_command([sys.executable, "-m", "harness", *args], repo, env)


def fresh_build(repo: Path, work: Path, name: str, env: dict[str, str]) -> float:
    build_dir = work / name
    shutil.rmtree(build_dir, ignore_errors=True)
    try:
        return cli(repo, "build", "--build-dir", str(build_dir), env=env)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)


def run(
    repo: Path, tree: Path, work: Path, loop_reps: int, warm_reps: int, cold_reps: int
) -> list[Figure]:
    busy = other_builds()
    note = f"other builds running: {busy.count(chr(10)) + 1}" if busy else "machine otherwise idle"
    figures = []
    if cold_reps:
        cold = Figure("build", "cold build (no ccache)", note=note)
        env = dict(os.environ, CCACHE_DISABLE="1")
        cold.samples = [fresh_build(repo, work, "build-cold", env) for _ in range(cold_reps)]
        figures.append(cold)
    if warm_reps:
        warm = Figure("build", "ccache-warm build, fresh dir", note=note)
        warm.samples = [
            fresh_build(repo, work, "build-warm", dict(os.environ)) for _ in range(warm_reps)
        ]
        figures.append(warm)
    loop = Figure("build", "edit vmfwupdate.c, rebuild, rerun 1 test", note=note)
    rebuild = Figure("build", "rebuild, nothing changed", note=note)
    for _ in range(loop_reps):
        (tree / EDITED).touch()
        loop.samples.append(cli(repo, "test", "-k", LOOP_TEST))
        rebuild.samples.append(cli(repo, "build"))
    figures += [loop, rebuild]
    return figures
