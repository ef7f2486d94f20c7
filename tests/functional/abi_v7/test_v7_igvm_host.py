"""v7 flows on both ways of starting the host (the `boot_kind` parameter: the agent as
-bios, or QEMU started from the agent wrapped as IGVM), and what only a guest started from
an IGVM file has (v7 interface, section "IGVM images"):

- the structure as started: a -bios host reads its ROM's size in `fw_rom_size` and is
  offered both formats (and `CAP_ROM_RESIZE`); a host started from an IGVM file reads
  `fw_rom_size` 0 and is offered FORMAT_IGVM only. Whether a ROM image may be armed is
  read from `capabilities`: where FORMAT_PLATFORM_ROM is not offered it is `BAD_CONTROL`
  (also on trial). The IGVM write-time refusals as before (BAD_SIZE, BAD_RANGE, LOAD_FAIL);
  each refusal changes nothing but `status`;
- `rom-max-size` other than 0 on a guest started from an IGVM file: QEMU refuses it at
  realize, exits non-zero and says why;
- the lock: a locked host refuses every write, the armed IGVM trial still runs, and the
  restore after it unlocks;
- the host IGVM's restore (one-boot trial, then `CTL_HOST_FW` alone) after the host's
  IGVM file was deleted or overwritten (with another valid IGVM file) on disk after QEMU
  started: the host agent comes back, from what the process loaded at start;
- migration: an armed IGVM trial is applied on the destination (started from the same
  host IGVM file), and the restore due after it survives a second migration;
- snapshot: `loadvm` does not apply an armed IGVM image; the next real reset does.

All on TCG (the KVM run keeps to one core flow of the "igvm" kind, test_v7_igvm.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_runs, reset, status
from igvm_files import IGVM, IgvmBooter, IgvmFiles, assert_igvm_armed, v7_device
from migration import Migrator
from snapshots import drive_args, hmp_ok, make_disk
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Booted, Booter, Payloads, VMFactory

from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR
from harness.interface.encoding import crc32
from harness.interface.v7 import (
    CAP_ROM_RESIZE,
    CTL_DISABLE,
    CTL_HOST_FW,
    FORMAT_IGVM,
    FORMAT_PLATFORM_ROM,
    ROM_MAX_SIZE_PROPERTY,
    VERSION,
    Status,
)
from harness.interface.v7_struct import Fields
from harness.machine.cmdline import DEVICE, device_arg
from harness.platform import FIRMWARE_TOP, KIB

ROM = FORMAT_PLATFORM_ROM
TRIAL_IMAGE = 128 * KIB
HALF = 128 * KIB
# Well above the guest's RAM and below the 64-bit PCI window: nothing is there.
NOT_MEMORY = 1 << 44
# What a guest started from an IGVM file reads (the interface text), and QEMU's message
# when such a guest is given room for a ROM.
IGVM_HOST_FIELDS = Fields(version=VERSION, capabilities=FORMAT_IGVM, fw_rom_size=0)
BIOS_HOST_FIELDS = Fields(
    version=VERSION,
    capabilities=ROM | FORMAT_IGVM | CAP_ROM_RESIZE,
    fw_rom_size=DEFAULT_IMAGE_SIZE,
)
ROOM_REFUSED = f"'{ROM_MAX_SIZE_PROPERTY}' must be 0 on a guest started from an IGVM file"


def boot_trial(host: Booter, files: IgvmFiles, extra_control: int = 0) -> tuple[Booted, Path]:
    """The host with the agent `STAGE2` wrapped as IGVM, loaded and armed for one boot
    (with `extra_control`); returns the booted host and stage 2's raw image."""
    stage2 = host.image(TRIAL_IMAGE, STAGE2)
    igvm = files.agent(TRIAL_IMAGE, STAGE2)
    b = host(blobs={STAGE2_BLOB: igvm})
    armed = assert_igvm_armed(b, STAGE2_BLOB, igvm, trial=True)
    if extra_control:
        dev = v7_device(b)
        locked = dev.set(armed.control | extra_control, armed.fw_image_addr, armed.fw_image_size)
        assert (locked.status, locked.control) == (Status.OK, armed.control | extra_control)
    return b, stage2


@pytest.mark.core
def test_fields_and_formats_as_started(igvm_tcg_host: Booter, boot_kind: str) -> None:
    b = igvm_tcg_host()
    dev = v7_device(b)
    start = dev.read()
    want = IGVM_HOST_FIELDS if boot_kind == IGVM else BIOS_HOST_FIELDS
    assert start == want, f"{boot_kind} host: {start}"
    # A ROM image: what capabilities offer decides, not the boot kind.
    for control in (ROM, ROM | CTL_HOST_FW):
        got = dev.set(control, LOAD_ADDR, HALF)
        if start.capabilities & ROM:
            assert got.status == Status.OK, got
            assert dev.set(0).status == Status.OK
        else:
            assert got == Fields(**{**start.__dict__, "status": Status.BAD_CONTROL}), hex(control)
    # IGVM: BAD_SIZE for 0, BAD_RANGE outside RAM, LOAD_FAIL for bytes that are no IGVM file.
    for addr, size, code in (
        (LOAD_ADDR, 0, Status.BAD_SIZE),
        (NOT_MEMORY, HALF, Status.BAD_RANGE),
        (LOAD_ADDR, HALF, Status.LOAD_FAIL),
    ):
        got = dev.set(FORMAT_IGVM, addr, size)
        assert got == Fields(**{**start.__dict__, "status": code}), (hex(addr), size, got)
    # and the host agent still boots
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)
    assert dev.read().control == 0


