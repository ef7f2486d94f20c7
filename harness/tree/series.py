"""Put the ``patches/`` series on a branch of a QEMU tree (``apply``) and write the branch
back to ``patches/`` (``export``) so that a round trip is byte-identical."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree.git import HARNESS_EMAIL, HARNESS_NAME, Git
from harness.tree.patchfile import (
    COVER_LETTER,
    PATCH_NAME,
    extract_notes,
    insert_notes,
    merge_cover_letter,
    series_files,
    subject_prefix,
)
from harness.tree.source import QemuTree, identity_for
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


@dataclass(frozen=True)
class ExportResult:
    written: list[str]
    unchanged: list[str]
    removed: list[str]


def series_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def open_tree(tree: QemuTree, runner: Runner, step: str) -> Git:
    identity = identity_for(tree) or (HARNESS_NAME, HARNESS_EMAIL)
    return Git(tree.path, runner, step, identity=identity)


def check_clean(git: Git, step: str) -> None:
    busy = git.operation_in_progress()
    if busy:
        raise HarnessError(
            step,
            f"{busy} is in progress in {git.path}",
            path=git.path,
            hint="finish it or abort it there (e.g. `git am --abort`), then run again",
        )
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
    check_clean(git, step)
    state = TreeState.load(git.git_dir())
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
    new_tip = am(git, base, files)
    git.run("checkout", "--quiet", "-B", branch, new_tip)
    state.applied = Applied(
        branch=branch, base=base, tip=new_tip, digest=digest, patches=len(files)
    )
    state.save()
    logger.info(f"apply: {len(files)} patch(es) applied on {branch} (base {base[:12]})")
    return ApplyResult(branch, base, new_tip, len(files), "applied")


def am(git: Git, base: str, files: list[Path]) -> str:
    """Apply ``files`` on a detached HEAD at ``base``; on failure restore the tree exactly."""
    original = git.current_branch() or git.out("rev-parse", "HEAD")
    git.run("checkout", "--quiet", "--detach", base)
    if files:
        proc = git.run(
            "am",
            "--3way",
            "--keep-non-patch",
            "--committer-date-is-author-date",
            *[str(p) for p in files],
            check=False,
        )
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


def export(
    tree: QemuTree,
    patches_dir: Path,
    runner: Runner,
    *,
    branch: str | None = None,
    base_rev: str | None = None,
) -> ExportResult:
    step = "export"
    git = open_tree(tree, runner, step)
    state = TreeState.load(git.git_dir())
    branch = branch or (state.applied.branch if state.applied else DEFAULT_BRANCH)
    tip = git.rev(f"refs/heads/{branch}")
    if tip is None:
        raise HarnessError(
            step,
            f"no branch {branch} in {git.path}",
            path=git.path,
            hint="run `vmfwupdate apply` first, or name the branch with --branch",
        )
    if base_rev:
        base = git.rev(base_rev)
    elif state.applied and state.applied.branch == branch:
        base = state.applied.base
    else:
        base = tree.base
    if base is None:
        raise HarnessError(
            step,
            f"do not know which commit {branch} is based on",
            path=git.path,
            hint="pass --base REV (the commit below the first patch)",
        )
    if not git.ok("merge-base", "--is-ancestor", base, tip):
        raise HarnessError(
            step,
            f"{branch} is not based on {base[:12]} any more",
            path=git.path,
            hint="pass --base REV naming the commit below the series' first patch",
        )
    if not git.out("rev-list", f"{base}..{tip}"):
        raise HarnessError(
            step,
            f"{branch} has no commits on top of {base[:12]}: nothing to export",
            path=git.path,
            hint="commit your changes on the branch first",
        )
    if git.out("rev-list", "--merges", f"{base}..{tip}"):
        raise HarnessError(
            step,
            f"{branch} contains merge commits; a patch series must be linear",
            path=git.path,
            hint="rebase the branch onto its base (git rebase) and export again",
        )
    dirty = git.dirty_files()
    if dirty:
        logger.info(
            f"export: note: {len(dirty)} uncommitted change(s) in {git.path} are not exported "
            f"(only commits on {branch} are): {', '.join(dirty[:5])}"
        )
    old_files = series_files(patches_dir) if patches_dir.is_dir() else []
    cover = patches_dir / COVER_LETTER
    prefix = subject_prefix([cover, *old_files])
    scratch = Path(tempfile.mkdtemp(prefix="vmfwupdate-export-"))
    try:
        generated = format_patch(git, base, tip, prefix, scratch)
        commits = git.out("rev-list", "--reverse", f"{base}..{tip}").split()
        contents = render(git, generated, commits, cover)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = write_series(patches_dir, contents)
    new_files = series_files(patches_dir)
    state.applied = Applied(
        branch=branch, base=base, tip=tip, digest=series_digest(new_files), patches=len(new_files)
    )
    state.save()
    logger.info(
        f"export: {len(result.written)} written, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} removed in {patches_dir}"
    )
    return result


def format_patch(git: Git, base: str, tip: str, prefix: str, out: Path) -> list[Path]:
    git.run(
        "format-patch",
        "--quiet",
        "--zero-commit",
        "--no-signature",
        "--cover-letter",
        "--numbered",
        f"--subject-prefix={prefix}",
        f"--base={base}",
        "--no-notes",
        "--no-to",
        "--no-cc",
        "--no-add-header",
        "--no-thread",
        "--encode-email-headers",
        "--cover-from-description=none",
        "--filename-max-length=64",
        "-o",
        str(out),
        f"{base}..{tip}",
    )
    return sorted(out.glob("*.patch"))


def render(git: Git, generated: list[Path], commits: list[str], cover: Path) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    patches = [p for p in generated if p.name != COVER_LETTER]
    for path in generated:
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        if path.name == COVER_LETTER and cover.is_file():
            old = cover.read_bytes().decode("utf-8", errors="surrogateescape")
            text = merge_cover_letter(old, text)
        elif path.name != COVER_LETTER:
            commit = commits[patches.index(path)]
            listed = git.run("notes", f"--ref={NOTES_REF}", "list", commit, check=False)
            if listed.returncode == 0 and listed.stdout.strip():
                notes = git.run("cat-file", "blob", listed.stdout.strip()).stdout
                text = insert_notes(text, notes)
        contents[path.name] = text.encode("utf-8", errors="surrogateescape")
    return contents


def write_series(patches_dir: Path, contents: dict[str, bytes]) -> ExportResult:
    patches_dir.mkdir(parents=True, exist_ok=True)
    written, unchanged = [], []
    for name, data in contents.items():
        target = patches_dir / name
        if target.is_file() and target.read_bytes() == data:
            unchanged.append(name)
            continue
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        written.append(name)
    removed = []
    for path in sorted(patches_dir.glob("*.patch")):
        if PATCH_NAME.match(path.name) and path.name not in contents:
            path.unlink()
            removed.append(path.name)
    order = patches_dir / "series"
    if order.is_file():
        names = [n for n in contents if n != COVER_LETTER]
        text = "".join(f"{n}\n" for n in names)
        if order.read_text(encoding="utf-8") != text:
            order.write_text(text, encoding="utf-8")
            written.append("series")
    return ExportResult(written=written, unchanged=unchanged, removed=removed)
