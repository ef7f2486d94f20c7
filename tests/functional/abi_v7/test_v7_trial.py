"""The v7 one-boot trial, seen from the guest: CTL_HOST_FW with an image runs it for one
boot, during which control reads CTL_HOST_FW; the next cold reset brings the host's -bios
image back, unless the trial firmware commits itself; CTL_HOST_FW alone restores; a due
restore survives live migration; OVMF on trial on a SeaBIOS-sized host with room for it
(`rom-max-size`) boots, and the cold reset after it brings the agent back, the room zero."""

from __future__ import annotations

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_runs, load, reset
from firmware import (
    BLOB,
    OVMF,
    OVMF_DEADLINE,
    assert_region_holds,
    banner_after_other_firmware,
    firmware,
    wait_ovmf_boot_manager,
)
from migration import Migrator
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Booted, Booter, Payloads, VMFactory

from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR, RESET_METHODS
from harness.interface.v7 import CTL_DISABLE, CTL_HOST_FW, FORMAT_PLATFORM_ROM, Status
from harness.interface.v7_device import V7Device
from harness.platform import KIB, MIB

REGION = 256 * KIB
IMAGE = 128 * KIB


def start_trial(boot: Booter, extra_control: int = 0) -> tuple[Booted, V7Device]:
    """Boot stage 1, load stage 2 and arm it as a trial; the trial must read back armed."""
    stage2 = boot.image(IMAGE, STAGE2)
    b = boot(size=REGION, blobs={STAGE2_BLOB: stage2})
    dev = b.device
    assert isinstance(dev, V7Device)
    loaded = load(b.agent, STAGE2_BLOB)
    armed = dev.set(FORMAT_PLATFORM_ROM | CTL_HOST_FW | extra_control, LOAD_ADDR, loaded.size)
    assert (armed.status, armed.fw_image_addr) == (Status.OK, LOAD_ADDR)
    return b, dev


@pytest.mark.core
@pytest.mark.parametrize("method", RESET_METHODS)
def test_trial_runs_once_then_host_firmware(boot: Booter, method: str) -> None:
    b, dev = start_trial(boot)
    stage2 = boot.image(IMAGE, STAGE2)
    assert_runs(reset(b.vm, method).banner, stage2, STAGE2)
    on_trial = dev.read()
    assert (on_trial.status, on_trial.control, on_trial.fw_image_addr) == (
        Status.OK,
        CTL_HOST_FW,
        0,
    )
    assert_runs(reset(b.vm, method).banner, b.image, STAGE1)
    assert dev.read().control == 0
    # and the host's firmware stays
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE1


@pytest.mark.core
def test_commit_keeps_the_trial_firmware(boot: Booter) -> None:
    b, dev = start_trial(boot)
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE2
    committed = dev.commit()
    assert (committed.status, committed.control) == (Status.OK, 0)
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE2
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE2


@pytest.mark.core
def test_restore_without_an_image(boot: Booter) -> None:
    b, dev = start_trial(boot)
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE2
    assert dev.commit().control == 0
    asked = dev.restore_host_fw()
    assert (asked.status, asked.control) == (Status.OK, CTL_HOST_FW)
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)
    assert dev.read().control == 0


def test_locked_trial_ends_in_a_restore_that_unlocks(boot: Booter) -> None:
    b, dev = start_trial(boot, CTL_DISABLE)
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE2
    assert dev.read().control == CTL_HOST_FW | CTL_DISABLE
    assert dev.commit().status == Status.DISABLED
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE1
    assert dev.read().control == 0
    assert dev.restore_host_fw().status == Status.OK


@pytest.mark.core
def test_due_restore_survives_migration(boot: Booter, migrator: Migrator) -> None:
    b, _ = start_trial(boot)
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE2
    moved = migrator(b)
    moved_dev = moved.device
    assert isinstance(moved_dev, V7Device)
    assert moved_dev.read().control == CTL_HOST_FW
    assert_runs(reset(moved.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)
    assert moved_dev.read().control == 0


ROOM = 4 * MIB


# TCG only, as the other OVMF flows (flows/test_real_firmware.py): PVM's KVM runs firmware
# code at ~0.1 MB/s.
def test_ovmf_trial_on_a_seabios_sized_host(
    vms: VMFactory, payloads: Payloads, machine: str, abi: str
) -> None:
    ovmf = firmware(OVMF, "ovmf")
    boot = vms.booter(payloads, machine, "tcg", abi)
    b = boot(size=DEFAULT_IMAGE_SIZE, blobs={BLOB: ovmf}, rom_max_size=ROOM)
    dev = b.device
    assert isinstance(dev, V7Device)
    host_fw = b.image.read_bytes()
    assert dev.read().fw_rom_size == ROOM
    loaded = load(b.agent, BLOB)
    armed = dev.trial(LOAD_ADDR, loaded.size)
    assert (armed.status, armed.fw_image_size) == (Status.OK, len(ovmf.read_bytes()))
    b.vm.console.send_line("reset cf9")
    b.vm.console.wait_line(r"resetting cf9", 10.0)
    assert "Boot0" in wait_ovmf_boot_manager(b.vm)
    assert_region_holds(b.vm, dev.abi, ovmf.read_bytes(), ROOM)
    # The cold reset after OVMF's boot restores the host's firmware: the agent, the room
    # below it zero again, nothing due.
    mark = b.vm.qmp.mark()
    b.vm.qmp.cmd("system_reset")
    b.vm.qmp.wait_event("RESET", mark)
    assert_runs(banner_after_other_firmware(b.vm, OVMF_DEADLINE), b.image, STAGE1)
    assert_region_holds(b.vm, dev.abi, host_fw, ROOM)
    after = dev.read()
    assert (after.status, after.control, after.fw_rom_size) == (Status.OK, 0, ROOM)
