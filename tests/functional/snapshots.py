"""Snapshots in the functional tests: a qcow2 disk made by the built qemu-img (savevm needs
one) and HMP savevm/loadvm/delvm, which print nothing on success."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from vms import Booted


def make_disk(qemu_bin: Path, directory: Path) -> Path:
    qemu_img = qemu_bin.parent / "qemu-img"
    if not qemu_img.is_file():
        pytest.fail(f"{qemu_img} missing: the build step builds qemu-img next to QEMU")
    disk = directory / "snap.qcow2"
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(qemu_img), "create", "-f", "qcow2", str(disk), "16M"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"qemu-img create failed: {done.stderr}"
    return disk


def hmp_ok(b: Booted, command: str) -> None:
    """Run a savevm/loadvm/delvm HMP command; it prints nothing on success."""
    out = b.vm.qmp.hmp(command, timeout=60.0).strip()
    assert out == "", f"{command}: {out}"


def drive_args(disk: Path) -> tuple[str, ...]:
    """The -drive arguments that attach `disk` for snapshots (no guest device needed)."""
    return ("-drive", f"file={disk},if=none,id=snapdisk,format=qcow2")
