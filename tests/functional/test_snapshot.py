"""Snapshots: savevm/loadvm on a qcow2 disk made with the qemu-img built from the tree.

`loadvm` resets the machine internally (cause snapshot-load) before it loads
the saved state; that reset must not apply a pending update, and the state
after `loadvm` (device files, BIOS region, guest RAM) is the saved one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from vmfw_flows import (
    KIB,
    LOAD_ADDR,
    Boot,
    Booted,
    check_banner,
    nonce,
    reset,
    stage_update,
    write_opaque,
)

from harness.interface.encoding import crc32
from harness.interface.firmware_region import region_after_update
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, OPAQUE

STAGE2 = "opt/vmfwtest/stage2"
REGION = 512 * KIB
FOUR_GIB = 1 << 32


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


def region_crc(b: Booted) -> int:
    return b.agent.crc(FOUR_GIB - REGION, REGION)


@pytest.fixture
def snap_boot(boot: Boot, qemu_bin: Path) -> Booted:
    stage2 = boot.image(256 * KIB, "stage2")
    disk = make_disk(qemu_bin, boot.vms.log_root)
    drive = ("-drive", f"file={disk},if=none,id=snapdisk,format=qcow2")
    return boot(size=REGION, blobs={STAGE2: stage2}, extra_args=drive)


@pytest.mark.core
def test_loadvm_does_not_apply_pending_update(boot: Boot, snap_boot: Booted) -> None:
    b = snap_boot
    stage1 = b.image.read_bytes()
    stage2 = boot.image(256 * KIB, "stage2")
    token = nonce("armed")
    write_opaque(b.agent, token)
    stage_update(b.agent, STAGE2, stage2)
    hmp_ok(b, "savevm armed")
    mark = b.vm.qmp.mark()
    hmp_ok(b, "loadvm armed")
    # loadvm reset the machine, but stage 1 keeps running with the update still armed.
    assert b.agent.readq(BIOS_ADDR) == LOAD_ADDR, "loadvm lost or consumed the armed update"
    assert b.agent.readq(BIOS_SIZE) == 256 * KIB
    assert b.agent.read(OPAQUE)[: len(token)] == token
    assert region_crc(b) == crc32(stage1), "loadvm changed the BIOS region"
    guest_resets = [
        e for e in b.vm.qmp.events[mark:] if e["event"] == "RESET" and e["data"]["guest"]
    ]
    assert not guest_resets, f"guest reset during loadvm: {guest_resets}"
    # The saved pending update is applied by the next real reset.
    check_banner(reset(b.vm, "cf9"), stage2, "stage2")


# TCG only: the KVM run (slow PVM here) keeps to the core check above.
def test_loadvm_restores_saved_state(boot: Boot, snap_boot: Booted) -> None:
    b = snap_boot
    stage1 = b.image.read_bytes()
    stage2 = boot.image(256 * KIB, "stage2")
    before = nonce("before")
    write_opaque(b.agent, before)
    b.agent.mwrite(0x200000, before)
    hmp_ok(b, "savevm before")
    # Arm, change opaque and RAM, then go back: nothing of it is left.
    after = nonce("after")
    write_opaque(b.agent, after)
    b.agent.mwrite(0x200000, after)
    stage_update(b.agent, STAGE2, stage2)
    hmp_ok(b, "loadvm before")
    assert b.agent.readq(BIOS_ADDR) == 0, "loadvm kept an update armed after the snapshot"
    assert b.agent.readq(BIOS_SIZE) == REGION
    assert b.agent.read(OPAQUE)[: len(before)] == before
    assert b.agent.mread(0x200000, len(before)) == before
    assert reset(b.vm, "qmp").identity == "stage1", "update armed after savevm was applied"
    # Apply the update (resized), snapshot it, go back to the pre-update snapshot and forth.
    stage_update(b.agent, STAGE2, stage2)
    check_banner(reset(b.vm, "kbd"), stage2, "stage2")
    updated = crc32(region_after_update(REGION, stage2.read_bytes()))
    assert region_crc(b) == updated
    hmp_ok(b, "savevm updated")
    hmp_ok(b, "loadvm before")
    assert b.agent.readq(BIOS_SIZE) == REGION
    assert region_crc(b) == crc32(stage1), "loadvm of the pre-update snapshot kept stage 2"
    hmp_ok(b, "loadvm updated")
    assert b.agent.readq(BIOS_SIZE) == 256 * KIB
    assert region_crc(b) == updated
    check_banner(reset(b.vm, "cf9"), stage2, "stage2")
