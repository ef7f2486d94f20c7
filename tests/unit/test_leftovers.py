"""What the toolkit leaves behind: no background `git gc` after its commits, no half
unpacked tree after a killed fetch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.runner import Runner
from harness.tree.git import Git
from harness.tree.source import prepare, sha256_of
from harness.workdir import Workdir


def test_toolkit_commits_start_no_auto_gc(tmp_path: Path, runner: Runner) -> None:
    git = Git(tmp_path, runner, "apply")
    git.run("init", "--quiet")
    (tmp_path / "f").write_text("x\n")
    git.run("add", "f")
    proc = git.run("commit", "--quiet", "-m", "one", env={"GIT_TRACE": "1"})
    assert "--auto" not in proc.stderr, proc.stderr  # `maintenance run --auto` / `gc --auto`


def test_fetch_removes_what_a_killed_fetch_left(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    stale = workdir.src / ".unpack-10.2.2-abc123" / "qemu-10.2.2"
    stale.mkdir(parents=True)
    (stale / "VERSION").write_text("10.2.2\n")
    tarball = make_tarball()
    tree = prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
    assert tree.path.is_dir()
    assert not list(workdir.src.glob(".unpack-*"))


def test_unpacked_tree_serves_without_the_tarball(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    """../shared gone: the tree unpacked from the pinned tarball earlier is used."""
    tarball = make_tarball()
    first = prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
    tarball.unlink()
    again = prepare(str(tarball), workdir, runner)
    assert (again.path, again.base, again.kind) == (first.path, first.base, "tarball")
