"""Command line: ``vmfwupdate [-v] COMMAND``. This module only builds the parser and dispatches.

Each command is a function ``(args, workdir, runner) -> exit code`` in
`harness.workflows`, named with ``set_defaults(func=...)`` and imported only
when it runs. Adding a command: write its function, add a ``sub.add_parser``
block below with its options and ``set_defaults(func=_lazy("module", "name"))``.
Logging: library modules log to their own loggers; `main` attaches the one
handler (stderr, ``-v`` shows every command run and its output).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.build.igvm_fuzz import PROFILES as IGVM_FUZZ_PROFILES
from harness.build.qemu import PROFILES
from harness.ci import cli as ci_cli
from harness.errors import HarnessError, os_error
from harness.fuzz.targets import CONFIGS as FUZZ_CONFIGS
from harness.interface import struct_cli
from harness.machine.cmdline import ACCELS, BOOT_KINDS, MACHINES
from harness.posting import cli as posting_cli
from harness.runner import Runner
from harness.tree.series import DEFAULT_BRANCH
from harness.tree.source import DEFAULT_TARBALL
from harness.workdir import DEFAULT_SERIES, SERIES, Workdir
from harness.workflows.workers import cpus, workers_arg

Command = Callable[[argparse.Namespace, Workdir, Runner], int]
DEFAULT_AGENT_SIZE = 0x40000
DEFAULT_FUZZ_TIMEOUT = 25
DEFAULT_FUZZ_MAX_LEN = 4096
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
# Commands defined in their own packages: add_commands(subparsers), COMMANDS, dispatch().
EXTENSIONS = (ci_cli, posting_cli, struct_cli)


def _lazy(module: str, name: str) -> Command:
    """The command `name` of `harness.workflows.<module>`, imported when it runs."""

    def command(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
        func: Command = getattr(importlib.import_module(f"harness.workflows.{module}"), name)
        return func(args, workdir, runner)

    command.__name__ = f"{module}.{name}"
    return command


def number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 0x10000)") from None


def fw_cfg_pair(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path or "," in text:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE without commas, not {text!r}")
    return name, Path(path)


def add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="show every command run and its output",
    )


ALL_SERIES = "all"


def add_series(parser: argparse.ArgumentParser, *, every: bool = False) -> None:
    """--series: which patch series (= device ABI) the command works on."""
    default = os.environ.get("SERIES") or (ALL_SERIES if every else DEFAULT_SERIES)
    choices = (*SERIES, ALL_SERIES) if every else SERIES
    parser.add_argument(
        "--series",
        choices=choices,
        default=default,
        help=f"patch series patches/<series>/ and its tree .work/<series>/ "
        f"(default: $SERIES, else {ALL_SERIES if every else DEFAULT_SERIES})",
    )


def add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--qemu-src",
        metavar="PATH|URL",
        help="QEMU git checkout, release tarball or tarball URL "
        "(default: $QEMU_SRC, else ../shared/qemu/" + DEFAULT_TARBALL + ")",
    )
    parser.add_argument(
        "--sha256", metavar="HEX", help="expected sha256 of a tarball that is not pinned"
    )


def add_branch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--branch", default=None, help=f"branch in the QEMU tree (default: {DEFAULT_BRANCH})"
    )
    parser.add_argument(
        "--base",
        metavar="REV",
        help="commit the series sits on (own checkouts; default: HEAD at first apply)",
    )


def add_build(parser: argparse.ArgumentParser, *, fuzz_profile: bool = False) -> None:
    # the fuzz profile builds only qemu-fuzz-x86_64, which `vmfwupdate fuzz` runs
    profiles = sorted(p for p in PROFILES if fuzz_profile or p != "fuzz")
    parser.add_argument("--profile", choices=profiles, default="default", help="build profile")
    parser.add_argument(
        "--asan",
        dest="profile",
        action="store_const",
        const="asan",
        help="same as --profile asan (AddressSanitizer + UBSan)",
    )
    parser.add_argument(
        "--build-dir",
        type=Path,
        help="default: .work/<series>/build/<profile>; `check` of several series builds "
        "each in BUILD_DIR/<series>",
    )
    parser.add_argument(
        "-j", "--jobs", type=workers_arg, default=2, help="parallel jobs (default 2)"
    )


def add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--test-jobs",
        dest="test_jobs",
        type=workers_arg,
        default=None,
        metavar="N",
        help=f"functional tests on N parallel workers (default: one per CPU, here {cpus()}, "
        "or 1 with -k); -n 1 runs them serially in one process",
    )
    parser.add_argument(
        "--serial", dest="test_jobs", action="store_const", const=1, help="same as -n 1"
    )


def add_no_build(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-build", action="store_true", help="use the existing binary, do not run ninja"
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    add_no_build(parser)
    parser.add_argument(
        "--image",
        type=Path,
        help="firmware for -bios, or to wrap with --boot igvm (default: the agent)",
    )
    parser.add_argument(
        "--boot",
        choices=BOOT_KINDS,
        default=None,
        help="how QEMU starts the firmware: bios (-bios, the default) or igvm (wrapped by the "
        "pinned igvm-wrap, QEMU started from that IGVM file: -object igvm-cfg, no -bios)",
    )
    parser.add_argument(
        "--igvm",
        type=Path,
        metavar="FILE",
        help="start QEMU from this IGVM file as is (implies --boot igvm; not with --image)",
    )
    parser.add_argument(
        "--agent-size",
        type=number,
        default=DEFAULT_AGENT_SIZE,
        help="agent image size (default 256 KiB)",
    )
    parser.add_argument("--machine", choices=MACHINES, default="pc", help="default pc")
    parser.add_argument("--accel", choices=ACCELS, default="tcg", help="default tcg")
    parser.add_argument("--memory", default="256M", help="guest RAM (default 256M)")
    parser.add_argument(
        "--fw-cfg",
        type=fw_cfg_pair,
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="add a fw_cfg file, e.g. opt/vmfwtest/stage2=next.bin (repeatable)",
    )
    parser.add_argument("--qmp", type=Path, help="QMP socket path (default: a temporary one)")
    parser.add_argument("--no-device", action="store_true", help="without -device vmfwupdate")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the QEMU command line of the binary as built (no rebuild) and exit; "
        "the QMP socket's directory is kept, so the line can be run",
    )
    parser.add_argument("qemu_args", nargs="*", help="after --: more QEMU arguments")


def add_test_options(parser: argparse.ArgumentParser) -> None:
    add_no_build(parser)
    parser.add_argument("-k", dest="keyword", help="pytest -k expression selecting tests")
    parser.add_argument("-m", dest="marker", help="pytest -m marker expression, e.g. quick")
    parser.add_argument("--accel", choices=(*ACCELS, "all"), default="tcg", help="default tcg")
    add_workers(parser)
    ci_cli.add_test_options(parser)  # --shard, --shard-durations
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")


def add_fuzz_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        choices=[*FUZZ_CONFIGS, "all"],
        default="all",
        help="generic-fuzz config to run (default: all, one after the other)",
    )
    add_fuzz_limits(parser, "per target")
    parser.add_argument(
        "--corpus",
        type=Path,
        metavar="DIR",
        help="corpus directory, kept between runs (default: .work/<series>/fuzz/<target>/corpus; "
        "with --target all: DIR/<target>)",
    )
    parser.add_argument(
        "--max-len",
        type=int,
        default=DEFAULT_FUZZ_MAX_LEN,
        metavar="B",
        help=f"longest input in bytes ({DEFAULT_FUZZ_MAX_LEN})",
    )
    parser.add_argument(
        "--leaks",
        choices=("input", "exit"),
        default="input",
        help="when LeakSanitizer looks: after each input that allocated more than it freed "
        "(input, libFuzzer's default; a heap scan each time) or only at exit (faster)",
    )
    parser.add_argument("--no-build", action="store_true", help="use the existing fuzz build")
    parser.add_argument("-j", "--jobs", type=workers_arg, default=2, help="parallel build jobs (2)")


def add_fuzz_limits(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """--time, --runs, --timeout: when a libFuzzer run stops, and an input's time."""
    each = f" {scope}" if scope else ""
    parser.add_argument("--time", type=int, metavar="N", help=f"stop after N seconds{each}")
    parser.add_argument("--runs", type=int, metavar="N", help=f"stop after N inputs{each}")
    parser.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_FUZZ_TIMEOUT,
        metavar="S",
        help=f"seconds one input may take ({DEFAULT_FUZZ_TIMEOUT})",
    )


