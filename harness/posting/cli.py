"""The posting commands of ``vmfwupdate``: ``send`` and ``changelog``, both through b4.

``cli.py`` calls :func:`add_commands` with its subparsers; :func:`dispatch` runs them.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from harness.errors import HarnessError
from harness.posting import changelog, send
from harness.runner import Runner
from harness.tree import source
from harness.tree.patchfile import subject_prefix
from harness.workdir import DEFAULT_SERIES, SERIES, Workdir

COMMANDS = ("send", "changelog")


def series_version(name: str) -> int | None:
    match = re.fullmatch(r"v(\d+)", name)
    return int(match.group(1)) if match else None


def check_series(series: str, directory: Path) -> None:
    """Refuse a series directory whose subjects name another version than ``series``."""
    prefix = subject_prefix(sorted(directory.glob("*.patch")), default="")
    version = re.search(r"\bv(\d+)\b", prefix)
    if version and series_version(series) not in (None, int(version.group(1))):
        raise HarnessError(
            "send",
            f"--series {series}, but the patches in {directory} are [{prefix} ...]",
            path=directory,
            hint=f"pass the directory of {series} with --patches, or the series it holds",
        )


def add_common(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--qemu-src",
        metavar="PATH|URL",
        help="the QEMU tree (checkout, tarball or URL; default: $QEMU_SRC, else the pinned "
        "tarball): its .b4-config, scripts/ and history are used",
    )
    parser.add_argument("--sha256", metavar="HEX", help="sha256 of a tarball that is not pinned")
    parser.add_argument(
        "--series",
        choices=SERIES,
        default=None,
        help=f"{what} (default: $SERIES, else {DEFAULT_SERIES})",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="show every command run and its output",
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "send",
        help="post patches/<series>/ with b4 and the tree's .b4-config: checks, recipients, "
        "b4 send (a dry run unless --send)",
    )
    add_common(p, "series to send, patches/<series>/")
    p.add_argument(
        "--patches", type=Path, metavar="DIR", help="the series directory (default: --series')"
    )
    p.add_argument("--to", action="append", default=[], metavar="ADDR", help="add To: (b4 --to)")
    p.add_argument("--cc", action="append", default=[], metavar="ADDR", help="add Cc: (b4 --cc)")
    p.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="where b4 writes the messages (default: .work/outgoing/<series>/)",
    )
    p.add_argument("--send", action="store_true", help="really send (b4 send; default: dry run)")
    p.add_argument(
        "--build",
        action="store_true",
        help="first build every patch (ci/bisect-build) instead of reusing recorded results",
    )
    p.add_argument(
        "--no-build-check",
        action="store_true",
        help="do not require recorded builds of every patch (says so; b4's checks still run)",
    )
    p.add_argument(
        "--results",
        type=Path,
        metavar="FILE",
        help="build results of ci/bisect-build (default: .work/<series>/logs/build-results.json)",
    )

    p = sub.add_parser(
        "changelog", help="b4 diff (git range-diff) of two versions as a 'Changes in vN' draft"
    )
    add_common(p, "the newer version when NEW is not given")
    p.add_argument(
        "old",
        metavar="OLD",
        nargs="?",
        help="older version: a series name or directory (default: the series before NEW)",
    )
    p.add_argument(
        "new",
        metavar="NEW",
        nargs="?",
        help="newer version: a series name or directory (default: --series)",
    )
    p.add_argument("--version", type=int, metavar="N", help="the N of 'Changes in vN'")
    p.add_argument("--range-diff", action="store_true", help="also print the range-diff")


def version_of(spec: str, workdir: Workdir) -> changelog.Version:
    directory = workdir.for_series(spec).patches if spec in SERIES else Path(spec)
    return changelog.load_version(spec, directory)


def dispatch(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    series = workdir.series  # main() made the workdir for --series, else $SERIES
    spec = source.resolve_spec(args.qemu_src, workdir)
    tree = source.prepare(spec, workdir, runner, sha256=args.sha256).path
    if args.command == "send":
        directory = args.patches or workdir.patches
        if args.patches is None:
            check_series(series, directory)
        name = series if args.patches is None else directory.name
        send.send(
            tree,
            directory,
            runner,
            outgoing=args.output_dir or workdir.root / "outgoing" / name,
            results_file=args.results or workdir.build_results,
            branch=f"b4/vmfwupdate-{name}",
            worktree=workdir.root / "b4" / name,
            revision=series_version(name),
            to=args.to,
            cc=args.cc,
            really=args.send,
            build_first=args.build,
            build_check=not args.no_build_check,
            repo=workdir.repo,
        )
        return 0
    if args.command == "changelog":
        if (args.old is None) != (args.new is None):
            raise HarnessError(
                "changelog", "give both OLD and NEW, or neither", hint="e.g. `changelog v6 v7`"
            )
        new_spec = args.new or series
        if args.old is None and SERIES.index(new_spec) == 0:
            raise HarnessError(
                "changelog", f"no series before {new_spec}", hint="name OLD and NEW explicitly"
            )
        old_spec = args.old or SERIES[SERIES.index(new_spec) - 1]
        text, raw = changelog.changelog(
            tree,
            version_of(old_spec, workdir),
            version_of(new_spec, workdir),
            runner,
            version=args.version,
        )
        if args.range_diff:
            print(raw.rstrip() + "\n")
        print(text)
        return 0
    raise HarnessError(args.command, f"unknown command {args.command!r}")
