"""Write a branch of the QEMU tree back to ``patches/`` (``vmfwupdate export``) so that an
apply/export round trip is byte-identical: format-patch, the notes and the cover letter
carried over, patch files of dropped commits removed."""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree.git import Git
from harness.tree.guards import check_no_operation, open_tree
from harness.tree.patchfile import (
    COVER_LETTER,
    PATCH_NAME,
    insert_notes,
    merge_cover_letter,
    series_files,
    subject_prefix,
)
from harness.tree.series import DEFAULT_BRANCH, NOTES_REF, file_digests, series_digest
from harness.tree.source import QemuTree
from harness.tree.state import Applied, TreeState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    written: list[str]
    unchanged: list[str]
    removed: list[str]


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
    if state.applying is not None:
        raise HarnessError(
            step,
            f"an earlier `vmfwupdate apply` was interrupted in {git.path}: its branch is "
            "not a series to export",
            path=git.path,
            hint="run `vmfwupdate apply` (it puts the tree back and applies patches/ again), "
            "then export",
        )
    check_no_operation(git, step)
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
        branch=branch,
        base=base,
        tip=tip,
        digest=series_digest(new_files),
        patches=len(new_files),
        files=file_digests(new_files),
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
