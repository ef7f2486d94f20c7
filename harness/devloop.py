"""The edit-rebuild-test loop: ``vmfwupdate run`` and ``vmfwupdate test -k PATTERN``.

Both start by bringing the QEMU build up to date (an incremental ninja run:
only what changed in the tree is recompiled), then either boot one VM with
its console on this terminal or run the matching functional tests against
the binary just built.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import build, parallel, source
from harness.ci import cli as ci_cli
from harness.errors import HarnessError
from harness.payloads import build_agent
from harness.run import Runner
from harness.vm_cmdline import DEBUG_EXIT_IOBASE, optionrom_dir
from harness.workdir import Workdir

RUN_HELP = """\
console: the guest's serial port is this terminal (QEMU -serial mon:stdio).
  Ctrl-A c   switch between the console and QEMU's HMP monitor (info qtree, xp, system_reset, ...)
  Ctrl-A x   quit QEMU
QMP: {qmp}
  e.g. {venv}/qmp-shell {qmp}
"""


def up_to_date_qemu(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> Path:
    """The QEMU binary of the chosen profile, rebuilt incrementally unless --no-build."""
    if args.no_build:
        return build.existing_binary(workdir, args.profile, args.build_dir)
    spec = source.resolve_spec(args.qemu_src, workdir)
    tree = source.prepare(spec, workdir, runner, sha256=args.sha256)
    result = build.build(
        tree.path, workdir, runner, profile=args.profile, build_dir=args.build_dir, jobs=args.jobs
    )
    runner.say(f"build: {result.qemu} up to date ({result.seconds:.1f}s)")
    return result.qemu


def firmware_image(args: argparse.Namespace, workdir: Workdir) -> Path:
    """--image as given, else the guest agent built at --agent-size."""
    if args.image is not None:
        if not args.image.is_file():
            raise HarnessError("run", f"image not found: {args.image}", path=args.image)
        return args.image
    return build_agent(args.agent_size, "run", workdir.root / "payloads" / "run")


def run_args(qemu: Path, image: Path, qmp_socket: Path, args: argparse.Namespace) -> list[str]:
    """QEMU argv for an interactive session: console and monitor on stdio, QMP on a socket."""
    cmd = [
        str(qemu),
        "-machine",
        args.machine,
        "-accel",
        args.accel,
        "-nodefaults",
        "-display",
        "none",
        "-m",
        args.memory,
        "-serial",
        "mon:stdio",
        "-qmp",
        f"unix:{qmp_socket},server=on,wait=off",
        "-bios",
        str(image),
        "-device",
        f"isa-debug-exit,iobase={DEBUG_EXIT_IOBASE:#x},iosize=4",
        "-d",
        "guest_errors",
    ]
    optrom = optionrom_dir(qemu)
    if (optrom / "kvmvapic.bin").is_file():
        cmd += ["-L", str(optrom)]
    else:
        cmd += ["-global", "apic-common.vapic=off"]
    if not args.no_device:
        cmd += ["-device", "vmfwupdate"]
    for name, path in args.fw_cfg:
        cmd += ["-fw_cfg", f"name={name},file={path}"]
    return cmd + list(args.qemu_args)


def run(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    """``vmfwupdate run``: boot the patched QEMU with its console on this terminal."""
    qemu = up_to_date_qemu(args, workdir, runner)
    image = firmware_image(args, workdir)
    with tempfile.TemporaryDirectory(prefix="vmfwupdate-run-") as tmp:
        qmp_socket = Path(args.qmp or Path(tmp) / "qmp.sock")
        cmd = run_args(qemu, image, qmp_socket, args)
        runner.say(f"+ {shlex.join(cmd)}")
        if args.dry_run:
            return 0
        runner.say(RUN_HELP.format(qmp=qmp_socket, venv=Path(sys.executable).parent))
        try:
            status = subprocess.call(cmd)
        except OSError as exc:
            raise HarnessError("run", f"cannot start QEMU: {exc}", path=qemu) from exc
    if status != 0:
        runner.say(f"run: QEMU exited with status {status} (logs: this terminal)")
    return status


def test(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    """``vmfwupdate test -k PATTERN``: rebuild what changed, run the matching tests."""
    qemu = up_to_date_qemu(args, workdir, runner)
    cmd = pytest_command(args, qemu)
    runner.say(f"+ {shlex.join(cmd)}")
    return subprocess.call(cmd, cwd=workdir.repo)


def pytest_command(args: argparse.Namespace, qemu: Path) -> list[str]:
    """The pytest run of ``vmfwupdate test``: selection, accelerator, workers."""
    base = [sys.executable, "-m", "pytest", "tests/functional", "--qemu-bin", str(qemu)]
    selection: list[str] = []
    if args.keyword:
        selection += ["-k", args.keyword]
    if args.marker:
        selection += ["-m", args.marker]
    if args.accel != "all":
        selection += ["--accel", args.accel]
    selection += ci_cli.pytest_args(args)  # --shard, --shard-durations
    selection += list(args.pytest_args)  # last: `-- -n 3` overrides the workers chosen here
    workers = args.test_jobs
    if workers is None and args.keyword:
        # -k narrows the run to the test(s) of the edit loop: starting workers (~2 s here)
        # would cost more than they save. -n N spreads a large -k selection.
        workers = 1
    return [*base, *parallel.pytest_args(workers), *selection]


def fw_cfg_pair(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path or "," in text:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE without commas, not {text!r}")
    return name, Path(path)


def size_arg(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 0x10000)") from None


def add_loop_build(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-build", action="store_true", help="use the existing binary, do not run ninja"
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    add_loop_build(parser)
    parser.add_argument("--image", type=Path, help="firmware for -bios (default: the agent)")
    parser.add_argument(
        "--agent-size", type=size_arg, default=0x40000, help="agent image size (default 256 KiB)"
    )
    parser.add_argument("--machine", default="pc", help="pc or q35 (default pc)")
    parser.add_argument("--accel", default="tcg", help="tcg or kvm (default tcg)")
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
    parser.add_argument("--dry-run", action="store_true", help="print the command line, exit")
    parser.add_argument("qemu_args", nargs="*", help="after --: more QEMU arguments")


def add_test_options(parser: argparse.ArgumentParser) -> None:
    add_loop_build(parser)
    parser.add_argument("-k", dest="keyword", help="pytest -k expression selecting tests")
    parser.add_argument("-m", dest="marker", help="pytest -m marker expression, e.g. quick")
    parser.add_argument("--accel", choices=("tcg", "kvm", "all"), default="tcg", help="default tcg")
    parallel.add_workers_option(parser)
    ci_cli.add_test_options(parser)  # --shard, --shard-durations
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
