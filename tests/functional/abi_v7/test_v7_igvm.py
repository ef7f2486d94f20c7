"""Updates to IGVM images (v7 FORMAT_IGVM), from a host started either way (`boot_kind`:
the agent as -bios, or QEMU started from the agent wrapped as IGVM, whose pages then go
into the memory the host IGVM's launch created at the top of 4 GiB instead of a ROM
region; the flow that needs room, OVMF with `rom-max-size`, is skipped there, as such a
guest has no ROM region).

The IGVM files are made by the toolkit with the pinned igvm-wrap (`igvm_files`): Debian's
SeaBIOS and OVMF, and the agent itself. The host loads one from fw_cfg into RAM and arms
it with FORMAT_IGVM; at the cold reset the device writes the file's pages into the ROM
region (zero-filled first) and the new firmware must really run:

- SeaBIOS after a guest (cf9) and a host (QMP) reset: its banner on the debug console,
  the region holding its bytes, and again after the next reset (the update stays);
- OVMF on a SeaBIOS-sized host with 4 MiB of room (`rom-max-size`): its pages at
  [4 GiB - 2 MiB, 4 GiB) fit there; OVMF's boot manager on COM1, the room zero below it;
- the agent wrapped as IGVM, on trial (CTL_HOST_FW) with every reset method: it runs
  once (banner, CRC of its pages), reads CTL_HOST_FW, and the cold reset after it brings
  the host agent back; or it commits itself (a control without CTL_HOST_FW) and stays;
- live migration with an IGVM image armed: applied by a reset on the destination
  (SeaBIOS boots there); refused by a destination whose `igvm-max-size` is smaller than
  the image, its error naming the property, the source going on as before.

SeaBIOS and OVMF run on TCG only (firmware under the PVM flavour of KVM here is emulated
at ~0.1 MB/s, see flows/test_real_firmware.py); the agent's trial runs on KVM too (its
core case).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_runs, reset, status
from firmware import (
    BLOB,
    OVMF,
    SEABIOS,
    SEABIOS_BANNER,
    SEABIOS_DEADLINE,
    SEABIOS_FW_CFG,
    assert_region_holds,
    debugcon_args,
    firmware,
    wait_in_file,
    wait_ovmf_boot_manager,
)
from igvm_files import IgvmFiles, assert_igvm_armed, v7_device
from migration import Migrator
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Booted, Booter, VMFactory

from harness.guest.protocol import GUEST_RESET_METHODS, HOST_RESET_METHOD, LOAD_ADDR
from harness.interface.v7 import CTL_HOST_FW, FORMAT_IGVM, IGVM_MAX_SIZE_PROPERTY, Status
from harness.interface.v7_struct import Fields
from harness.machine.cmdline import DEVICE, device_arg, size_text
from harness.platform import KIB, MIB

# The host: the agent at SeaBIOS's size, its region 256 KiB.
REGION = DEFAULT_IMAGE_SIZE
# The agent on trial: smaller than the region, so the zero fill below it takes part.
TRIAL_IMAGE = 128 * KIB
ROOM = 4 * MIB
# Smaller than any IGVM file the flows arm (SeaBIOS's is ~190 KiB).
SMALL_IGVM_MAX = 64 * KIB
# SeaBIOS boots twice: after the update, and after the reset that follows.
BOOTS = 2


@pytest.mark.core
@pytest.mark.parametrize("method", ["cf9", HOST_RESET_METHOD])
def test_seabios_igvm_boots_after_update(
    igvm_tcg_host: Booter, igvm_files: IgvmFiles, vms: VMFactory, method: str
) -> None:
    seabios = firmware(SEABIOS, "seabios")
    igvm = igvm_files.wrap(seabios)
    debug_log = vms.log_root / "debugcon.log"
    b = igvm_tcg_host(blobs={BLOB: igvm}, extra_args=debugcon_args(debug_log))
    assert_igvm_armed(b, BLOB, igvm)
    mark = b.vm.qmp.mark()
    if method == HOST_RESET_METHOD:
        b.vm.qmp.cmd("system_reset")
    else:
        b.agent.console.send_line(f"reset {method}")
    assert b.vm.qmp.wait_event("RESET", mark)["data"]["guest"] is (method != HOST_RESET_METHOD)
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, 1, SEABIOS_DEADLINE, b.vm)
    assert log.startswith(SEABIOS_BANNER), f"debug console: {log[:80]!r}"
    assert_region_holds(b.vm, b.device.abi, seabios.read_bytes(), REGION)
    # The update replaced the firmware: the next cold reset boots SeaBIOS again.
    b.vm.qmp.cmd("system_reset")
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, BOOTS, SEABIOS_DEADLINE, b.vm)
    assert log.count(SEABIOS_BANNER) >= BOOTS, "the second boot printed no SeaBIOS banner"
    assert status(b.vm) == "running"


def test_ovmf_igvm_boots_in_room(igvm_tcg_host: Booter, igvm_files: IgvmFiles) -> None:
    ovmf = firmware(OVMF, "ovmf")
    igvm = igvm_files.wrap(ovmf)
    b = igvm_tcg_host(blobs={BLOB: igvm}, rom_max_size=ROOM)
    assert v7_device(b).region_size() == ROOM
    assert_igvm_armed(b, BLOB, igvm)
    b.vm.console.send_line("reset cf9")
    b.vm.console.wait_line(r"resetting cf9", 10.0)
    assert "Boot0" in wait_ovmf_boot_manager(b.vm)
    # OVMF at the top of the room, zero below it (nothing of the agent stays).
    assert_region_holds(b.vm, b.device.abi, ovmf.read_bytes(), ROOM)


# The one core flow the "igvm" boot kind runs on KVM too (conftest: igvm_kvm).
@pytest.mark.igvm_kvm
@pytest.mark.parametrize(
    "method",
    [
        pytest.param(m, marks=[pytest.mark.core] if m == "cf9" else [])
        for m in (*GUEST_RESET_METHODS, HOST_RESET_METHOD)
    ],
)
def test_agent_igvm_trial_runs_once(igvm_host: Booter, igvm_files: IgvmFiles, method: str) -> None:
    stage2 = igvm_host.image(TRIAL_IMAGE, STAGE2)
    igvm = igvm_files.agent(TRIAL_IMAGE, STAGE2)
    b = igvm_host(blobs={STAGE2_BLOB: igvm})
    dev = v7_device(b)
    assert_igvm_armed(b, STAGE2_BLOB, igvm, trial=True)
    # The agent runs from the file's pages: the CRC of its ROM is the raw image's.
    assert_runs(reset(b.vm, method).banner, stage2, STAGE2)
    on_trial = dev.read()
    assert (on_trial.status, on_trial.control, on_trial.fw_image_addr) == (
        Status.OK,
        CTL_HOST_FW,
        0,
    )
    assert_runs(reset(b.vm, method).banner, b.image, STAGE1)
    assert dev.read().control == 0
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE1


@pytest.mark.core
def test_agent_igvm_trial_commits(igvm_host: Booter, igvm_files: IgvmFiles) -> None:
    stage2 = igvm_host.image(TRIAL_IMAGE, STAGE2)
    igvm = igvm_files.agent(TRIAL_IMAGE, STAGE2)
    b = igvm_host(blobs={STAGE2_BLOB: igvm})
    dev = v7_device(b)
    assert_igvm_armed(b, STAGE2_BLOB, igvm, trial=True)
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, stage2, STAGE2)
    assert dev.read().control == CTL_HOST_FW
    committed = dev.commit()
    assert (committed.status, committed.control) == (Status.OK, 0)
    assert_runs(reset(b.vm, "cf9").banner, stage2, STAGE2)
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, stage2, STAGE2)
    assert dev.read().control == 0


def seabios_armed(
    igvm_tcg_host: Booter, igvm_files: IgvmFiles, vms: VMFactory
) -> tuple[Booted, Path, Fields]:
    """The host with Debian's SeaBIOS, wrapped, armed (checked), its debug console in a
    file; returns the booted host, the log's path and the read-back."""
    igvm = igvm_files.wrap(firmware(SEABIOS, "seabios"))
    debug_log = vms.log_root / "debugcon.log"
    b = igvm_tcg_host(blobs={BLOB: igvm}, extra_args=debugcon_args(debug_log))
    return b, debug_log, assert_igvm_armed(b, BLOB, igvm)


