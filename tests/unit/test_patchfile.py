"""Parsing format-patch files: notes below ---, subject prefix, cover letter merge."""

from __future__ import annotations

from pathlib import Path

from harness.tree import patchfile

PATCH = """From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: A <a@x>
Date: Sat, 3 Jan 2026 03:04:05 -0500
Subject: [RFC PATCH v2 2/3] hw: thing

Body.

Signed-off-by: A <a@x>
---
v2:
 - indented note line | not a stat
Changes: none

 hw/a.c | 2 +-
 hw/b.c | 4 ++++
 2 files changed, 5 insertions(+), 1 deletion(-)

diff --git a/hw/a.c b/hw/a.c
"""

COVER_OLD = """From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: A <a@x>
Date: Mon, 1 Jan 2026 00:00:00 +0000
Subject: [PATCH v2 0/2] The thing

Long blurb.

  indented list
Pat Doe (1):
  not a shortlog: no blank line rules

A (2):
  hw: one
  hw: two

 hw/a.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

base-commit: 1111
"""

COVER_NEW = """From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Someone Else <s@x>
Date: Tue, 2 Jan 2026 00:00:00 +0000
Subject: [PATCH v2 0/3] *** SUBJECT HERE ***

*** BLURB HERE ***

A (3):
  hw: one
  hw: two
  hw: three

 hw/a.c | 4 ++--
 1 file changed, 2 insertions(+), 2 deletions(-)

base-commit: 1111
"""


def test_notes_are_the_text_between_separator_and_diffstat() -> None:
    notes = patchfile.extract_notes(PATCH)
    assert notes == "v2:\n - indented note line | not a stat\nChanges: none\n\n"
    bare = PATCH.replace(notes, "")
    assert patchfile.extract_notes(bare) == ""
    assert patchfile.insert_notes(bare, notes) == PATCH


def test_subject_prefix_read_from_existing_files(tmp_path: Path) -> None:
    path = tmp_path / "0002-hw-thing.patch"
    path.write_text(PATCH)
    assert patchfile.subject_prefix([tmp_path / "missing", path]) == "RFC PATCH v2"
    assert patchfile.subject_prefix([]) == "PATCH"


def test_cover_letter_keeps_headers_and_blurb_takes_new_tail() -> None:
    merged = patchfile.merge_cover_letter(COVER_OLD, COVER_NEW)
    assert merged.startswith(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: A <a@x>\nDate: Mon, 1 Jan 2026 00:00:00 +0000\n"
        "Subject: [PATCH v2 0/3] The thing\n\nLong blurb.\n"
    )
    assert (
        "  indented list\nPat Doe (1):\n  not a shortlog: no blank line rules\n\nA (3):\n" in merged
    )
    assert "A (3):\n  hw: one\n  hw: two\n  hw: three\n" in merged
    assert "*** BLURB HERE ***" not in merged
    assert merged.endswith("base-commit: 1111\n")


def test_cover_letter_merge_with_itself_is_identity() -> None:
    assert patchfile.merge_cover_letter(COVER_OLD, COVER_OLD) == COVER_OLD


def test_series_order(tmp_path: Path) -> None:
    for name in ("0000-cover-letter.patch", "0002-b.patch", "0001-a.patch", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in patchfile.series_files(tmp_path)] == ["0001-a.patch", "0002-b.patch"]
    (tmp_path / "series").write_text("# comment\n0002-b.patch\n\n0001-a.patch\n")
    assert [p.name for p in patchfile.series_files(tmp_path)] == ["0002-b.patch", "0001-a.patch"]
