"""``vmfwupdate changelog OLD NEW``: a draft "Changes in vN" list for the cover letter.

OLD and NEW are two versions of the series, each a series directory (format-patch files
with a cover letter naming its ``base-commit:``) or a revision of this repository whose
series directory holds that version (``REV`` or ``REV:PATH``). Both are applied with
``git am`` onto their base in a temporary clone of the QEMU tree (the tree itself is not
touched), then ``git range-diff`` compares them and its output is condensed: per patch
whether it is new, dropped or changed, and what changed (commit message, which files).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.posting.results import base_of_series
from harness.runner import Runner
from harness.tree.git import Git
from harness.tree.patchfile import COVER_LETTER, series_files, subject_prefix

log = logging.getLogger(__name__)

STEP = "changelog"
PAIR = re.compile(
    r"^\s*(?P<old>\d+|-):\s+(?P<old_sha>[0-9a-f]+|-+)\s+(?P<op>[=!<>])\s+"
    r"(?P<new>\d+|-):\s+(?P<new_sha>[0-9a-f]+|-+)\s+(?P<subject>.*)$"
)
# where range-diff says which part of a patch a change is in: the section lines of its
# pseudo-patch ("      ## Commit message ##", "      ## hw/misc/a.c ##", as context or
# changed lines) and its hunk headers ("    @@ Commit message", "    @@ hw/misc/a.c (new)",
# "    @@ hw/misc/a.c: function context")
SECTION = re.compile(r"^    [ +-]{1,2}## (?P<name>.+?) ##\s*$")
HUNK = re.compile(r"^    @@ (?P<name>.+?)(?: \((?:new|deleted)\))?(?:: .*)?\s*$")


@dataclass
class Entry:
    op: str  # = unchanged, ! changed, < dropped, > new
    old: int | None
    new: int | None
    subject: str
    sections: list[str] = field(default_factory=list)  # "Commit message", file paths
    added: int = 0
    removed: int = 0


@dataclass
class Version:
    label: str
    files: list[Path]
    base: str
    prefix: str


def read_version(spec: str, repo: Path, default_dir: Path, scratch: Path, runner: Runner) -> Path:
    """A series directory for ``spec``: the directory itself, or ``REV[:PATH]`` of ``repo``
    written out into ``scratch``."""
    path = Path(spec)
    if path.is_dir():
        return path
    rev, _sep, sub = spec.partition(":")
    try:
        rel = Path(sub) if sub else default_dir.resolve().relative_to(repo.resolve())
    except ValueError:
        rel = Path("patches")
    git = Git(repo, runner, STEP)
    if git.rev(rev) is None:
        raise HarnessError(
            STEP,
            f"{spec!r} is neither a series directory nor a revision of {repo}",
            hint="pass two series directories, or two revisions (e.g. v6-tag main)",
        )
    names = git.out("ls-tree", "--name-only", f"{rev}:{rel.as_posix()}").split()
    if not names:
        raise HarnessError(STEP, f"{rev} has no series in {rel}/", path=rel)
    out = scratch / re.sub(r"[^A-Za-z0-9._-]", "_", spec)
    out.mkdir(parents=True)
    for name in names:
        text = git.run("show", f"{rev}:{(rel / name).as_posix()}").stdout
        (out / name).write_text(text, encoding="utf-8")
    return out


def load_version(label: str, directory: Path) -> Version:
    files = series_files(directory)
    cover = directory / COVER_LETTER
    base = base_of_series(cover) if cover.is_file() else None
    if not files or base is None:
        raise HarnessError(
            STEP,
            f"{label}: no patches, or no base-commit: line in its cover letter",
            path=directory,
            hint="a series directory as `vmfwupdate export` writes it",
        )
    return Version(label, files, base, subject_prefix([cover, *files]))


def apply_version(git: Git, version: Version, ref: str) -> str:
    if git.rev(version.base) is None:
        raise HarnessError(
            STEP,
            f"{version.label}: its base {version.base[:12]} is not in the QEMU tree",
            hint="pass --qemu-src with a tree that has both versions' bases",
        )
    git.run("checkout", "-q", "--detach", version.base)
    proc = git.run("am", "-q", "--3way", *[f.resolve() for f in version.files], check=False)
    if proc.returncode != 0:
        git.run("am", "--abort", check=False)
        raise HarnessError(
            STEP,
            f"{version.label} does not apply to its base {version.base[:12]}",
            details=(proc.stdout + proc.stderr)[-2000:],
        )
    git.run("update-ref", f"refs/heads/{ref}", "HEAD")
    return f"{version.base}..{ref}"


def range_diff(tree: Path, old: Version, new: Version, runner: Runner) -> str:
    with tempfile.TemporaryDirectory(prefix="vmfwupdate-changelog-") as tmp:
        clone = Path(tmp) / "qemu"
        runner.run(
            ["git", "clone", "-q", "--shared", "--no-checkout", tree, clone],
            step=STEP,
            hint="the QEMU tree must be a git repository (`vmfwupdate fetch` makes one)",
        )
        git = Git(clone, runner, STEP)
        old_range = apply_version(git, old, "old")
        new_range = apply_version(git, new, "new")
        return git.run("range-diff", "--no-color", old_range, new_range).stdout


def parse(output: str) -> list[Entry]:
    entries: list[Entry] = []
    current: str | None = None  # the part of the patch the range-diff lines are in
    for line in output.splitlines():
        match = PAIR.match(line)
        if match:
            current = None
            entries.append(
                Entry(
                    op=match.group("op"),
                    old=int(match.group("old")) if match.group("old") != "-" else None,
                    new=int(match.group("new")) if match.group("new") != "-" else None,
                    subject=match.group("subject").strip(),
                )
            )
            continue
        if not entries:
            continue
        entry = entries[-1]
        match = SECTION.match(line) or HUNK.match(line)
        if match:
            name = re.sub(r" \((new|deleted)\)$", "", match.group("name"))
            current = None if name == "Metadata" else name
        elif line.startswith(("    +", "    -")):
            if line.startswith("    +"):
                entry.added += 1
            else:
                entry.removed += 1
            if current is not None and current not in entry.sections:
                entry.sections.append(current)
    return entries


def ranges(numbers: Sequence[int]) -> str:
    out: list[str] = []
    for n in sorted(numbers):
        if out and "-" not in out[-1] and int(out[-1]) == n - 1:
            out[-1] = f"{out[-1]}-{n}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def version_label(prefix: str, explicit: int | None) -> str:
    if explicit is not None:
        return f"v{explicit}"
    match = re.search(r"\bv(\d+)\b", prefix)
    return f"v{match.group(1)}" if match else "vN"


def draft(entries: Sequence[Entry], old: Version, new: Version, version: int | None) -> str:
    total = len(new.files)
    lines = [f"Changes in {version_label(new.prefix, version)}:"]
    for entry in entries:
        if entry.op == "!":
            what = []
            files = [s for s in entry.sections if s != "Commit message"]
            if "Commit message" in entry.sections:
                what.append("commit message")
            if files:
                what.append(", ".join(files))
            lines.append(
                f"- {entry.new}/{total} {entry.subject}: {'; '.join(what) or 'changed'} "
                f"(range-diff +{entry.added}/-{entry.removed})"
            )
        elif entry.op == ">":
            lines.append(f"- new: {entry.new}/{total} {entry.subject}")
        elif entry.op == "<":
            lines.append(f"- dropped: {entry.subject} (was {entry.old}/{len(old.files)})")
    same = [e.new for e in entries if e.op == "=" and e.new is not None]
    if same:
        lines.append(f"- unchanged: {'patch' if len(same) == 1 else 'patches'} {ranges(same)}")
    if len(lines) == 1:
        lines.append("- no change")
    return "\n".join(lines)


def changelog(
    tree: Path,
    old_spec: str,
    new_spec: str,
    runner: Runner,
    *,
    repo: Path,
    default_dir: Path,
    version: int | None = None,
) -> tuple[str, str]:
    """The draft and the raw range-diff output."""
    with tempfile.TemporaryDirectory(prefix="vmfwupdate-series-") as tmp:
        scratch = Path(tmp)
        old = load_version(old_spec, read_version(old_spec, repo, default_dir, scratch, runner))
        new = load_version(new_spec, read_version(new_spec, repo, default_dir, scratch, runner))
        output = range_diff(tree, old, new, runner)
    return draft(parse(output), old, new, version), output
