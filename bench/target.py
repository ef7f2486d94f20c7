"""What the benchmarks measure for one series: its QEMU binary, its QEMU tree, its ABI.

Each series (= device ABI) has its own tree and build below ``.work/<series>/``; a
benchmark of a series runs that series' binary and talks to the device through that
ABI's view, like the functional flows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.build.qemu import PROFILES, configured_source
from harness.interface.abis import abi
from harness.interface.declaration import AbiDeclaration
from harness.tree.source import PINNED_VERSION
from harness.workdir import Workdir

PROFILE = "default"


class TargetError(Exception):
    """A series cannot be benchmarked (no binary, no tree); the message says what to do."""


@dataclass(frozen=True)
class Target:
    """One series to measure: its workdir, the QEMU binary and the tree it was built from."""

    workdir: Workdir
    qemu: Path
    tree: Path

    @property
    def series(self) -> str:
        return self.workdir.series

    @property
    def abi(self) -> AbiDeclaration:
        """Each series carries the device ABI of the same name."""
        return abi(self.series)

    @property
    def scratch(self) -> Path:
        """``.work/<series>/bench``: agent images, VM logs, qemu_test's build root."""
        return self.workdir.series_root / "bench"


def default_binary(workdir: Workdir) -> Path:
    return workdir.build_dir(PROFILE) / PROFILES[PROFILE].binary


def target(workdir: Workdir, qemu: Path | None = None) -> Target:
    """The series' default build (or the binary `qemu`) and the tree it was configured from."""
    binary = (qemu or default_binary(workdir)).resolve()
    if not binary.is_file():
        raise TargetError(
            f"no QEMU binary at {binary} (series {workdir.series}): run "
            f"`vmfwupdate build --series {workdir.series}` (or `make check-vmfwupdate`) first"
        )
    tree = configured_source(binary.parent)
    if tree is None and qemu is None:
        tree = workdir.src / f"qemu-{PINNED_VERSION}"
    if tree is None or not tree.is_dir():
        raise TargetError(
            f"no QEMU tree for {binary}: its build directory names none, or {tree} is gone"
        )
    return Target(workdir, binary, tree)
