"""The single-step commands: fetch, apply, export, build, rebase-check, checkpatch.

Each takes the parsed arguments, does its step and returns the exit code. Each holds the
series' lock alone while it runs (`harness.worklock`): they change the tree or a build.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from harness.runner import Runner
from harness.tree import checkpatch, rebase, series
from harness.tree import export as tree_export
from harness.workdir import Workdir
from harness.workflows.prepare import build_tree, current_tree, qemu_tree
from harness.worklock import series_lock


@contextmanager
def alone(workdir: Workdir, runner: Runner, step: str, why: str) -> Iterator[None]:
    """Hold .work/<series>/ for this step alone; wait (and say for whom) if it is in use."""
    with series_lock(workdir.series_root, step, runner.say) as lock:
        lock.exclusive(why)
        yield


def fetch(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    with alone(workdir, runner, "fetch", "fetch"):
        print(qemu_tree(args, workdir, runner).path)
    return 0


def apply(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    with alone(workdir, runner, "apply", "apply the series"):
        return _apply(args, workdir, runner)


def _apply(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    series.apply(
        qemu_tree(args, workdir, runner),
        workdir.patches,
        runner,
        branch=args.branch or series.DEFAULT_BRANCH,
        base_rev=args.base,
        force=args.force,
    )
    return 0


def export(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    with alone(workdir, runner, "export", "export the branch"):
        tree = qemu_tree(args, workdir, runner)
        tree_export.export(tree, workdir.patches, runner, branch=args.branch, base_rev=args.base)
    return 0


def build(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    with alone(workdir, runner, "build", "build QEMU"):
        tree = current_tree(args, workdir, runner, "build")
        print(build_tree(tree, args, workdir, runner).qemu)
    return 0


def rebase_check(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    with alone(workdir, runner, "rebase-check", "check the rebase"):
        tree = qemu_tree(args, workdir, runner)
        result = rebase.survey(tree, workdir.patches, runner, args.base)
    print(rebase.render(result, f"QEMU {tree.version} ({tree.path})"))
    return 0 if result.clean else 1


def check_patches(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    with alone(workdir, runner, "checkpatch", "run checkpatch"):
        return checkpatch.run(qemu_tree(args, workdir, runner), workdir.patches, runner)
