"""Reading and rewriting the parts of git format-patch files the toolkit cares about:
the subject prefix, the notes below ``---``, and the cover letter's own text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

COVER_LETTER = "0000-cover-letter.patch"
PATCH_NAME = re.compile(r"^\d{4}-.+\.patch$")
SUBJECT_PREFIX = re.compile(r"^Subject: \[([^\]]*?) ?\d+/\d+\]")
STAT_LINE = re.compile(r"^ .+ \| +(\d+ ?[+-]*|Bin .*)$")
STAT_SUMMARY = re.compile(r"^ \d+ files? changed")
AUTHOR_LINE = re.compile(r"^\S.* \(\d+\):$")


def series_files(patches_dir: Path) -> list[Path]:
    """The patches in apply order: ``patches/series`` if present, else by file name."""
    order = patches_dir / "series"
    if order.is_file():
        names = [
            line.strip()
            for line in order.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        return [patches_dir / name for name in names if name != COVER_LETTER]
    return sorted(
        p
        for p in patches_dir.glob("*.patch")
        if PATCH_NAME.match(p.name) and p.name != COVER_LETTER
    )


def subject_prefix(files: list[Path], default: str = "PATCH") -> str:
    """The ``--subject-prefix`` the existing series was written with (e.g. ``PATCH v7``)."""
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = SUBJECT_PREFIX.match(line)
            if match:
                return match.group(1)
            if not line:
                break
    return default


def split_at_separator(text: str) -> tuple[str, str] | None:
    """Split a patch mail after its first ``---`` line: (head incl. ``---\\n``, rest)."""
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.rstrip("\n") == "---":
            return text[: pos + len(line)], text[pos + len(line) :]
        if line.startswith("diff --git "):
            return None
        pos += len(line)
    return None


def diffstat_start(lines: list[str]) -> int | None:
    """Index of the first diffstat line in ``lines`` (which start right after ``---``)."""
    for index, line in enumerate(lines):
        if STAT_SUMMARY.match(line):
            start = index
            while start > 0 and STAT_LINE.match(lines[start - 1]):
                start -= 1
            return start
        if line.startswith("diff --git "):
            return index
    return None


def extract_notes(text: str) -> str:
    """The free text a patch carries between ``---`` and its diffstat (lost by git am)."""
    parts = split_at_separator(text)
    if parts is None:
        return ""
    lines = parts[1].splitlines(keepends=True)
    start = diffstat_start(lines)
    if start is None:
        return ""
    return "".join(lines[:start])


def insert_notes(text: str, notes: str) -> str:
    """Put ``notes`` back right after the ``---`` line of a generated patch."""
    if not notes:
        return text
    parts = split_at_separator(text)
    if parts is None:
        return text
    return parts[0] + notes + parts[1]


@dataclass(frozen=True)
class CoverLetter:
    headers: list[str]  # header lines incl. continuations, without the blank line
    blurb: str  # text between the headers and the shortlog
    tail: str  # shortlog, diffstat, base-commit ...


def parse_cover_letter(text: str) -> CoverLetter:
    lines = text.splitlines(keepends=True)
    try:
        blank = lines.index("\n")
    except ValueError:
        return CoverLetter(headers=lines, blurb="", tail="")
    headers, body = lines[:blank], lines[blank + 1 :]
    stat = next((i for i, line in enumerate(body) if STAT_SUMMARY.match(line)), None)
    if stat is None:
        return CoverLetter(headers=headers, blurb="".join(body), tail="")
    index = stat
    while index > 0 and STAT_LINE.match(body[index - 1]):
        index -= 1
    # walk back over the shortlog: author lines, indented subjects and blank lines
    start = index
    first_author = None
    probe = index - 1
    while probe >= 0:
        line = body[probe]
        if AUTHOR_LINE.match(line.rstrip("\n")):
            if probe > 0 and body[probe - 1] != "\n":
                break  # shortlog groups start after a blank line: this is blurb text
            first_author = probe
        elif not (line == "\n" or line.startswith("  ")):
            break
        probe -= 1
    if first_author is not None:
        start = first_author
    return CoverLetter(headers=headers, blurb="".join(body[:start]), tail="".join(body[start:]))


def merge_cover_letter(old_text: str, new_text: str) -> str:
    """Keep the old letter's headers (From, Date, Subject text) and blurb; take the shortlog,
    diffstat and base-commit from the new one; renumber the subject's ``0/N``."""
    old, new = parse_cover_letter(old_text), parse_cover_letter(new_text)
    new_subject = next((h for h in new.headers if h.startswith("Subject: ")), None)
    headers = list(old.headers)
    if new_subject is not None:
        match = re.match(r"^Subject: (\[[^\]]*\])", new_subject)
        for i, header in enumerate(headers):
            if header.startswith("Subject: ") and match:
                bracket = match.group(1)
                headers[i] = re.sub(
                    r"^Subject: \[[^\]]*\]", lambda _m, b=bracket: f"Subject: {b}", header
                )
    return "".join(headers) + "\n" + old.blurb + new.tail
