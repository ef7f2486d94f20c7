"""Helpers for the unit tests: tiny QEMU-like trees and patch series in real git repos."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.tree.source import QemuTree

# How many patches make_series writes.
SERIES_PATCHES = 3

AUTHOR_ENV = {
    "GIT_AUTHOR_NAME": "Ada Developer",
    "GIT_AUTHOR_EMAIL": "ada@example.invalid",
    "GIT_COMMITTER_NAME": "Ada Developer",
    "GIT_COMMITTER_EMAIL": "ada@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}

FAKE_FILES = {
    "VERSION": "10.2.2\n",
    "configure": "#!/bin/sh\necho fake configure\n",
    "meson.build": "project('qemu', 'c')\n",
    "hw/misc/meson.build": "system_ss.add(files('a.c'))\n",
    "hw/misc/a.c": "".join(f"int a{i} = {i};\n" for i in range(30)),
    "hw/misc/b.c": "".join(f"int b{i} = {i};\n" for i in range(30)),
    "include/qemu/osdep.h": "#pragma once\n",
    "pc-bios/meson.build": "if unpack_edk2_blobs\n  subdir('x')\nendif\n",
}


def git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = {**AUTHOR_ENV, **(env or {})}
    proc = subprocess.run(
        ["git", "-C", str(path), *args],
        env={**os.environ, **full_env},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def write_tree(top: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_checkout(path: Path) -> Path:
    """A developer's own QEMU checkout: the fake tree as one commit on ``master``."""
    write_tree(path, FAKE_FILES)
    git(path, "init", "-q", "-b", "master")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "upstream 10.2.2")
    return path


def commit_file(repo: Path, name: str, text: str, message: str, date: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(repo, "add", name)
    git(
        repo,
        "commit",
        "-q",
        "-m",
        message,
        env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
    )


def series_recipe(repo: Path, base: str, tip: str, out: Path) -> None:
    """format-patch the way the series maintainer does (see notes/series.md)."""
    git(
        repo,
        "-c",
        "diff.algorithm=histogram",
        "-c",
        "diff.renames=true",
        "-c",
        "core.abbrev=12",
        "format-patch",
        "-q",
        "--zero-commit",
        "--no-signature",
        "--cover-letter",
        "--subject-prefix=PATCH v3",
        f"--base={base}",
        "-o",
        str(out),
        f"{base}..{tip}",
    )


MSG_DEVICE = """hw/misc: add the frobnicator

The frobnicator frobs.

Signed-off-by: Ada Developer <ada@example.invalid>
Reviewed-by: Bob Reviewer <bob@example.invalid>
"""
MSG_SECOND = """hw/misc: teach b.c to count

Signed-off-by: Ada Developer <ada@example.invalid>
"""
MSG_RENAME = """hw/misc: rename b.c to c.c

Signed-off-by: Ada Developer <ada@example.invalid>
"""


def make_series(tree: QemuTree, patches: Path, *, notes: str = "v3: count from one\n\n") -> None:
    """SERIES_PATCHES commits on top of the tree's base, exported into ``patches`` with an
    edited cover letter and per-patch notes below ``---``; the tree is left on its base."""
    repo = tree.path
    base = tree.base or git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "series-dev", base)
    commit_file(
        repo,
        "hw/misc/new.c",
        "int frob(void)\n{\n    return 1;\n}\n",
        MSG_DEVICE,
        "2026-01-02T03:04:05+0100",
    )
    a_text = (repo / "hw/misc/a.c").read_text().replace("a7 = 7", "a7 = 70")
    commit_file(repo, "hw/misc/a.c", a_text, MSG_SECOND, "2026-01-03T03:04:05-0500")
    git(repo, "mv", "hw/misc/b.c", "hw/misc/c.c")
    git(repo, "commit", "-q", "-m", MSG_RENAME, env={"GIT_AUTHOR_DATE": "2026-01-04T00:00:00+0000"})
    series_recipe(repo, base, "series-dev", patches)
    cover = patches / "0000-cover-letter.patch"
    text = cover.read_text()
    text = text.replace("*** SUBJECT HERE ***", "Add the frobnicator device")
    text = text.replace(
        "*** BLURB HERE ***",
        "This series adds a frobnicator.\n\n"
        "Changes in v3:\n- count from one\n  (indented continuation)",
    )
    cover.write_text(text)
    second = sorted(patches.glob("0002-*.patch"))[0]
    body = second.read_text()
    second.write_text(body.replace("\n---\n", "\n---\n" + notes, 1))
    git(repo, "checkout", "-q", "--detach", base)
    git(repo, "branch", "-q", "-D", "series-dev")
    if tree.owned:
        git(repo, "checkout", "-q", "base")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}
