"""The CI commands of ``vmfwupdate``: ``shards merge``, and ``--shard`` for ``test``.

``cli.py`` calls :func:`add_commands` with its subparsers and :func:`add_test_options` with
the ``test`` parser; :func:`dispatch` runs the commands added here.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from harness.ci import junit_merge, shard
from harness.errors import HarnessError
from harness.runner import Runner
from harness.workdir import Workdir

log = logging.getLogger(__name__)

COMMANDS = ("shards",)


def shard_from_env() -> str | None:
    """``CI_NODE_INDEX/CI_NODE_TOTAL`` of a GitLab ``parallel: N`` job, else None."""
    index, total = os.environ.get("CI_NODE_INDEX"), os.environ.get("CI_NODE_TOTAL")
    return f"{index}/{total}" if index and total else None


def shard_arg(text: str) -> shard.ShardSpec:
    if text == "ci":
        from_env = shard_from_env()
        if from_env is None:
            raise argparse.ArgumentTypeError(
                "--shard ci needs CI_NODE_INDEX and CI_NODE_TOTAL (a GitLab `parallel: N` job)"
            )
        text = from_env
    try:
        return shard.parse_spec(text)
    except shard.ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_test_options(parser: argparse.ArgumentParser) -> None:
    """``--shard``/``--shard-durations`` of ``vmfwupdate test``, passed on to pytest."""
    parser.add_argument(
        "--shard",
        type=shard_arg,
        metavar="INDEX/TOTAL",
        help="run only shard INDEX of TOTAL (1-based) of the selected tests; "
        "'ci' takes $CI_NODE_INDEX/$CI_NODE_TOTAL (GitLab parallel: N)",
    )
    parser.add_argument(
        "--shard-durations",
        type=Path,
        metavar="PATH",
        help="durations JSON or JUnit XML of an earlier run to balance the shards on",
    )


def pytest_args(args: argparse.Namespace) -> list[str]:
    # --opt=VALUE: before plugins are loaded, pytest takes the separate value of an option
    # it does not know yet for a path argument and picks the rootdir from it
    out: list[str] = []
    spec = getattr(args, "shard", None)
    if spec is not None:
        out.append(f"--shard={spec}")
    durations = getattr(args, "shard_durations", None)
    if durations is not None:
        durations = durations.resolve()  # the user's directory, not where pytest runs
        if not durations.is_file():
            # CI's first run has no recorded durations yet: go on, but say so
            log.info(
                f"test: note: no durations file {durations}: the shards are balanced by test id"
            )
        out.append(f"--shard-durations={durations}")
    return out


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("shards", help="CI shards: merge their JUnit reports into one verdict")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="show every command run and its output",
    )
    shards = p.add_subparsers(dest="shards_command", required=True, metavar="SUBCOMMAND")
    m = shards.add_parser(
        "merge",
        help="merge the shards' JUnit files; fail unless every collected test ran once, green",
    )
    m.add_argument(
        "reports",
        nargs="+",
        type=Path,
        metavar="DIR|FILE",
        help="JUnit XML files, or directories searched for them (with their .shard.json)",
    )
    m.add_argument("-o", "--output", type=Path, help="write the merged JUnit XML here")
    m.add_argument(
        "--durations-out",
        type=Path,
        metavar="PATH",
        help="write the tests' durations here, for the next run's --shard-durations",
    )
    m.add_argument(
        "--slowest", type=int, default=10, metavar="N", help="name the N slowest tests (10)"
    )


def dispatch(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    del workdir  # the reports are given as paths
    if args.command == "shards" and args.shards_command == "merge":
        _result, text = junit_merge.merge(
            args.reports,
            output=args.output,
            durations_out=args.durations_out,
            slowest=args.slowest,
        )
        runner.say(text)
        runner.say("shards merge: every collected test ran exactly once, none failed")
        return 0
    raise HarnessError("shards", f"unknown command {args.shards_command!r}")