@pytest.mark.core
def test_armed_igvm_applies_on_destination(
    igvm_tcg_host: Booter, igvm_files: IgvmFiles, vms: VMFactory, migrator: Migrator
) -> None:
    b, debug_log, armed = seabios_armed(igvm_tcg_host, igvm_files, vms)
    dst = migrator(b)
    assert (status(b.vm), status(dst.vm)) == ("postmigrate", "running")
    moved = v7_device(dst).read()
    assert (moved.status, moved.control, moved.fw_image_addr, moved.fw_image_size) == (
        Status.OK,
        FORMAT_IGVM,
        LOAD_ADDR,
        armed.fw_image_size,
    ), "the armed IGVM image did not migrate"
    # The destination shares the command line, so the debug console's file too: the source
    # (postmigrate) writes nothing more; SeaBIOS's lines are the destination's.
    mark = dst.vm.qmp.mark()
    dst.vm.qmp.cmd("system_reset")
    dst.vm.qmp.wait_event("RESET", mark)
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, 1, SEABIOS_DEADLINE, dst.vm)
    assert SEABIOS_BANNER in log
    assert_region_holds(dst.vm, dst.device.abi, SEABIOS.read_bytes(), REGION)


def test_migration_to_smaller_igvm_max_size_is_refused(
    igvm_tcg_host: Booter, igvm_files: IgvmFiles, vms: VMFactory, migrator: Migrator
) -> None:
    b, _, armed = seabios_armed(igvm_tcg_host, igvm_files, vms)
    assert armed.fw_image_size > SMALL_IGVM_MAX
    smaller = device_arg(DEVICE, {IGVM_MAX_SIZE_PROPERTY: size_text(SMALL_IGVM_MAX)})
    refusal = migrator.refused(b, (smaller,))
    assert refusal.status == "failed", refusal
    assert refusal.dst_exit != 0, refusal
    # What a user reads: the destination says which property is why.
    assert IGVM_MAX_SIZE_PROPERTY in refusal.dst_stderr, refusal.dst_stderr
    # The source goes on as before, the image still armed.
    assert refusal.source_state == "running", refusal
    assert v7_device(b).read() == armed
