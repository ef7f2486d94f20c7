"""Keep the tree's branch in step with ``patches/<series>/`` before a build (``build``,
``test``, ``run``, ``fuzz``): an edit to a patch file is applied, never silently ignored.

The tree's state records what `apply` (or `export`) put on the branch: the digest of the
patch files and the branch tip. When ``patches/`` differs from that record and the branch
is still what the toolkit made (same tip, no uncommitted changes), the series is applied
again; when the tree has work of its own, the command refuses and says how to choose."""

from __future__ import annotations

import logging
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree import series
from harness.tree.guards import open_tree
from harness.tree.patchfile import series_files
from harness.tree.source import QemuTree
from harness.tree.state import Applied, TreeState

logger = logging.getLogger(__name__)


def changed_files(applied: Applied, files: list[Path]) -> list[str]:
    """The patch files that differ from the applied record (all of them for old records)."""
    now = series.file_digests(files)
    if not applied.files:
        return sorted(now)
    names = set(now) | set(applied.files)
    return sorted(n for n in names if now.get(n) != applied.files.get(n))


def ensure_current(tree: QemuTree, patches_dir: Path, runner: Runner, step: str) -> None:
    """Apply ``patches_dir`` to ``tree`` if it changed since the last apply (or, in the
    toolkit's own tree, was never applied); refuse if that would drop work in the tree."""
    git = open_tree(tree, runner, step)
    state = TreeState.load(git.git_dir())
    applied = state.applied
    label = f"patches/{patches_dir.name}"
    if state.applying is None and applied is None:
        if tree.owned:
            logger.info(f"{step}: {label} was never applied to {tree.path}: applying it")
            series.apply(tree, patches_dir, runner)
        return
    files = series_files(patches_dir)
    if (
        state.applying is None
        and applied is not None
        and all(p.is_file() for p in files)
        and series.series_digest(files) == applied.digest
    ):
        return
    if applied is None or state.applying is not None:
        logger.info(f"{step}: an earlier `vmfwupdate apply` was interrupted: applying again")
        branch = applied.branch if applied else series.DEFAULT_BRANCH
        series.apply(tree, patches_dir, runner, branch=branch)
        return
    changed = ", ".join(changed_files(applied, [p for p in files if p.is_file()]))
    current = git.current_branch()
    if current != applied.branch:
        logger.info(
            f"{step}: note: {label} changed since it was applied to branch {applied.branch} "
            f"({changed}), but {tree.path} is on {current or 'a detached HEAD'}: building "
            f"that as it is (`vmfwupdate apply` puts {label} on {applied.branch})"
        )
        return
    tip = git.rev(f"refs/heads/{applied.branch}")
    dirty = git.dirty_files()
    if tip != applied.tip or dirty:
        work = f"{len(dirty)} uncommitted change(s)" if dirty else "commits made since the apply"
        raise HarnessError(
            step,
            f"{label} changed since it was applied ({changed}), and branch {applied.branch} "
            f"in the tree has {work}: building either would ignore the other",
            path=tree.path,
            details="\n".join(dirty[:10]) if dirty else None,
            hint=f"to keep the tree's work, commit it there and run `vmfwupdate export` "
            f"(it rewrites {label}); to keep {label}, drop the tree's work (`git -C "
            f"{tree.path} checkout -- .`, or `vmfwupdate apply --force` for commits); "
            "then run again",
        )
    logger.info(f"{step}: {label} changed since the last apply ({changed}): applying it again")
    series.apply(tree, patches_dir, runner, branch=applied.branch, base_rev=applied.base)
