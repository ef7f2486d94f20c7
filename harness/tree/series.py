"""Put the ``patches/`` series on a branch of a QEMU tree (``apply``, with ``git am``).

The way back, branch to ``patches/``, is `harness.tree.export`; the checks both
make on the tree (clean, base, branch) are `harness.tree.guards`."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree.git import Git
from harness.tree.guards import check_clean, ensure_checked_out, open_tree, resolve_base
from harness.tree.patchfile import (
    extract_notes,
    series_files,
)
from harness.tree.source import QemuTree
from harness.tree.state import Applied, TreeState

logger = logging.getLogger(__name__)

DEFAULT_BRANCH = "vmfwupdate"
NOTES_REF = "refs/notes/vmfwupdate"


@dataclass(frozen=True)
class ApplyResult:
    branch: str
    base: str
    tip: str
    patches: int
    action: str  # "applied", "unchanged" or "kept local commits"


def series_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_digests(files: list[Path]) -> dict[str, str]:
    """sha256 of each patch file, by name: tells later which files changed."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def recover(git: Git, state: TreeState, step: str) -> None:
    """Undo what an interrupted `apply` left (its `git am`, a detached HEAD, half a patch in
    the work tree): the state records that an apply ran and where it came from, so the
    tree is the toolkit's to reset. Without that record nothing is touched."""
    if state.applying is None:
        return
    if git.operation_in_progress():
        git.run("am", "--abort", check=False)
    git.run("reset", "--quiet", "--hard")
    git.run("checkout", "--quiet", "--force", state.applying)
    logger.info(
        f"{step}: {git.path}: an earlier `vmfwupdate apply` was interrupted; aborted its "
        f"`git am` and went back to {state.applying}"
    )
    state.applying = None
    state.save()


def apply(
    tree: QemuTree,
    patches_dir: Path,
    runner: Runner,
    *,
    branch: str = DEFAULT_BRANCH,
    base_rev: str | None = None,
    force: bool = False,
) -> ApplyResult:
    step = "apply"
    git = open_tree(tree, runner, step)
    files = series_files(patches_dir)
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise HarnessError(
            step,
            f"patches/series names {len(missing)} missing file(s)",
            path=patches_dir / "series",
            details="\n".join(p.name for p in missing),
            hint="fix patches/series or restore the files",
        )
    state = TreeState.load(git.git_dir())
    recover(git, state, step)
    check_clean(git, step)
    base = resolve_base(git, tree, state, branch, base_rev)
    digest = series_digest(files)
    tip = git.rev(f"refs/heads/{branch}")
    prev = state.applied if state.applied and state.applied.branch == branch else None
    if tip is not None:
        ours = prev is not None and prev.tip == tip
        same_input = prev is not None and prev.digest == digest and prev.base == base
        if ours and same_input:
            ensure_checked_out(git, branch)
            logger.info(f"apply: {len(files)} patch(es) already on {branch}, nothing to do")
            return ApplyResult(branch, base, tip, len(files), "unchanged")
        if not ours and not force:
            if same_input:
                ensure_checked_out(git, branch)
                logger.info(
                    f"apply: {branch} has commits made in the tree since the last apply/export; "
                    "keeping them (run `vmfwupdate export` to save them to patches/)"
                )
                return ApplyResult(branch, base, tip, len(files), "kept local commits")
            expected = prev.tip[:12] if prev else "none recorded"
            raise HarnessError(
                step,
                f"branch {branch} has commits that `vmfwupdate apply` did not make "
                f"(tip {tip[:12]}, last applied {expected}), and patches/ differs from it",
                path=git.path,
                hint=f"save your work with `vmfwupdate export` first, use another branch "
                f"(--branch NAME), or pass --force to replace {branch} with patches/",
            )
    state.applying = git.current_branch() or git.out("rev-parse", "HEAD")
    state.save()
    try:
        new_tip = am(git, base, files)
    except BaseException:
        if git.operation_in_progress() is None:  # am put the tree back itself
            state.applying = None
            state.save()
        raise
    git.run("checkout", "--quiet", "-B", branch, new_tip)
    state.applied = Applied(
        branch=branch,
        base=base,
        tip=new_tip,
        digest=digest,
        patches=len(files),
        files=file_digests(files),
    )
    state.applying = None
    state.save()
    logger.info(f"apply: {len(files)} patch(es) applied on {branch} (base {base[:12]})")
    return ApplyResult(branch, base, new_tip, len(files), "applied")


