"""Snapshots: savevm/loadvm on a qcow2 disk made with the qemu-img built from the tree.

`loadvm` resets the machine internally (cause snapshot-load) before it loads
the saved state; that reset must not apply a pending update, and the state
after `loadvm` (device files, BIOS region, guest RAM) is the saved one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_runs, assert_staged, nonce, reset
from snapshots import drive_args, hmp_ok, make_disk
from vms import STAGE1, Booted, Booter

from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR
from harness.interface.encoding import crc32
from harness.interface.firmware_region import region_after_update, region_base
from harness.platform import KIB, MIB

REGION = 512 * KIB
IMAGE = 256 * KIB
# Guest RAM the tests write a marker to, outside the agent and the staged image.
MARKER_ADDR = 2 * MIB


def region_crc(b: Booted) -> int:
    """CRC32 of the whole firmware region, from inside the guest."""
    return b.agent.crc(region_base(b.device.abi, REGION), REGION)


@dataclass(frozen=True)
class Snap:
    """A booted VM with a disk for snapshots, the bytes of its stage 1 and the stage 2 image."""

    b: Booted
    stage1: bytes
    stage2: Path


@pytest.fixture
def snap(boot: Booter, qemu_bin: Path) -> Snap:
    stage2 = boot.image(IMAGE, STAGE2)
    disk = make_disk(qemu_bin, boot.vms.log_root)
    b = boot(size=REGION, blobs={STAGE2_BLOB: stage2}, extra_args=drive_args(disk))
    return Snap(b, b.image.read_bytes(), stage2)


@pytest.mark.core
def test_loadvm_does_not_apply_pending_update(snap: Snap) -> None:
    b, stage1, stage2 = snap.b, snap.stage1, snap.stage2
    token = nonce("armed")
    b.device.write_opaque(token)
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    hmp_ok(b, "savevm armed")
    mark = b.vm.qmp.mark()
    hmp_ok(b, "loadvm armed")
    # loadvm reset the machine, but stage 1 keeps running with the update still armed.
    assert b.device.state().armed == (LOAD_ADDR, IMAGE), "loadvm lost or consumed the update"
    assert b.device.read_opaque(len(token)) == token
    assert region_crc(b) == crc32(stage1), "loadvm changed the BIOS region"
    guest_resets = [
        e for e in b.vm.qmp.events[mark:] if e["event"] == "RESET" and e["data"]["guest"]
    ]
    assert not guest_resets, f"guest reset during loadvm: {guest_resets}"
    # The saved pending update is applied by the next real reset.
    assert_runs(reset(b.vm, "cf9").banner, stage2, STAGE2)


# TCG only: the KVM run (slow PVM here) keeps to the core check above.
def test_loadvm_restores_saved_state(snap: Snap) -> None:
    b, stage1, stage2 = snap.b, snap.stage1, snap.stage2
    before = nonce("before")
    b.device.write_opaque(before)
    b.agent.mwrite(MARKER_ADDR, before)
    hmp_ok(b, "savevm before")
    # Arm, change opaque and RAM, then go back: nothing of it is left.
    after = nonce("after")
    b.device.write_opaque(after)
    b.agent.mwrite(MARKER_ADDR, after)
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    hmp_ok(b, "loadvm before")
    state = b.device.state()
    assert state.armed is None, "loadvm kept an update armed after the snapshot"
    assert state.image_size in (None, REGION)
    assert b.device.read_opaque(len(before)) == before
    assert b.agent.mread(MARKER_ADDR, len(before)) == before
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE1, "update after savevm applied"
    # Apply the update (resized), snapshot it, go back to the pre-update snapshot and forth.
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    assert_runs(reset(b.vm, "kbd").banner, stage2, STAGE2)
    updated = crc32(region_after_update(REGION, stage2.read_bytes()))
    assert region_crc(b) == updated
    hmp_ok(b, "savevm updated")
    hmp_ok(b, "loadvm before")
    assert b.device.state().image_size in (None, REGION)
    assert region_crc(b) == crc32(stage1), "loadvm of the pre-update snapshot kept stage 2"
    hmp_ok(b, "loadvm updated")
    assert b.device.state().image_size in (None, IMAGE)
    assert region_crc(b) == updated
    assert_runs(reset(b.vm, "cf9").banner, stage2, STAGE2)