def add_libigvm_fuzz_options(parser: argparse.ArgumentParser) -> None:
    add_fuzz_limits(parser)
    parser.add_argument(
        "--corpus",
        type=Path,
        metavar="DIR",
        help="corpus directory, kept between runs (default: .work/fuzz-libigvm/corpus)",
    )
    parser.add_argument(
        "--max-len",
        type=int,
        metavar="B",
        help="longest input in bytes (default: the longest seed, so every seed is whole)",
    )
    parser.add_argument(
        "--unguarded",
        action="store_true",
        help="hand libigvm every input, also those a device-side check of the fixed header "
        "refuses (libigvm 0.5.0 panics on some: the run stops at the first)",
    )
    parser.add_argument(
        "--profile",
        choices=IGVM_FUZZ_PROFILES,
        default=IGVM_FUZZ_PROFILES[0],
        help="as-linked: the release arithmetic of QEMU's libigvm.a (default); "
        "checked: overflow checks and debug assertions on",
    )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmfwupdate",
        description="Get QEMU, apply the vmfwupdate series, build it and run the checks.",
    )
    add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, func: Command, help_text: str, *, every_series: bool = False
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        add_common(p, top=False)
        add_series(p, every=every_series)
        add_source(p)
        p.set_defaults(func=func)
        return p

    command("fetch", _lazy("commands", "fetch"), "get the QEMU tree (checkout, tarball or URL)")

    p = command(
        "apply",
        _lazy("commands", "apply"),
        "put patches/<series>/ on a branch of the series' QEMU tree (git am)",
    )
    add_branch(p)
    p.add_argument("--force", action="store_true", help="replace a branch with foreign commits")

    p = command(
        "export",
        _lazy("commands", "export"),
        "write the branch back to patches/<series>/ (format-patch)",
    )
    add_branch(p)

    p = command("build", _lazy("commands", "build"), "configure and build QEMU out of tree")
    add_build(p, fuzz_profile=True)

    p = command(
        "rebase-check",
        _lazy("commands", "rebase_check"),
        "report how each patch applies to another QEMU base (--qemu-src)",
    )
    p.add_argument(
        "--base", metavar="REV", help="commit to try the series on (default: the tree's base)"
    )

    command(
        "checkpatch",
        _lazy("commands", "check_patches"),
        "run the tree's scripts/checkpatch.pl on patches/<series>/",
    )

    p = command(
        "check",
        _lazy("pipeline", "check"),
        "unit tests, then fetch, apply, build, in-tree suite, functional tests per series",
        every_series=True,
    )
    add_branch(p)
    add_build(p)
    p.add_argument("--skip-unit", action="store_true", help="do not run tests/unit")
    p.add_argument("--skip-functional", action="store_true", help="do not run tests/functional")
    p.add_argument(
        "--long",
        action="store_true",
        help="also the long reliability runs (10,000 hostile-guest operations, leak check)",
    )
    add_workers(p)

    p = command(
        "run",
        _lazy("devloop", "run"),
        "rebuild, boot the agent (or --image) with the console here",
    )
    add_build(p)
    add_run_options(p)

    p = command(
        "test",
        _lazy("devloop", "test"),
        "rebuild what changed, run the functional tests matching -k",
    )
    add_build(p)
    add_test_options(p)

    p = command(
        "fuzz",
        _lazy("fuzz", "run"),
        "build the fuzz profile, run generic-fuzz on the device, report crashes",
    )
    add_fuzz_options(p)

    p = command(
        "fuzz-libigvm",
        _lazy("fuzz_libigvm", "run"),
        "build libigvm's fuzz target, run it on IGVM files from igvm-wrap, report findings",
    )
    add_libigvm_fuzz_options(p)

    for extension in EXTENSIONS:
        extension.add_commands(sub)
        for name in extension.COMMANDS:
            sub.choices[name].set_defaults(func=extension.dispatch)
    return parser


def attach_log_handler(verbose: bool) -> None:
    """The toolkit's one log handler: plain messages on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("harness")
    root.handlers = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def check_series(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The series of the command. argparse checks --series against its choices, but not a
    default taken from $SERIES: an unknown name there is a usage error too, not v7."""
    chosen = getattr(args, "series", None)
    if chosen is None:
        return DEFAULT_SERIES
    allowed = (*SERIES, ALL_SERIES) if args.command == "check" else SERIES
    if chosen not in allowed:
        parser.error(
            f"SERIES={chosen} (from the environment) is not a series: choose from "
            f"{', '.join(allowed)} (unset SERIES for the default)"
        )
    return chosen if chosen in SERIES else DEFAULT_SERIES


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    series = check_series(parser, args)
    attach_log_handler(args.verbose > 0)
    # SIGTERM (CI timeouts, kill) unwinds like Ctrl-C so that temporary files are removed
    signal.signal(signal.SIGTERM, interrupted)
    runner = Runner(verbose=args.verbose > 0)
    try:
        return int(args.func(args, Workdir.default(series), runner))
    except HarnessError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(os_error(args.command, exc).render(), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("vmfwupdate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
