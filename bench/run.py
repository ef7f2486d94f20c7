"""``make bench``: every benchmark group for each series asked for, then the JSON, the plots
and the measured table in docs/benchmarks.md (rendered from the JSON).

  python -m bench.run [--series v6|v7|all] [--qemu-bin PATH] [--only GROUP,...]
                      [--keep-others]

--series defaults to $SERIES, else v7 (`make bench` passes all: both series in one run).
--qemu-bin measures another build of the one series given (its tree is the one that
build was configured from). --keep-others keeps the figures of the groups and series this
run does not measure from the bench.json before it (by default they are dropped).
Environment knobs (settings.py):
  BENCH_REPS=N        repetitions of the short figures (default 5)
  BENCH_BUILD_REPS=N  ccache-warm fresh builds (default 1)
  BENCH_COLD=N        cold builds without ccache (default 0: ~40 min each on 2 cores)
  BENCH_ONLY=a,b      only these groups (default: all; --only overrides)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench import publish, report
from bench.groups import GROUPS, applies, run_group
from bench.settings import Settings, SettingsError
from bench.stats import Figure
from bench.target import Target, TargetError, target
from harness.workdir import DEFAULT_SERIES, SERIES, Workdir

ALL = "all"


def groups_arg(text: str) -> list[str]:
    chosen = [g for g in text.split(",") if g]
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown group(s) {', '.join(unknown) or '(none given)'}: the groups are "
            f"{', '.join(GROUPS)}"
        )
    return chosen


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--series",
        choices=(*SERIES, ALL),
        default=os.environ.get("SERIES") or DEFAULT_SERIES,
        help=f"series to measure (default: $SERIES, else {DEFAULT_SERIES})",
    )
    parser.add_argument("--qemu-bin", type=Path, help="QEMU binary of the one --series given")
    parser.add_argument(
        "--only",
        type=groups_arg,
        default=groups_arg(os.environ.get("BENCH_ONLY") or ",".join(GROUPS)),
        help=f"comma-separated groups (default: $BENCH_ONLY, else {','.join(GROUPS)})",
    )
    parser.add_argument(
        "--keep-others",
        action="store_true",
        help="keep the other groups' and series' figures of the last bench.json",
    )
    return parser


def targets(args: argparse.Namespace) -> list[Target]:
    names = SERIES if args.series == ALL else (args.series,)
    if args.qemu_bin is not None and len(names) > 1:
        raise TargetError("--qemu-bin needs a single --series: each series has its own binary")
    return [target(Workdir.default(name), args.qemu_bin) for name in names]


def measure(chosen: Sequence[Target], groups: Sequence[str], settings: Settings) -> list[Figure]:
    figures: list[Figure] = []
    for group in (g for g in GROUPS if g in groups):
        for t in chosen:
            if not applies(group, t):
                print(f"==> bench {t.series} {group}: not for this series, skipped", flush=True)
                continue
            print(f"==> bench {t.series} {group}", flush=True)
            start = time.monotonic()
            figures += run_group(group, t, t.scratch / group, settings)
            print(f"    {t.series} {group}: {time.monotonic() - start:.0f}s", flush=True)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        chosen = targets(args)
    except (SettingsError, TargetError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    start = time.monotonic()
    figures = measure(chosen, args.only, settings)
    measured = [(t.series, g) for t in chosen for g in args.only if applies(g, t)]
    outputs = publish.write_all(figures, keep_others=measured if args.keep_others else None)
    print(report.table(report.read_json(report.RESULTS / report.JSON_NAME)))
    print(f"bench: {len(figures)} figures in {time.monotonic() - start:.0f}s; wrote:")
    repo = chosen[0].workdir.repo
    for path in outputs:
        print(f"  {path.relative_to(repo) if path.is_relative_to(repo) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
