"""``vmfwupdate changelog [OLD] [NEW]``: a draft "Changes in vN" list for the cover letter.

OLD and NEW are two versions of the series: series names (``v6``, ``v7``: their
``patches/<series>/``) or series directories; by default the series before ``--series`` and
``--series``. b4 compares them: ``b4 diff -m OLD NEW`` takes two mailboxes, applies each
series on its ``base-commit:`` (b4's "fake am") and runs ``git range-diff`` on the two
ranges. The mailboxes are the series files, each given the Message-ID b4 needs (derived
from its content: b4 caches per Message-ID). b4 runs in a scratch clone, so the QEMU tree
is not touched. (b4's other range-diff, ``b4 prep --compare-to vN``, needs the ``sent/``
tag of a version b4 itself sent; neither v6 nor v7 was sent through b4.) The range-diff is
then condensed: per patch whether it is new, dropped or changed, and what changed.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.posting import b4tool
from harness.runner import Runner
from harness.tree.patchfile import COVER_LETTER, series_files, subject_prefix

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


@dataclass(frozen=True)
class Version:
    label: str
    files: list[Path]  # the cover letter first
    prefix: str


def load_version(label: str, directory: Path) -> Version:
    patches = series_files(directory)
    cover = directory / COVER_LETTER
    if not patches or not cover.is_file():
        raise HarnessError(
            STEP,
            f"{label}: no patches or no {COVER_LETTER} in {directory}",
            path=directory,
            hint="a series name (v6, v7) or a series directory as `vmfwupdate export` writes it",
        )
    return Version(label, [cover, *patches], subject_prefix([cover, *patches]))


def write_mbox(version: Version, path: Path) -> Path:
    """The series as one mailbox, each message with a Message-ID made from its content."""
    parts = []
    for file in version.files:
        text = file.read_text(encoding="utf-8", errors="replace")
        first, _sep, rest = text.partition("\n")
        msgid = hashlib.sha256(text.encode()).hexdigest()[:24]
        parts.append(f"{first}\nMessage-ID: <{msgid}@vmfwupdate.invalid>\n{rest}")
    path.write_text("".join(p if p.endswith("\n") else p + "\n" for p in parts), "utf-8")
    return path


def range_diff(tree: Path, old: Version, new: Version, runner: Runner) -> str:
    with tempfile.TemporaryDirectory(prefix="vmfwupdate-changelog-") as tmp:
        scratch = Path(tmp)
        clone = scratch / "qemu"
        runner.run(
            ["git", "clone", "-q", "--shared", "--no-checkout", tree, clone],
            step=STEP,
            hint="the QEMU tree must be a git repository (`vmfwupdate fetch` makes one)",
        )
        out = scratch / "range-diff.txt"
        b4tool.run(
            [
                "diff",
                "--compare-am-mboxes",
                write_mbox(old, scratch / "old.mbox"),
                write_mbox(new, scratch / "new.mbox"),
                "--output-diff",
                out,
            ],
            step=STEP,
            cwd=clone,
            runner=runner,
            hint="both series must apply on their base-commit:, which must be in the QEMU tree",
        )
        return out.read_text(encoding="utf-8", errors="replace")


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


def version_label(new: Version, explicit: int | None) -> str:
    if explicit is not None:
        return f"v{explicit}"
    match = re.search(r"\bv(\d+)\b", new.prefix) or re.fullmatch(r"v(\d+)", new.label)
    return f"v{match.group(1)}" if match else "vN"


def draft(entries: Sequence[Entry], old: Version, new: Version, version: int | None) -> str:
    total, old_total = len(new.files) - 1, len(old.files) - 1
    lines = [f"Changes in {version_label(new, version)}:"]
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
            lines.append(f"- dropped: {entry.subject} (was {entry.old}/{old_total})")
    same = [e.new for e in entries if e.op == "=" and e.new is not None]
    if same:
        lines.append(f"- unchanged: {'patch' if len(same) == 1 else 'patches'} {ranges(same)}")
    if len(lines) == 1:
        lines.append("- no change")
    return "\n".join(lines)


def changelog(
    tree: Path, old: Version, new: Version, runner: Runner, *, version: int | None = None
) -> tuple[str, str]:
    """The draft and the raw range-diff output."""
    output = range_diff(tree, old, new, runner)
    return draft(parse(output), old, new, version), output
