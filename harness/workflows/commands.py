"""The single-step commands: fetch, apply, export, build, rebase-check, checkpatch.

Each takes the parsed arguments, does its step and returns the exit code.
"""

from __future__ import annotations

import argparse

from harness.runner import Runner
from harness.tree import checkpatch, rebase, series
from harness.tree import export as tree_export
from harness.workdir import Workdir
from harness.workflows.prepare import build_tree, qemu_tree


def fetch(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    print(qemu_tree(args, workdir, runner).path)
    return 0


def apply(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
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
    tree = qemu_tree(args, workdir, runner)
    tree_export.export(tree, workdir.patches, runner, branch=args.branch, base_rev=args.base)
    return 0


def build(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    print(build_tree(qemu_tree(args, workdir, runner), args, workdir, runner).qemu)
    return 0


def rebase_check(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    tree = qemu_tree(args, workdir, runner)
    result = rebase.survey(tree, workdir.patches, runner, args.base)
    print(rebase.render(result, f"QEMU {tree.version} ({tree.path})"))
    return 0 if result.clean else 1


def check_patches(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    return checkpatch.run(qemu_tree(args, workdir, runner), workdir.patches, runner)
