"""The edit-rebuild-test loop: ``vmfwupdate run`` and ``vmfwupdate test -k PATTERN``.

Both start by bringing the QEMU build up to date (an incremental ninja run:
only what changed in the tree is recompiled), then either boot one VM with
its console on this terminal or run the matching functional tests against
the binary just built.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
from pathlib import Path

from harness import children
from harness.build import igvm
from harness.build import qemu as qemu_build
from harness.build.agent_image import build_agent
from harness.build.igvm_images import wrap
from harness.ci import cli as ci_cli
from harness.errors import HarnessError
from harness.machine.cmdline import (
    BIOS_BOOT,
    DEBUG_EXIT_IOBASE,
    DEVICE,
    IGVM_BOOT,
    FwCfgBlob,
    VMConfig,
    build_args,
    debug_exit_value,
    optionrom_for,
    terminal_wiring,
)
from harness.runner import Runner
from harness.workdir import Workdir
from harness.workflows.prepare import up_to_date_binary
from harness.workflows.run_logs import new_run_dir
from harness.workflows.workers import pytest_args
from harness.worklock import series_lock

logger = logging.getLogger(__name__)

RUN_HELP = """\
console: the guest's serial port is this terminal (QEMU -serial mon:stdio).
  Ctrl-A c   switch between the console and QEMU's HMP monitor (info qtree, xp, system_reset, ...)
  Ctrl-A x   quit QEMU
QMP: {qmp}
  e.g. {venv}/qmp-shell {qmp}
"""


def boot_kind(args: argparse.Namespace) -> str:
    """How the session starts its firmware: --boot, or igvm when --igvm names a file."""
    if args.igvm is not None:
        if args.image is not None:
            raise HarnessError("run", "--igvm and --image both name the firmware: give one")
        if args.boot not in (None, IGVM_BOOT):
            raise HarnessError(
                "run", f"--igvm starts QEMU from an IGVM file, not --boot {args.boot}"
            )
        return IGVM_BOOT
    return args.boot or BIOS_BOOT


def firmware_image(args: argparse.Namespace, workdir: Workdir) -> Path:
    """The file QEMU starts from: --igvm as given; else --image as given, else the guest
    agent built at --agent-size, wrapped by the pinned igvm-wrap with --boot igvm (kept in
    .work/payloads/run/igvm/, made again only when its input or the tool changes)."""
    kind = boot_kind(args)
    if args.igvm is not None:
        if not args.igvm.is_file():
            raise HarnessError("run", f"IGVM file not found: {args.igvm}", path=args.igvm)
        return args.igvm
    if args.image is not None:
        if not args.image.is_file():
            raise HarnessError("run", f"image not found: {args.image}", path=args.image)
        image = args.image
    else:
        image = build_agent(args.agent_size, "run", workdir.payloads / "run")
    if kind == IGVM_BOOT:
        layout = igvm.Layout.for_repo(workdir.repo)
        return wrap(image, workdir.payloads / "run" / "igvm", layout=layout)
    return image


def run_config(qemu: Path, image: Path, args: argparse.Namespace) -> VMConfig:
    """The VM of an interactive session, as the tests describe theirs: `image` as -bios, or
    the IGVM file QEMU starts from (`boot_kind`)."""
    from_igvm = boot_kind(args) == IGVM_BOOT
    return VMConfig(
        qemu_bin=qemu,
        machine=args.machine,
        accel=args.accel,
        bios=None if from_igvm else image,
        igvm=image if from_igvm else None,
        memory=args.memory,
        fw_cfg=tuple(FwCfgBlob(name, path) for name, path in args.fw_cfg),
        devices=() if args.no_device else (DEVICE,),
        extra_args=tuple(args.qemu_args),
        # the session ends when the user quits QEMU, not with this process
        exit_with_parent=False,
    )


def run_args(qemu: Path, image: Path, qmp_socket: Path, args: argparse.Namespace) -> list[str]:
    """QEMU argv for an interactive session: console and monitor on stdio, QMP on a socket."""
    cfg = run_config(qemu, image, args)
    return build_args(cfg, terminal_wiring(qmp_socket), optionrom_for(qemu))


def dry_run(args: argparse.Namespace, workdir: Workdir) -> int:
    """``run --dry-run``: the command line of the binary as built (nothing is rebuilt), with
    a QMP socket path that is still valid when the user runs the line."""
    qemu = qemu_build.existing_binary(workdir, args.profile, args.build_dir, "--dry-run")
    image = firmware_image(args, workdir)
    qmp_socket = args.qmp or Path(tempfile.mkdtemp(prefix="vmfwupdate-run-")) / "qmp.sock"
    print(shlex.join(run_args(qemu, image, Path(qmp_socket), args)))
    return 0


def run(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    """``vmfwupdate run``: boot the patched QEMU with its console on this terminal."""
    if args.dry_run:
        return dry_run(args, workdir)
    # the binary must not be replaced (another command's build) while QEMU starts from it
    with series_lock(workdir.series_root, "run", runner.say) as lock:
        qemu = up_to_date_binary(args, workdir, runner, lock)
        image = firmware_image(args, workdir)
        with tempfile.TemporaryDirectory(prefix="vmfwupdate-run-") as tmp:
            qmp_socket = Path(args.qmp or Path(tmp) / "qmp.sock")
            cmd = run_args(qemu, image, qmp_socket, args)
            logger.info(f"+ {shlex.join(cmd)}")
            logger.info(RUN_HELP.format(qmp=qmp_socket, venv=Path(sys.executable).parent))
            try:
                status = children.session(cmd)
            except OSError as exc:
                raise HarnessError("run", f"cannot start QEMU: {exc}", path=qemu) from exc
    if status != 0:
        logger.info(f"run: QEMU exited with status {status} (logs: this terminal)")
        value = debug_exit_value(status)  # run_config keeps isa-debug-exit (VMConfig default)
        if value is not None:
            logger.info(
                f"run: that is the status of a guest `exit {value}` through isa-debug-exit "
                f"(port {DEBUG_EXIT_IOBASE:#x}); a QEMU error exits 1 as well, with its "
                "message above"
            )
    return status


def test(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    """``vmfwupdate test -k PATTERN``: rebuild what changed, run the matching tests."""
    with series_lock(workdir.series_root, "test", runner.say) as lock:
        qemu = up_to_date_binary(args, workdir, runner, lock)
        log_dir = new_run_dir(workdir.vm_logs)
        cmd = pytest_command(args, qemu, workdir.series, log_dir, workdir.repo)
        logger.info(f"+ {shlex.join(cmd)}")
        try:
            return children.run_tests(cmd, cwd=Path.cwd())
        finally:
            logger.info(f"test: QEMU logs of this run: {log_dir}")


def pytest_command(
    args: argparse.Namespace, qemu: Path, series: str, vm_log_dir: Path, repo: Path
) -> list[str]:
    """The pytest run of ``vmfwupdate test``: the series' ABI, binary and VM log directory
    (``-- --vm-log-dir=DIR`` overrides it), selection, accelerator, workers. It runs in the
    user's directory (relative paths given to it mean what the user meant), on the tests of
    ``repo``."""
    base = [
        sys.executable,
        "-m",
        "pytest",
        str(repo / "tests" / "functional"),
        "--abi",
        series,
        f"--qemu-bin={qemu}",
        f"--vm-log-dir={vm_log_dir}",
    ]
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
    return [*base, *pytest_args(workers), *selection]