@pytest.mark.core
def test_rom_max_size_refused_on_igvm_guest(
    vms: VMFactory, igvm_files: IgvmFiles, machine: str
) -> None:
    host = igvm_files.agent(DEFAULT_IMAGE_SIZE, STAGE1)
    cfg = vms.config(
        machine,
        "tcg",
        igvm=host,
        devices=(device_arg(DEVICE, {ROM_MAX_SIZE_PROPERTY: "4M"}),),
    )
    code, stderr = vms.run_to_exit(cfg)
    assert code > 0, f"exit {code} (a signal when < 0): {stderr}"
    assert ROOM_REFUSED in stderr, stderr


def test_lock_and_locked_igvm_trial(igvm_tcg_host: Booter, igvm_files: IgvmFiles) -> None:
    b, stage2 = boot_trial(igvm_tcg_host, igvm_files, CTL_DISABLE)
    dev = v7_device(b)
    locked = dev.read()
    # While locked every write is DISABLED and changes nothing else.
    for control in (0, CTL_HOST_FW, FORMAT_IGVM):
        assert dev.set(control).status == Status.DISABLED
    assert dev.read() == Fields(**{**locked.__dict__, "status": Status.DISABLED})
    # The armed trial runs; the lock holds during it; the restore after it unlocks.
    assert_runs(reset(b.vm, "cf9").banner, stage2, STAGE2)
    assert dev.read().control == CTL_HOST_FW | CTL_DISABLE
    assert dev.commit().status == Status.DISABLED
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)
    assert dev.read().control == 0
    assert dev.restore_host_fw().status == Status.OK


@pytest.mark.core
@pytest.mark.parametrize("change", ["deleted", "overwritten"])
def test_host_igvm_restored_after_the_file_changed(
    vms: VMFactory,
    payloads: Payloads,
    igvm_files: IgvmFiles,
    machine: str,
    abi: str,
    change: str,
) -> None:
    host = IgvmBooter(vms, payloads, machine, "tcg", abi, igvm_files)
    host.copy_to = vms.log_root / "host.igvm"
    b, stage2 = boot_trial(host, igvm_files)
    assert b.igvm == host.copy_to
    # After QEMU started: gone, or another valid IGVM file (stage 2) in its place.
    if change == "deleted":
        b.igvm.unlink()
    else:
        b.igvm.write_bytes(igvm_files.agent(TRIAL_IMAGE, STAGE2).read_bytes())
    dev = v7_device(b)
    assert_runs(reset(b.vm, "cf9").banner, stage2, STAGE2)
    assert_runs(reset(b.vm, "cf9").banner, b.image, STAGE1)
    # CTL_HOST_FW alone, after a committed update: the host IGVM again.
    assert_igvm_armed(b, STAGE2_BLOB, igvm_files.agent(TRIAL_IMAGE, STAGE2))
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, stage2, STAGE2)
    assert dev.restore_host_fw().control == CTL_HOST_FW
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)
    assert dev.read().control == 0


@pytest.mark.core
def test_igvm_trial_and_its_restore_migrate(
    igvm_tcg_host: Booter, igvm_files: IgvmFiles, migrator: Migrator
) -> None:
    b, stage2 = boot_trial(igvm_tcg_host, igvm_files)
    armed = v7_device(b).read()
    dst = migrator(b)
    assert (status(b.vm), status(dst.vm)) == ("postmigrate", "running")
    assert v7_device(dst).read() == armed, "the armed IGVM trial did not migrate"
    assert_runs(reset(dst.vm, "cf9").banner, stage2, STAGE2)
    assert v7_device(dst).read().control == CTL_HOST_FW
    # The restore due now migrates too; the second destination brings the host agent back.
    again = migrator(dst)
    assert v7_device(again).read().control == CTL_HOST_FW
    assert_runs(reset(again.vm, HOST_RESET_METHOD).banner, b.image, STAGE1)
    assert v7_device(again).read().control == 0


def test_loadvm_does_not_apply_armed_igvm(
    igvm_tcg_host: Booter, igvm_files: IgvmFiles, qemu_bin: Path
) -> None:
    stage2 = igvm_tcg_host.image(TRIAL_IMAGE, STAGE2)
    igvm = igvm_files.agent(TRIAL_IMAGE, STAGE2)
    disk = make_disk(qemu_bin, igvm_tcg_host.vms.log_root)
    b = igvm_tcg_host(blobs={STAGE2_BLOB: igvm}, extra_args=drive_args(disk))
    armed = assert_igvm_armed(b, STAGE2_BLOB, igvm)
    stage1 = b.image.read_bytes()
    hmp_ok(b, "savevm armed")
    mark = b.vm.qmp.mark()
    hmp_ok(b, "loadvm armed")
    # loadvm reset the machine internally; the agent runs on, the image still armed.
    assert v7_device(b).read() == armed, "loadvm lost or consumed the armed IGVM image"
    host_fw = b.agent.crc(FIRMWARE_TOP - len(stage1), len(stage1))
    assert host_fw == crc32(stage1), "loadvm changed the host's firmware"
    guest_resets = [
        e for e in b.vm.qmp.events[mark:] if e["event"] == "RESET" and e["data"]["guest"]
    ]
    assert not guest_resets, f"guest reset during loadvm: {guest_resets}"
    # The next real reset applies it.
    assert_runs(reset(b.vm, "cf9").banner, stage2, STAGE2)
