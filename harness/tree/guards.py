"""What apply, export and the rebase check make sure of before they touch a QEMU tree:
the git handle with the right identity, no operation in progress, no uncommitted changes,
the base the series sits on, the branch checked out."""

from __future__ import annotations

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree.git import HARNESS_EMAIL, HARNESS_NAME, Git
from harness.tree.source import QemuTree, identity_for
from harness.tree.state import TreeState


def open_tree(tree: QemuTree, runner: Runner, step: str) -> Git:
    identity = identity_for(tree) or (HARNESS_NAME, HARNESS_EMAIL)
    return Git(tree.path, runner, step, identity=identity)


def check_no_operation(git: Git, step: str) -> None:
    """Refuse a tree in the middle of a git operation: its files are half of something.

    `apply` recovers from its own interrupted `git am` first (`series.recover`), so one
    found here was started in the tree by hand (resolving a conflict, say)."""
    busy = git.operation_in_progress()
    if busy:
        raise HarnessError(
            step,
            f"{busy} is in progress in {git.path}, not started by `vmfwupdate apply`: "
            "the tree holds a half-applied commit",
            path=git.path,
            hint=f"if you are resolving a conflict there, finish it (`git -C {git.path} am "
            "--continue`, then `git checkout -B <branch>`) and run again; otherwise drop it "
            f"(`git -C {git.path} am --abort` or `rebase --abort`) and run again; nothing "
            "else needs doing",
        )


def check_clean(git: Git, step: str) -> None:
    check_no_operation(git, step)
    dirty = git.dirty_files()
    if dirty:
        shown = "\n".join(dirty[:20]) + ("\n..." if len(dirty) > 20 else "")
        raise HarnessError(
            step,
            f"the QEMU tree has uncommitted changes in {len(dirty)} tracked file(s)",
            path=git.path,
            details=shown,
            hint="commit them (then `vmfwupdate export`), stash them (`git stash`) or discard "
            "them (`git checkout -- .`) in the QEMU tree, then run again",
        )


def resolve_base(
    git: Git, tree: QemuTree, state: TreeState, branch: str, base_rev: str | None
) -> str:
    if base_rev:
        sha = git.rev(base_rev)
        if sha is None:
            raise HarnessError(
                "apply",
                f"--base {base_rev} is not a commit in {git.path}",
                path=git.path,
                hint="name an existing commit, tag or branch (e.g. v10.2.2)",
            )
        return sha
    if tree.base:
        return tree.base
    if state.applied and state.applied.branch == branch and git.rev(state.applied.base):
        return state.applied.base
    if git.current_branch() == branch:
        raise HarnessError(
            "apply",
            f"cannot tell the base: HEAD is already on branch {branch}",
            path=git.path,
            hint="pass --base REV (the commit to put the series on, e.g. v10.2.2) or "
            "check out your base first",
        )
    return git.out("rev-parse", "HEAD")


def ensure_checked_out(git: Git, branch: str) -> None:
    if git.current_branch() != branch:
        git.run("checkout", "--quiet", branch)
