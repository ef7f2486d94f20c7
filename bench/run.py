"""``make bench``: every benchmark in one run, then JSON, plots and the README table.

Environment knobs (defaults: 155 s on the idle 2-core machine):
  BENCH_REPS=N        repetitions of the short figures (default 5)
  BENCH_BUILD_REPS=N  ccache-warm fresh builds (default 1: 82 s each, ccache-warm)
  BENCH_COLD=N        cold builds without ccache (default 0: ~40 min each on 2 cores)
  BENCH_ONLY=a,b      only these groups: build, per-test, slope, reset, suite
"""

from __future__ import annotations

import os
import sys
import time

from bench import build_bench, qmp_overhead, quick_suite, report, reset_latency, slope
from bench.stats import Figure
from harness.tree import source
from harness.workdir import Workdir

GROUPS = ("per-test", "slope", "reset", "suite", "build")


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise SystemExit(
            f"bench: {name} must be a whole number, not {os.environ[name]!r}"
        ) from None


def main() -> int:
    workdir = Workdir.default()
    repo = workdir.repo
    qemu = workdir.build_dir("default") / "qemu-system-x86_64"
    tree = workdir.src / f"qemu-{source.PINNED_VERSION}"
    if not qemu.is_file() or not tree.is_dir():
        print(
            f"bench: error: no built QEMU at {qemu} or no tree in {workdir.src}\n"
            "what to do: run `make check-vmfwupdate` (or `make apply build`) first",
            file=sys.stderr,
        )
        return 1
    reps = env_int("BENCH_REPS", 5)
    only = [g for g in os.environ.get("BENCH_ONLY", ",".join(GROUPS)).split(",") if g]
    work = workdir.root / "bench"
    work.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    start = time.monotonic()
    for group in GROUPS:
        if group not in only:
            continue
        print(f"==> bench {group}", flush=True)
        t0 = time.monotonic()
        if group == "per-test":
            figures += qmp_overhead.run(qemu, tree, repo, work, reps)
        elif group == "slope":
            figures += slope.run(qemu, tree, repo, work, max(1, reps // 2 + 1))
        elif group == "reset":
            figures += reset_latency.run(qemu, work, reps)
        elif group == "suite":
            figures += quick_suite.run(qemu, repo, max(1, reps // 2))
        elif group == "build":
            figures += build_bench.run(
                repo,
                tree,
                work,
                loop_reps=max(1, reps // 2 + 1),
                warm_reps=env_int("BENCH_BUILD_REPS", 1),
                cold_reps=env_int("BENCH_COLD", 0),
            )
        print(f"    {group}: {time.monotonic() - t0:.0f}s", flush=True)
    outputs = report.write_all(figures, repo / "bench" / "results", repo / "docs" / "benchmarks.md")
    print(report.table(figures, report.machine()))
    print(f"bench: {len(figures)} figures in {time.monotonic() - start:.0f}s; wrote:")
    for path in outputs:
        print(f"  {path.relative_to(repo)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
