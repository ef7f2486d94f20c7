"""The posting commands of ``vmfwupdate``: ``send`` and ``changelog``.

``cli.py`` calls :func:`add_commands` with its subparsers; :func:`dispatch` runs them.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from harness.errors import HarnessError
from harness.posting import changelog, send
from harness.runner import Runner
from harness.tree import source
from harness.tree.patchfile import subject_prefix
from harness.workdir import DEFAULT_SERIES, SERIES, Workdir

log = logging.getLogger(__name__)

COMMANDS = ("send", "changelog")


def default_series_dir(workdir: Workdir, series: str | None) -> Path:
    """THE place a series lives (``patches/<series>/``, `Workdir.patches`); every posting
    command takes its default from here."""
    return workdir.for_series(series).patches if series else workdir.patches


def check_series(series: str, directory: Path, runner: Runner) -> None:
    """Say which directory --series picked; refuse one whose subjects name another version."""
    if directory.name != series:
        runner.say(f"send: no {directory / series}/: series {series} is taken from {directory}")
    files = sorted(directory.glob("*.patch"))
    prefix = subject_prefix(files, default="")
    version = re.search(r"\bv(\d+)\b", prefix)
    wanted = re.fullmatch(r"v(\d+)", series)
    if version and wanted and version.group(1) != wanted.group(1):
        raise HarnessError(
            "send",
            f"--series {series}, but the patches in {directory} are [{prefix} ...]",
            path=directory,
            hint=f"pass the directory of {series} with --patches, or the series it holds",
        )


def add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--qemu-src",
        metavar="PATH|URL",
        help="the QEMU tree (checkout, tarball or URL; default: $QEMU_SRC, else the pinned "
        "tarball), whose scripts/ and history are used",
    )
    parser.add_argument("--sha256", metavar="HEX", help="sha256 of a tarball that is not pinned")
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
        help="check the series (checkpatch, builds), address it (get_maintainer.pl) and "
        "git send-email it (a dry run unless --send)",
    )
    add_source(p)
    p.add_argument(
        "--series",
        choices=SERIES,
        default=None,
        help=f"series to send, patches/<series>/ (default: $SERIES, else {DEFAULT_SERIES})",
    )
    p.add_argument(
        "--patches", type=Path, metavar="DIR", help="the series directory (default: --series')"
    )
    p.add_argument(
        "--to", action="append", default=[], metavar="ADDR", help="add To: on every message"
    )
    p.add_argument(
        "--cc", action="append", default=[], metavar="ADDR", help="add Cc: on every message"
    )
    p.add_argument("--send", action="store_true", help="really send (default: --dry-run)")
    p.add_argument(
        "--build",
        action="store_true",
        help="first build every patch (ci/bisect-build) instead of reusing recorded results",
    )
    p.add_argument(
        "--no-build-check",
        action="store_true",
        help="do not require recorded builds of every patch (says so; checkpatch still runs)",
    )
    p.add_argument(
        "--results",
        type=Path,
        metavar="FILE",
        help="build results of ci/bisect-build (default: .work/<series>/logs/build-results.json)",
    )
    p.add_argument("--smtp-server", metavar="HOST", help="git send-email --smtp-server")

    p = sub.add_parser(
        "changelog", help="git range-diff of two versions of the series as a 'Changes in vN' draft"
    )
    add_source(p)
    p.add_argument("old", metavar="OLD", help="older version: series directory or REV[:PATH]")
    p.add_argument("new", metavar="NEW", help="newer version: series directory or REV[:PATH]")
    p.add_argument(
        "--series",
        choices=SERIES,
        default=None,
        help="series for REV without :PATH, patches/<series>/ (default: $SERIES, else "
        f"{DEFAULT_SERIES})",
    )
    p.add_argument("--version", type=int, metavar="N", help="the N of 'Changes in vN'")
    p.add_argument("--range-diff", action="store_true", help="also print git range-diff")


def dispatch(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    spec = source.resolve_spec(args.qemu_src, workdir)
    tree = source.prepare(spec, workdir, runner, sha256=args.sha256)
    series_dir = default_series_dir(workdir, args.series)
    if args.command == "send":
        directory = args.patches or series_dir
        name = args.series or directory.name
        if args.series and args.patches is None:
            check_series(args.series, directory, runner)
        send.send(
            tree.path,
            directory,
            runner,
            outgoing=workdir.root / "outgoing" / name,
            results_file=args.results or workdir.build_results,
            to=args.to,
            cc=args.cc,
            really=args.send,
            build_first=args.build,
            build_check=not args.no_build_check,
            smtp_server=args.smtp_server,
            repo=workdir.repo,
        )
        return 0
    if args.command == "changelog":
        text, raw = changelog.changelog(
            tree.path,
            args.old,
            args.new,
            runner,
            repo=workdir.repo,
            default_dir=series_dir,
            version=args.version,
        )
        if args.range_diff:
            print(raw.rstrip() + "\n")
        print(text)
        return 0
    raise HarnessError(args.command, f"unknown command {args.command!r}")
