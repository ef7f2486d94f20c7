"""Live migration: the device state (what is armed, the lock, opaque) moves with the VM.

The source VM migrates with QMP `migrate` to a destination QEMU started with
the same command line plus `-incoming unix:<socket>`. The agent keeps
running on the destination and is driven over the destination's console.
(a) An update armed on the source is applied by a reset on the destination.
(b) An update applied before the migration stays applied: a reset on the
destination boots stage 2 again, not the -bios image (stage 1).
(c) opaque and the disable latch survive.
(d) Room for a bigger firmware (ABIs that declare a `rom_room`, v7's
`rom-max-size`; skipped on the others): OVMF armed on a SeaBIOS-sized host
with 4 MiB of room boots on a destination with the same room; a destination
with other room refuses the migration and says that the device's state or
memory is why. TCG only, as the other OVMF flows.
"""

from __future__ import annotations

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_runs, assert_staged, nonce, reset, status
from firmware import BLOB, OVMF, assert_region_holds, firmware, wait_ovmf_boot_manager
from migration import Migrator
from test_reset_update import assert_state_after_update
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Booted, Booter, Payloads, VMFactory, with_room

from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR, RESET_METHODS
from harness.machine.cmdline import DEVICE
from harness.platform import KIB, MIB

REGION = 512 * KIB
IMAGE = 256 * KIB
MIGRATE_DEADLINE = 60.0


# Every reset method on TCG; KVM (slow PVM here) runs the two core tests below.
@pytest.mark.parametrize("method", RESET_METHODS)
def test_armed_update_applied_on_destination(boot: Booter, migrator: Migrator, method: str) -> None:
    stage2 = boot.image(IMAGE, STAGE2)
    b = boot(size=REGION, blobs={STAGE2_BLOB: stage2})
    token = nonce(f"mig-{method}")
    b.device.write_opaque(token)
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    dst = migrator(b)
    assert (status(b.vm), status(dst.vm)) == ("postmigrate", "running")
    assert dst.device.state().armed == (LOAD_ADDR, IMAGE), "armed image lost in migration"
    outcome = reset(dst.vm, method)
    assert outcome.guest is (method != HOST_RESET_METHOD)
    assert_runs(outcome.banner, stage2, STAGE2)
    assert_state_after_update(dst, IMAGE, token)


@pytest.mark.core
@pytest.mark.parametrize("size", [REGION, 128 * KIB], ids=["same-size", "resized"])
def test_applied_update_stays_after_migration(boot: Booter, migrator: Migrator, size: int) -> None:
    stage2 = boot.image(size, STAGE2)
    b = boot(size=REGION, blobs={STAGE2_BLOB: stage2})
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    assert_runs(reset(b.vm, "cf9").banner, stage2, STAGE2)
    dst = migrator(b)
    assert (status(b.vm), status(dst.vm)) == ("postmigrate", "running")
    # Still stage 2 right after the migration, and after every reset on the destination.
    assert_runs(dst.agent.info(), stage2, STAGE2)
    assert dst.device.state().image_size in (None, size)
    assert_runs(reset(dst.vm, HOST_RESET_METHOD).banner, stage2, STAGE2)
    assert_runs(reset(dst.vm, "cf9").banner, stage2, STAGE2)
    assert dst.device.state().image_size in (None, size)


OPAQUE_PATTERN_REPEAT = 15


@pytest.mark.core
def test_opaque_and_lock_survive(boot: Booter, migrator: Migrator) -> None:
    stage2 = boot.image(IMAGE, STAGE2)
    b = boot(size=REGION, blobs={STAGE2_BLOB: stage2})
    abi = b.device.abi
    token = nonce("mig-opaque") + bytes(range(256)) * OPAQUE_PATTERN_REPEAT
    b.device.write_opaque(token)
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    locked = b.device.disable()
    dst = migrator(b)
    assert (status(b.vm), status(dst.vm)) == ("postmigrate", "running")
    assert dst.device.read_opaque(len(token)) == token, "opaque changed in migration"
    assert dst.device.state() == locked, "lock or armed image lost in migration"
    # Still locked on the destination: arming is refused.
    assert dst.device.arm(2 * LOAD_ADDR, IMAGE) == locked
    want = STAGE2 if abi.armed_image_applies_when_locked else STAGE1
    assert reset(dst.vm, "cf9").banner.identity == want
    assert dst.device.state().disabled is abi.lock_survives_reset
    assert dst.device.read_opaque(len(token)) == token
    if abi.lock_survives_reset:
        return
    # A second migration of the reset state, then arming works again on the new host.
    dst2 = migrator(dst)
    assert_staged(dst2.device, dst2.agent, STAGE2_BLOB, stage2)
    assert_runs(reset(dst2.vm, "kbd").banner, stage2, STAGE2)


ROOM = 4 * MIB
OTHER_ROOM = 2 * MIB


def ovmf_armed_in_room(vms: VMFactory, payloads: Payloads, machine: str, abi: str) -> Booted:
    """A SeaBIOS-sized host (the agent, 256 KiB) with ROOM, OVMF loaded and armed (checked)."""
    ovmf = firmware(OVMF, "ovmf")
    boot = vms.booter(payloads, machine, "tcg", abi)
    b = boot(size=DEFAULT_IMAGE_SIZE, blobs={BLOB: ovmf}, rom_max_size=ROOM)
    assert_staged(b.device, b.agent, BLOB, ovmf)
    return b


def test_ovmf_armed_in_room_boots_on_destination(
    vms: VMFactory, payloads: Payloads, migrator: Migrator, machine: str, abi: str
) -> None:
    b = ovmf_armed_in_room(vms, payloads, machine, abi)
    armed = b.device.state().armed
    dst = migrator(b)
    assert (status(b.vm), status(dst.vm)) == ("postmigrate", "running")
    assert dst.device.region_size() == ROOM
    assert dst.device.state().armed == armed, "armed image lost in migration"
    dst.vm.console.send_line("reset cf9")
    dst.vm.console.wait_line(r"resetting cf9", 10.0)
    assert "Boot0" in wait_ovmf_boot_manager(dst.vm)
    assert_region_holds(dst.vm, dst.device.abi, OVMF.read_bytes(), ROOM)


def test_migration_to_other_room_is_refused(
    vms: VMFactory, payloads: Payloads, migrator: Migrator, machine: str, abi: str
) -> None:
    b = ovmf_armed_in_room(vms, payloads, machine, abi)
    armed = b.device.state().armed
    refusal = migrator.refused(b, with_room(abi, (DEVICE,), OTHER_ROOM))
    assert refusal.status == "failed", refusal
    assert refusal.dst_exit != 0, refusal
    # What a user reads: the destination's error names the device (or its memory).
    assert DEVICE in refusal.dst_stderr, refusal.dst_stderr
    # The source goes on as before, OVMF still armed.
    assert refusal.source_state == "running", refusal
    assert b.device.state().armed == armed
