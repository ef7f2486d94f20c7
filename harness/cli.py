"""Command line: ``vmfwupdate [-v] {fetch,apply,export,build,checkpatch,check,run,test,fuzz}``."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import (
    build,
    checkpatch,
    devloop,
    fuzz,
    parallel,
    pipeline,
    rebase_survey,
    series,
    source,
)
from harness.ci import cli as ci_cli
from harness.errors import HarnessError
from harness.posting import cli as posting_cli
from harness.run import Runner
from harness.workdir import Workdir

# subcommands defined in their own packages: add_commands(subparsers), COMMANDS, dispatch()
EXTENSIONS = (ci_cli, posting_cli)


def add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="show every command run and its output",
    )


def add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--qemu-src",
        metavar="PATH|URL",
        help="QEMU git checkout, release tarball or tarball URL "
        "(default: $QEMU_SRC, else ../shared/qemu/" + source.DEFAULT_TARBALL + ")",
    )
    parser.add_argument(
        "--sha256", metavar="HEX", help="expected sha256 of a tarball that is not pinned"
    )


def add_branch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--branch", default=None, help=f"branch in the QEMU tree (default: {series.DEFAULT_BRANCH})"
    )
    parser.add_argument(
        "--base",
        metavar="REV",
        help="commit the series sits on (own checkouts; default: HEAD at first apply)",
    )


def add_build(parser: argparse.ArgumentParser, *, fuzz_profile: bool = False) -> None:
    # the fuzz profile builds only qemu-fuzz-x86_64, which `vmfwupdate fuzz` runs
    profiles = sorted(p for p in build.PROFILES if fuzz_profile or p != "fuzz")
    parser.add_argument("--profile", choices=profiles, default="default", help="build profile")
    parser.add_argument(
        "--asan",
        dest="profile",
        action="store_const",
        const="asan",
        help="same as --profile asan (AddressSanitizer + UBSan)",
    )
    parser.add_argument("--build-dir", type=Path, help="default: .work/build/<profile>")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel jobs (default 2)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmfwupdate",
        description="Get QEMU, apply the vmfwupdate series, build it and run the checks.",
    )
    add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fetch", help="get the QEMU tree (checkout, tarball or URL)")
    add_common(p, top=False)
    add_source(p)

    p = sub.add_parser("apply", help="put patches/ on a branch of the QEMU tree (git am)")
    add_common(p, top=False)
    add_source(p)
    add_branch(p)
    p.add_argument("--force", action="store_true", help="replace a branch with foreign commits")

    p = sub.add_parser("export", help="write the branch back to patches/ (format-patch)")
    add_common(p, top=False)
    add_source(p)
    add_branch(p)

    p = sub.add_parser("build", help="configure and build QEMU out of tree")
    add_common(p, top=False)
    add_source(p)
    add_build(p, fuzz_profile=True)

    p = sub.add_parser(
        "rebase-check", help="report how each patch applies to another QEMU base (--qemu-src)"
    )
    add_common(p, top=False)
    add_source(p)
    p.add_argument(
        "--base", metavar="REV", help="commit to try the series on (default: the tree's base)"
    )

    p = sub.add_parser("checkpatch", help="run the tree's scripts/checkpatch.pl on patches/")
    add_common(p, top=False)
    add_source(p)

    p = sub.add_parser(
        "check", help="unit tests, fetch, apply, build, in-tree suite, functional tests"
    )
    add_common(p, top=False)
    add_source(p)
    add_branch(p)
    add_build(p)
    p.add_argument("--skip-unit", action="store_true", help="do not run tests/unit")
    p.add_argument("--skip-functional", action="store_true", help="do not run tests/functional")
    p.add_argument(
        "--long",
        action="store_true",
        help="also the long reliability runs (10,000 hostile-guest operations, leak check)",
    )
    parallel.add_workers_option(p)

    p = sub.add_parser("run", help="rebuild, boot the agent (or --image) with the console here")
    add_common(p, top=False)
    add_source(p)
    add_build(p)
    devloop.add_run_options(p)

    p = sub.add_parser("test", help="rebuild what changed, run the functional tests matching -k")
    add_common(p, top=False)
    add_source(p)
    add_build(p)
    devloop.add_test_options(p)

    p = sub.add_parser(
        "fuzz", help="build the fuzz profile, run generic-fuzz on the device, report crashes"
    )
    add_common(p, top=False)
    add_source(p)
    fuzz.add_options(p)
    for extension in EXTENSIONS:
        extension.add_commands(sub)
    return parser


def dispatch(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    if args.command == "check":
        return pipeline.check(args, workdir, runner)
    if args.command == "run":
        return devloop.run(args, workdir, runner)
    if args.command == "test":
        return devloop.test(args, workdir, runner)
    if args.command == "fuzz":
        return fuzz.run(args, workdir, runner)
    for extension in EXTENSIONS:
        if args.command in extension.COMMANDS:
            return extension.dispatch(args, workdir, runner)
    spec = source.resolve_spec(args.qemu_src, workdir)
    tree = source.prepare(spec, workdir, runner, sha256=args.sha256)
    if args.command == "fetch":
        print(tree.path)
    elif args.command == "apply":
        series.apply(
            tree,
            workdir.patches,
            runner,
            branch=args.branch or series.DEFAULT_BRANCH,
            base_rev=args.base,
            force=args.force,
        )
    elif args.command == "export":
        series.export(tree, workdir.patches, runner, branch=args.branch, base_rev=args.base)
    elif args.command == "build":
        result = build.build(
            tree.path,
            workdir,
            runner,
            profile=args.profile,
            build_dir=args.build_dir,
            jobs=args.jobs,
        )
        print(result.qemu)
    elif args.command == "rebase-check":
        result = rebase_survey.survey(tree, workdir.patches, runner, args.base)
        print(rebase_survey.render(result, f"QEMU {tree.version} ({tree.path})"))
        return 0 if result.clean else 1
    elif args.command == "checkpatch":
        return checkpatch.run(tree, workdir.patches, runner)
    return 0


def interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    # SIGTERM (CI timeouts, kill) unwinds like Ctrl-C so that temporary files are removed
    signal.signal(signal.SIGTERM, interrupted)
    runner = Runner(verbose=args.verbose > 0)
    try:
        return dispatch(args, Workdir.default(), runner)
    except HarnessError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vmfwupdate: interrupted", file=sys.stderr)
        return 130
