"""Fetch then build: the QEMU tree and an up-to-date binary, for every command that needs one.

`vmfwupdate build`, the check pipeline, `run`/`test` and `fuzz` all get their
tree and binary here, so "which source, which profile, which build
directory, rebuilt or not" is decided in one place.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from harness.build import qemu
from harness.runner import Runner
from harness.tree import source
from harness.tree.current import ensure_current
from harness.workdir import Workdir
from harness.worklock import SeriesLock

logger = logging.getLogger(__name__)


def qemu_tree(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> source.QemuTree:
    """The QEMU tree of --qemu-src / $QEMU_SRC / the default tarball, made ready (fetch)."""
    spec = source.resolve_spec(args.qemu_src, workdir)
    return source.prepare(spec, workdir, runner, sha256=args.sha256)


def current_tree(
    args: argparse.Namespace, workdir: Workdir, runner: Runner, step: str
) -> source.QemuTree:
    """The QEMU tree with patches/<series>/ as it is now on its branch (applied again if a
    patch file changed since the last apply): what a build must start from."""
    tree = qemu_tree(args, workdir, runner)
    ensure_current(tree, workdir.patches, runner, step)
    return tree


def build_tree(
    tree: source.QemuTree,
    args: argparse.Namespace,
    workdir: Workdir,
    runner: Runner,
    profile: str | None = None,
) -> qemu.BuildResult:
    """Build `tree` with the --profile/--build-dir/-j of `args` (or another `profile`)."""
    return qemu.build(
        tree.path,
        workdir,
        runner,
        profile=profile or args.profile,
        build_dir=getattr(args, "build_dir", None),
        jobs=args.jobs,
    )


def up_to_date_binary(
    args: argparse.Namespace,
    workdir: Workdir,
    runner: Runner,
    lock: SeriesLock,
    profile: str | None = None,
) -> Path:
    """The QEMU binary of the profile, fetched and rebuilt incrementally unless --no-build.

    Builds holding `lock` alone, then returns with it shared: the binary stays as it is
    while the caller runs it (another command's build waits), and other commands may run
    it too."""
    profile = profile or args.profile
    if not args.no_build:
        lock.exclusive("build QEMU")
        tree = current_tree(args, workdir, runner, lock.step)
        result = build_tree(tree, args, workdir, runner, profile)
        logger.info(f"build: {result.qemu} up to date ({result.seconds:.1f}s)")
    lock.shared("run QEMU")
    return qemu.existing_binary(workdir, profile, getattr(args, "build_dir", None))
