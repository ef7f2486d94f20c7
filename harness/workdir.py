"""Paths the toolkit uses: the repository, its patches and the ``.work`` directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import harness

# The directory of the series in the repository. `Workdir.patches` is the one place that
# turns it into a path: for several series (patches/<series>/) change that property.
SERIES_DIR = "patches"


def find_repo_root() -> Path:
    """The checkout of vmfwupdate-harness this package was imported from."""
    candidate = Path(harness.__file__).resolve().parent.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / SERIES_DIR).is_dir():
        return candidate
    return Path.cwd()


@dataclass(frozen=True)
class Workdir:
    """Everything below ``<repo>/.work`` plus the repository-level inputs."""

    repo: Path

    @classmethod
    def default(cls) -> Workdir:
        return cls(find_repo_root())

    @property
    def root(self) -> Path:
        return self.repo / ".work"

    @property
    def patches(self) -> Path:
        """The series directory: where apply, export, rebase-check, checkpatch and the
        interface header check find the patch files. Every caller asks here."""
        return self.repo / SERIES_DIR

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def shared_qemu(self) -> Path:
        """Where CI keeps the pinned tarballs: ``../shared/qemu`` beside the repository."""
        return self.repo.parent / "shared" / "qemu"

    def build_dir(self, profile: str) -> Path:
        return self.root / "build" / profile

    def log(self, name: str) -> Path:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / name
