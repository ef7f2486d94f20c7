"""Source resolution: checkout, tarball, URL, checksum pin, refusals leave nothing behind."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from repo_helpers import FAKE_FILES, git, write_tree

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree import source
from harness.tree.source import prepare, resolve_spec, sha256_of
from harness.workdir import Workdir


def src_entries(workdir: Workdir) -> list[str]:
    return sorted(p.name for p in workdir.src.iterdir()) if workdir.src.exists() else []


def test_tarball_becomes_git_repo_with_deterministic_base(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path], tmp_path: Path
) -> None:
    tarball = make_tarball()
    tree = prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
    assert tree.path == workdir.src / "qemu-10.2.2"
    assert tree.kind == "tarball" and tree.version == "10.2.2"
    log = git(tree.path, "log", "--format=%H|%an <%ae>|%aI|%cn|%cI|%s").splitlines()
    # two commits: the prep commit on the tarball's base commit
    prep, first = log[0].split("|"), log[1].split("|")
    assert len(log) == len([prep, first])
    assert first[1:] == [
        "vmfwupdate-harness <harness@vmfwupdate.invalid>",
        "2000-01-01T00:00:00+00:00",
        "vmfwupdate-harness",
        "2000-01-01T00:00:00+00:00",
        "QEMU 10.2.2 (qemu-10.2.2.tar.xz)",
    ]
    assert prep[5] == source.PREP_MESSAGE
    assert tree.base == prep[0]
    diff = git(tree.path, "show", "--format=", "HEAD")
    assert "-if unpack_edk2_blobs\n+if unpack_edk2_blobs and false\n" in diff
    assert git(tree.path, "status", "--porcelain") == ""
    assert git(tree.path, "describe", "--match", "v*", "HEAD").strip().startswith("v10.2.2-1-g")
    # a second workdir gets the very same commits (same SHA on every machine)
    other = Workdir(tmp_path / "other-repo")
    tree2 = prepare(str(tarball), other, runner, sha256=sha256_of(tarball))
    assert tree2.base == tree.base
    assert git(tree2.path, "rev-parse", "v10.2.2") == git(tree.path, "rev-parse", "v10.2.2")


def test_tree_without_blob_step_gets_no_prep_commit(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    files = dict(FAKE_FILES)
    files["pc-bios/meson.build"] = "subdir('optionrom')\n"
    tarball = make_tarball(files=files)
    tree = prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
    assert git(tree.path, "rev-list", "--count", "HEAD").strip() == "1"
    assert tree.base == git(tree.path, "rev-parse", "HEAD").strip()


def test_second_fetch_reuses_tree(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    tarball = make_tarball()
    first = prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
    (first.path / "marker").write_text("kept")
    again = prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
    assert again == first
    assert (again.path / "marker").read_text() == "kept"


def test_bad_checksum_names_file_and_both_sums(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    tarball = make_tarball(name=source.DEFAULT_TARBALL)  # pinned name, wrong content
    with pytest.raises(HarnessError) as info:
        prepare(str(tarball), workdir, runner)
    err = info.value
    text = err.render()
    assert "checksum mismatch" in text and source.DEFAULT_TARBALL in text
    assert source.PINNED_SHA256[source.DEFAULT_TARBALL] in text
    assert sha256_of(tarball) in text
    assert err.path == tarball and err.hint
    assert src_entries(workdir) == []


def test_explicit_sha256_mismatch_refused(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    tarball = make_tarball()
    with pytest.raises(HarnessError, match="checksum mismatch"):
        prepare(str(tarball), workdir, runner, sha256="0" * 64)
    assert src_entries(workdir) == []


def test_unpinned_tarball_needs_sha256(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    tarball = make_tarball(name="qemu-10.2.2.tar.xz")
    with pytest.raises(HarnessError) as info:
        prepare(str(tarball), workdir, runner)
    assert "no pinned checksum" in info.value.problem
    assert "--sha256" in (info.value.hint or "")


def test_tarball_that_is_not_qemu_leaves_nothing(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    tarball = make_tarball(files={"README": "not qemu\n"})
    with pytest.raises(HarnessError) as info:
        prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
    assert "not a QEMU source tree" in info.value.problem
    assert "VERSION" in info.value.problem
    assert src_entries(workdir) == []


def test_git_checkout_used_in_place(workdir: Workdir, runner: Runner, tmp_path: Path) -> None:
    checkout = tmp_path / "my-qemu"
    write_tree(checkout, FAKE_FILES)
    git(checkout, "init", "-q", "-b", "master")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "upstream")
    head = git(checkout, "rev-parse", "HEAD")
    tree = prepare(str(checkout), workdir, runner)
    assert tree.path == checkout.resolve() and tree.kind == "git" and not tree.owned
    assert tree.base is None and tree.version == "10.2.2"
    assert git(checkout, "rev-parse", "HEAD") == head
    assert src_entries(workdir) == []


def test_qemu_tree_without_git_refused(workdir: Workdir, runner: Runner, tmp_path: Path) -> None:
    plain = tmp_path / "plain-qemu"
    write_tree(plain, FAKE_FILES)
    with pytest.raises(HarnessError, match="not the top of a git checkout"):
        prepare(str(plain), workdir, runner)


def test_directory_that_is_not_qemu_refused(
    workdir: Workdir, runner: Runner, tmp_path: Path
) -> None:
    other = tmp_path / "linux"
    write_tree(other, {"Makefile": "all:\n"})
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    with pytest.raises(HarnessError) as info:
        prepare(str(other), workdir, runner)
    assert "is not a QEMU source tree" in info.value.problem
    assert info.value.hint and "--qemu-src" in info.value.hint


def test_missing_path_refused(workdir: Workdir, runner: Runner, tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="QEMU source not found"):
        prepare(str(tmp_path / "nope"), workdir, runner)


def test_file_url_is_downloaded_and_verified(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    tarball = make_tarball()
    sha = sha256_of(tarball)
    tree = prepare(tarball.as_uri(), workdir, runner, sha256=sha)
    assert (workdir.downloads / tarball.name).is_file()
    assert tree.version == "10.2.2"


def test_url_with_wrong_checksum_leaves_no_download(
    workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]
) -> None:
    tarball = make_tarball()
    with pytest.raises(HarnessError, match="checksum mismatch"):
        prepare(tarball.as_uri(), workdir, runner, sha256="f" * 64)
    assert not any(workdir.downloads.iterdir())


def test_resolve_spec_precedence(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QEMU_SRC", raising=False)
    default = resolve_spec(None, workdir)
    assert default == str(workdir.repo.parent / "shared" / "qemu" / source.DEFAULT_TARBALL)
    monkeypatch.setenv("QEMU_SRC", "/from/env")
    assert resolve_spec(None, workdir) == "/from/env"
    assert resolve_spec("/from/flag", workdir) == "/from/flag"
