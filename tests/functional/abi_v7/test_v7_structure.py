"""The v7 structure as the guest reads it: one 64-byte file, its fields before any write,
capabilities as configured, and each status code a write can leave, with the other fields
unchanged after a rejection (BAD_RANGE also for device memory: virtio-mem, a PCI BAR)."""

from __future__ import annotations

import pytest
from checks import assert_alive, reset
from device_memory import (
    VGA_MEMORY,
    VGA_MEMORY_ADDR,
    boot_with_vga,
    boot_with_virtio_mem,
    map_vga_memory,
    vga_memory_mapping,
    virtio_mem_addr,
)
from vms import STAGE1, Booter

from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR
from harness.interface.v7 import (
    CAP_ROM_RESIZE,
    CTL_DISABLE,
    CTL_HOST_FW,
    FILE,
    FILE_SIZE,
    FORMAT_IGVM,
    FORMAT_PLATFORM_ROM,
    RESIZE_PROPERTY,
    VERSION,
    Status,
)
from harness.interface.v7_device import V7Device
from harness.interface.v7_struct import Fields
from harness.machine.cmdline import DEVICE
from harness.platform import FIRMWARE_TOP, KIB

ROM = FORMAT_PLATFORM_ROM
REGION = 256 * KIB
HALF = 128 * KIB
# Well above the guest's RAM and below the 64-bit PCI window: nothing is there.
NOT_MEMORY = 1 << 44
LOADER_ADDR = 32 * 1024 * KIB  # 32 MiB: a -device loader blob is put back here at reset


def v7_device(b: object) -> V7Device:
    device = b.device  # type: ignore[attr-defined]
    assert isinstance(device, V7Device)
    return device


@pytest.mark.core
@pytest.mark.parametrize("resize", ["on", "off"])
def test_file_and_fields_before_any_write(boot: Booter, resize: str) -> None:
    b = boot(size=REGION, devices=(f"{DEVICE},{RESIZE_PROPERTY}={resize}",))
    files = {f.name: f.size for f in b.agent.files()}
    assert files.get(FILE) == FILE_SIZE
    assert not [n for n in files if n.startswith(FILE + "/")], "v6 files on a v7 device"
    f = v7_device(b).read()
    # every build profile has IGVM support, so FORMAT_IGVM is offered
    want_cap = ROM | FORMAT_IGVM | (CAP_ROM_RESIZE if resize == "on" else 0)
    assert f == Fields(version=VERSION, capabilities=want_cap, fw_rom_size=REGION)


@pytest.mark.core
def test_status_codes_as_the_guest_sees_them(boot: Booter) -> None:
    b = boot(size=REGION)
    dev = v7_device(b)
    start = dev.read()
    # BAD_WRITE: 8 bytes from offset 0, not the whole structure.
    b.agent.write(FILE, start.pack()[:8])
    assert dev.read() == Fields(**{**start.__dict__, "status": Status.BAD_WRITE})
    # BAD_CONTROL: an unknown bit; two formats; an address, no format.
    for control, addr, size in (
        (1 << 5, 0, 0),
        (ROM | FORMAT_IGVM, LOAD_ADDR, REGION),
        (0, LOAD_ADDR, 0),
    ):
        assert dev.set(control, addr, size).status == Status.BAD_CONTROL, hex(control)
    # BAD_SIZE: zero, not 64 KiB-aligned, larger than fw_rom_size.
    for size in (0, 4 * KIB, REGION + 64 * KIB):
        assert dev.set(ROM, LOAD_ADDR, size).status == Status.BAD_SIZE, hex(size)
    # IGVM: BAD_SIZE for 0, BAD_RANGE outside RAM, LOAD_FAIL for bytes that are no IGVM file.
    assert dev.set(FORMAT_IGVM, LOAD_ADDR, 0).status == Status.BAD_SIZE
    assert dev.set(FORMAT_IGVM, NOT_MEMORY, HALF).status == Status.BAD_RANGE
    assert dev.set(FORMAT_IGVM, LOAD_ADDR, HALF).status == Status.LOAD_FAIL
    # BAD_RANGE: address 0, the firmware region itself, nothing; a wrapping opaque range.
    for addr in (0, FIRMWARE_TOP - REGION, NOT_MEMORY):
        assert dev.set(ROM, addr, HALF).status == Status.BAD_RANGE, hex(addr)
    opaque_wraps = dev.read().with_guest_fields(0, 0, 0, (1 << 64) - 0x100, 0x200)
    assert dev.write(opaque_wraps).status == Status.BAD_RANGE
    # None of those changed anything but status.
    assert dev.read() == Fields(**{**start.__dict__, "status": Status.BAD_RANGE})
    # OK: the fields read back as written.
    armed = dev.set(ROM | CTL_HOST_FW, LOAD_ADDR, HALF)
    assert (armed.status, armed.control, armed.fw_image_addr, armed.fw_image_size) == (
        Status.OK,
        ROM | CTL_HOST_FW,
        LOAD_ADDR,
        HALF,
    )
    # DISABLED: once locked, every write.
    assert dev.set(CTL_DISABLE).status == Status.OK
    assert dev.set(0).status == Status.DISABLED
    assert dev.read().control == CTL_DISABLE
    assert_alive(b.vm)


@pytest.mark.core
def test_range_over_loader_blob_is_bad_range(boot: Booter) -> None:
    blob = boot.image(64 * KIB, "blob")
    b = boot(
        size=REGION, devices=(DEVICE, f"loader,file={blob},addr={LOADER_ADDR:#x},force-raw=on")
    )
    dev = v7_device(b)
    assert dev.set(ROM, LOADER_ADDR, HALF).status == Status.BAD_RANGE
    assert dev.set(ROM, LOADER_ADDR - HALF, HALF).status == Status.OK


@pytest.mark.core
def test_range_in_virtio_mem_is_bad_range(boot: Booter) -> None:
    b = boot_with_virtio_mem(boot, size=REGION)
    dev = v7_device(b)
    start = dev.read()
    addr = virtio_mem_addr(b.vm)
    refused = dev.set(ROM, addr, HALF)
    assert refused.status == Status.BAD_RANGE, f"virtio-mem at {addr:#x}: {refused}"
    assert refused == Fields(**{**start.__dict__, "status": Status.BAD_RANGE})
    assert dev.set(ROM, LOAD_ADDR, HALF).status == Status.OK


@pytest.mark.core
def test_range_in_pci_bar_is_bad_range(boot: Booter) -> None:
    b = boot_with_vga(boot, size=REGION)
    dev = v7_device(b)
    start = dev.read()
    map_vga_memory(b)
    assert vga_memory_mapping(b.vm) == (VGA_MEMORY_ADDR, VGA_MEMORY)
    refused = dev.set(ROM, VGA_MEMORY_ADDR, HALF)
    assert refused.status == Status.BAD_RANGE, f"VGA memory at {VGA_MEMORY_ADDR:#x}: {refused}"
    assert refused == Fields(**{**start.__dict__, "status": Status.BAD_RANGE})
    assert dev.set(ROM, LOAD_ADDR, HALF).status == Status.OK


@pytest.mark.core
def test_lock_survives_a_cold_reset(boot: Booter) -> None:
    b = boot(size=REGION)
    dev = v7_device(b)
    assert dev.set(CTL_DISABLE).status == Status.OK
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE1
    after = dev.read()
    assert (after.status, after.control) == (Status.OK, CTL_DISABLE)
    assert dev.set(ROM, LOAD_ADDR, REGION).status == Status.DISABLED
