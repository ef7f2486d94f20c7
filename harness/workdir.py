"""Paths the toolkit uses: the repository, its series and the ``.work`` directory.

The repository holds one patch series per device ABI, ``patches/<series>/``.
Each series gets its own QEMU tree and build directories below
``.work/<series>/``; both sit at the same relative place to each other
(``build/<profile>`` beside ``src/qemu-<version>``), so with ccache's base
directory at ``.work`` the compiler command lines of the two series are the
same and the second series' build is mostly cache hits. Downloads and agent
payloads are shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import harness

# The directory of the series in the repository: one subdirectory per series.
SERIES_DIR = "patches"
# The series the repository carries, oldest first; commands work on DEFAULT_SERIES unless
# told otherwise (--series, $SERIES), `check` on all of them.
SERIES = ("v6", "v7")
DEFAULT_SERIES = "v7"


def find_repo_root() -> Path:
    """The checkout of vmfwupdate-harness this package was imported from."""
    candidate = Path(harness.__file__).resolve().parent.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / SERIES_DIR).is_dir():
        return candidate
    return Path.cwd()


@dataclass(frozen=True)
class Workdir:
    """Everything below ``<repo>/.work`` plus the repository-level inputs, for one series."""

    repo: Path
    series: str = DEFAULT_SERIES

    def __post_init__(self) -> None:
        if self.series not in SERIES:
            raise ValueError(f"unknown series {self.series!r}: the series are {', '.join(SERIES)}")

    @classmethod
    def default(cls, series: str = DEFAULT_SERIES) -> Workdir:
        return cls(find_repo_root(), series)

    def for_series(self, series: str) -> Workdir:
        """The same repository and .work, another series."""
        return Workdir(self.repo, series)

    @property
    def root(self) -> Path:
        return self.repo / ".work"

    @property
    def patches(self) -> Path:
        """The series directory: where apply, export, rebase-check, checkpatch and the
        interface header check find the patch files. Every caller asks here."""
        return self.repo / SERIES_DIR / self.series

    @property
    def series_root(self) -> Path:
        """``.work/<series>``: this series' QEMU tree, builds and logs."""
        return self.root / self.series

    @property
    def src(self) -> Path:
        return self.series_root / "src"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def logs(self) -> Path:
        return self.series_root / "logs"

    @property
    def build_results(self) -> Path:
        """This series' per-patch build results (``ci/bisect-build`` writes, ``send`` reads)."""
        return self.logs / "build-results.json"

    @property
    def vm_logs(self) -> Path:
        """Per-test QEMU logs of the functional tests (pytest ``--vm-log-dir``)."""
        return self.logs / "functional"

    @property
    def payloads(self) -> Path:
        """Agent images: they do not depend on the series."""
        return self.root / "payloads"

    @property
    def shared_qemu(self) -> Path:
        """Where CI keeps the pinned tarballs: ``../shared/qemu`` beside the repository."""
        return self.repo.parent / "shared" / "qemu"

    def build_dir(self, profile: str) -> Path:
        return self.series_root / "build" / profile

    def log(self, name: str) -> Path:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / name