def am(git: Git, base: str, files: list[Path]) -> str:
    """Apply ``files`` on a detached HEAD at ``base``; on failure or an interruption (Ctrl-C,
    SIGTERM) restore the tree exactly."""
    original = git.current_branch() or git.out("rev-parse", "HEAD")
    git.run("checkout", "--quiet", "--detach", base)
    if files:
        try:
            proc = git.run(
                "am",
                "--3way",
                "--keep-non-patch",
                "--committer-date-is-author-date",
                *[str(p) for p in files],
                check=False,
            )
        except BaseException:
            # git am got the signal too and stopped mid-series: put the tree back
            git.run("am", "--abort", check=False)
            git.run("checkout", "--quiet", "--force", original, check=False)
            raise
        if proc.returncode != 0:
            report = conflict_report(git, base, files, proc.stdout + proc.stderr)
            git.run("am", "--abort", check=False)
            git.run("checkout", "--quiet", "--force", original, check=False)
            raise report
    tip = git.out("rev-parse", "HEAD")
    commits = git.out("rev-list", "--reverse", f"{base}..{tip}").split()
    git.run("config", "notes.rewriteRef", NOTES_REF)
    for commit, path in zip(commits, files, strict=False):
        notes = extract_notes(path.read_text(encoding="utf-8", errors="surrogateescape"))
        if notes:
            blob = git.run("hash-object", "-w", "--stdin", input_text=notes).stdout.strip()
            git.run("notes", f"--ref={NOTES_REF}", "add", "-f", "-C", blob, commit)
    return tip


def touched_files(patch: Path) -> list[str]:
    text = patch.read_text(encoding="utf-8", errors="replace")
    return sorted({m.group(2) for m in re.finditer(r"^diff --git a/(\S+) b/(\S+)$", text, re.M)})


def conflict_report(git: Git, base: str, files: list[Path], output: str) -> HarnessError:
    next_file = git.git_dir() / "rebase-apply" / "next"
    try:
        index = int(next_file.read_text().strip()) - 1
    except (OSError, ValueError):
        index = 0
    index = min(max(index, 0), len(files) - 1)
    failed = files[index]
    conflicted = git.run("diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
    evidence = [
        line
        for line in output.splitlines()
        if line.startswith(("error:", "CONFLICT", "Patch failed", "fatal:"))
        or "does not apply" in line
        or "does not exist" in line
    ]
    later = [p.name for p in files[index + 1 :]]
    details = [
        f"patch:   {failed.name} ({index + 1} of {len(files)})",
        f"touches: {', '.join(touched_files(failed)) or '(no files)'}",
    ]
    if conflicted:
        details.append(f"conflicts in: {', '.join(conflicted)}")
    details += evidence[:20]
    details.append(f"not tried: {', '.join(later) if later else '(none, it was the last)'}")
    return HarnessError(
        "apply",
        f"{failed.name} does not apply to {git.path} (git am --3way failed; aborted, "
        "the tree and its branches are as they were)",
        path=failed,
        details="\n".join(details),
        hint=f"fix {failed.name}, or rebase it in the tree: `cd {git.path} && git checkout "
        f"--detach {base[:12]} && git am --3way {' '.join(str(p) for p in files[: index + 1])}`, "
        "resolve the conflict, `git am --continue`, `git checkout -B <branch>`, then "
        "`vmfwupdate export` and `vmfwupdate apply` again",
    )
