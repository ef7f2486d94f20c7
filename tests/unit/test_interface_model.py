"""Unit tests of the host-side vmfwupdate interface model (harness.interface.v6_rules)."""

from __future__ import annotations

import zlib

import pytest

from harness.guest.protocol import LOAD_ADDR
from harness.interface import v6
from harness.interface.encoding import U64_MAX, crc32, from_u64_le, u64_le
from harness.interface.firmware_region import low_alias, region_after_update
from harness.interface.memory_map import RamMap, parse_flatview_ram
from harness.interface.v6 import BIOS_ADDR, CAP, GRANULE
from harness.interface.v6_rules import DeviceModel

# The CRC-32 check value of the standard test input.
CHECK_INPUT = b"123456789"
CHECK_CRC32 = 0xCBF43926
LOW_RAM_END = 0x300000

RAM = RamMap.of([(0, 0xA0000), (0x100000, 0x10000000)])
REGION = 0x100000


def model(**kw: object) -> DeviceModel:
    return DeviceModel(region_size=REGION, ram=RAM, **kw)  # type: ignore[arg-type]


def test_u64_le_round_trip() -> None:
    assert u64_le(0x0102030405060708) == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert from_u64_le(u64_le(U64_MAX)) == U64_MAX
    assert u64_le(-1) == b"\xff" * 8
    with pytest.raises(ValueError):
        from_u64_le(b"\x00" * 7)


def test_crc32_is_zlib() -> None:
    assert crc32(CHECK_INPUT) == CHECK_CRC32
    assert crc32(b"abc") == zlib.crc32(b"abc")


def test_region_after_update_zero_fills_below_image() -> None:
    img = b"\x11" * GRANULE
    region = region_after_update(4 * GRANULE, img)
    assert len(region) == 4 * GRANULE
    assert region[: 3 * GRANULE] == bytes(3 * GRANULE)
    assert region.endswith(img)
    with pytest.raises(ValueError):
        region_after_update(GRANULE, img * 2)


def test_low_alias_is_last_128k_or_whole_region() -> None:
    region = bytes(range(256)) * 1024  # 256 KiB
    assert low_alias(v6.ABI, region) == region[-0x20000:]
    assert low_alias(v6.ABI, region[:0x10000]) == region[:0x10000]


def test_ram_map_merges_and_checks_containment() -> None:
    ram = RamMap.of([(0x100000, 0x200000), (0, 0xA0000), (0x200000, 0x300000)])
    assert ram.ranges == ((0, 0xA0000), (0x100000, 0x300000))
    assert ram.contains(0x100000, 0x200000)
    assert not ram.contains(0x100000, 0x200001)
    assert not ram.contains(0x90000, 0x20000)  # crosses the hole
    assert not ram.contains(0x1000, 0)
    assert not ram.contains(U64_MAX - 0xFFF, 0x10000)  # wraps
    assert ram.end_of_low_ram() == LOW_RAM_END


MTREE = """\
FlatView #0
 AS "I/O", root: io
 Root memory region: io
  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan

FlatView #1
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 Root memory region: system
  0000000000000000-000000000009ffff (prio 0, ram): pc.ram KVM
  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem
  00000000000c0000-00000000000dffff (prio 1, rom): pc.rom
  00000000000e0000-00000000000fffff (prio 1, rom): isa-bios
  0000000000100000-000000000fffffff (prio 0, ram): pc.ram @0000000000100000 KVM
  00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi
  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios
"""


def test_parse_flatview_ram_takes_only_ram_of_named_as() -> None:
    ram = parse_flatview_ram(MTREE)
    assert ram.ranges == ((0, 0xA0000), (0x100000, 0x10000000))
    with pytest.raises(ValueError):
        parse_flatview_ram(MTREE, "I/O")


def test_memory_of_an_igvm_launch_is_not_guest_ram() -> None:
    # a guest started from an IGVM file: its pages at the top of 4 GiB are in RAM that
    # the launch made (igvm.<n>), those below 1 MiB in the machine's RAM
    launched = MTREE.replace(
        "(prio 1, rom): isa-bios", "(prio 0, ram): pc.ram @00000000000e0000"
    ).replace("(prio 0, rom): pc.bios", "(prio 0, ram): igvm.20")
    assert parse_flatview_ram(launched).ranges == ((0, 0xA0000), (0xE0000, 0x10000000))


def test_initial_state() -> None:
    d = model()
    assert (d.cap, d.bios_size, d.bios_addr, d.disable) == (1, REGION, 0, 0)
    assert model(resize=False).cap == 0


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (0, False),
        (0x8000, False),
        (GRANULE + 1, False),
        (GRANULE, True),
        (REGION, True),
        (REGION + GRANULE, False),
        (U64_MAX, False),
    ],
)
def test_bios_size_rules(value: int, ok: bool) -> None:
    d = model()
    assert d.write_bios_size(value) is ok
    assert d.bios_size == (value if ok else REGION)


def test_bios_size_rejected_without_resize_cap() -> None:
    d = model(resize=False)
    assert not d.write_bios_size(GRANULE)
    assert d.bios_size == REGION


@pytest.mark.parametrize(
    ("addr", "ok"),
    [
        (0, True),
        (0x1000000, True),
        (0x10000000 - REGION, True),
        (0x10000000 - REGION + 0x1000, False),  # runs past the end of RAM
        (0x90000, False),  # into the VGA hole
        (0xFFF00000, False),  # the BIOS ROM
        (0x100000000, False),  # nothing there
        (U64_MAX - 0xFFF, False),  # wraps
    ],
)
def test_bios_addr_rules(addr: int, ok: bool) -> None:
    d = model()
    assert d.write_bios_addr(addr) is ok
    assert d.bios_addr == (addr if ok else 0)


def test_bios_size_that_breaks_pending_addr_is_rejected() -> None:
    d = model()
    assert d.write_bios_size(GRANULE)
    assert d.write_bios_addr(0x10000000 - GRANULE)
    assert not d.write_bios_size(2 * GRANULE)
    assert d.bios_size == GRANULE
    assert d.write_bios_addr(0)  # cancel, then the size is free again
    assert d.write_bios_size(2 * GRANULE)


def test_disable_latches_and_blocks_writes() -> None:
    d = model()
    assert d.write_bios_addr(0x1000000)
    assert d.write_disable(0)  # any value while 0 sets it to 1
    assert d.disable == 1
    assert not d.write_disable(0)
    assert not d.write_bios_addr(0)
    assert not d.write_bios_size(GRANULE)
    assert d.bios_addr == LOAD_ADDR
    assert d.reset() is None
    assert (d.disable, d.bios_addr, d.bios_size) == (0, 0, REGION)


def test_reset_applies_and_remembers_size() -> None:
    d = model()
    d.write_opaque(b"nonce")
    assert d.write_bios_size(2 * GRANULE)
    assert d.write_bios_addr(0x1000000)
    assert d.reset() == 2 * GRANULE
    assert (d.bios_addr, d.bios_size) == (0, 2 * GRANULE)
    assert d.opaque.startswith(b"nonce")
    # A size written but not used does not outlive the reset.
    assert d.write_bios_size(REGION)
    assert d.reset() is None
    assert d.bios_size == 2 * GRANULE


def test_write_dispatch_and_cap_read_only() -> None:
    d = model()
    assert not d.write(CAP, 0)
    assert d.value(CAP) == 1
    assert d.write(BIOS_ADDR, 0x1000000)
    assert d.value(BIOS_ADDR) == LOAD_ADDR
