"""Fixtures: tiny QEMU-like source trees, tarballs and patch series in real git repos."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from repo_helpers import FAKE_FILES, write_tree

from harness.runner import Runner
from harness.tree.source import QemuTree, prepare, sha256_of
from harness.workdir import Workdir


@pytest.fixture
def runner() -> Runner:
    return Runner(verbose=False, out=io.StringIO())


@pytest.fixture
def workdir(tmp_path: Path) -> Workdir:
    repo = tmp_path / "harness-repo"
    (repo / "patches").mkdir(parents=True)
    return Workdir(repo)


@pytest.fixture
def make_tarball(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "qemu-10.2.2.tar.xz", files: dict[str, str] | None = None) -> Path:
        staging = tmp_path / f"staging-{name}"
        top = staging / "qemu-10.2.2"
        write_tree(top, files if files is not None else FAKE_FILES)
        out = tmp_path / "tarballs" / name
        out.parent.mkdir(exist_ok=True)
        with tarfile.open(out, "w:xz") as tar:
            tar.add(top, arcname="qemu-10.2.2")
        return out

    return make


@pytest.fixture
def owned_tree(workdir: Workdir, runner: Runner, make_tarball: Callable[..., Path]) -> QemuTree:
    tarball = make_tarball()
    return prepare(str(tarball), workdir, runner, sha256=sha256_of(tarball))
