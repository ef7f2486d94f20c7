"""Host-side model of the vmfwupdate interface (docs: vmfwupdate-interface.md).

Pure logic, no QEMU: the encodings (u64 little-endian, CRC32) and a small
state machine of the device's accept/reject rules, used by the functional
tests to predict what the guest must read back after each write, and
unit-tested on its own.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

FILE_PREFIX = "etc/vmfwupdate/"
CAP = FILE_PREFIX + "cap"
BIOS_SIZE = FILE_PREFIX + "bios-size"
BIOS_ADDR = FILE_PREFIX + "bios-addr"
DISABLE = FILE_PREFIX + "disable"
OPAQUE = FILE_PREFIX + "opaque"
FILE_SIZES = {CAP: 8, BIOS_SIZE: 8, BIOS_ADDR: 8, DISABLE: 1, OPAQUE: 4096}

CAP_BIOS_RESIZE = 1 << 0
GRANULE = 64 * 1024
OPAQUE_SIZE = 4096
LOW_ALIAS_MAX = 128 * 1024
FOUR_GIB = 1 << 32
U64_MAX = (1 << 64) - 1


def u64_le(value: int) -> bytes:
    return struct.pack("<Q", value & U64_MAX)


def from_u64_le(data: bytes) -> int:
    if len(data) < 8:
        raise ValueError(f"need 8 bytes for a u64, got {len(data)}")
    return int(struct.unpack_from("<Q", data)[0])


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def region_after_update(region_size: int, image: bytes) -> bytes:
    """The BIOS region's bytes after an update with `image`: zero fill below it."""
    if len(image) > region_size:
        raise ValueError("image larger than the BIOS region")
    return bytes(region_size - len(image)) + image


def low_alias(region: bytes) -> bytes:
    """What the guest sees at 1 MiB - n: the last n = min(128 KiB, region) bytes."""
    return region[-min(LOW_ALIAS_MAX, len(region)) :]


@dataclass(frozen=True)
class RamMap:
    """Guest-physical ranges [start, end) that are RAM (merged, sorted)."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, ranges: list[tuple[int, int]]) -> RamMap:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(r for r in ranges if r[1] > r[0]):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return cls(tuple(merged))

    def contains(self, addr: int, size: int) -> bool:
        """True if [addr, addr+size) does not wrap 64 bits and lies inside one RAM range."""
        if size <= 0 or addr < 0:
            return False
        end = addr + size
        if end - 1 > U64_MAX:
            return False
        return any(start <= addr and end <= stop for start, stop in self.ranges)

    def end_of_low_ram(self) -> int:
        """End of the RAM range that contains 1 MiB (the usable area for tests)."""
        for start, stop in self.ranges:
            if start <= 0x100000 < stop:
                return stop
        raise ValueError("no RAM at 1 MiB")


_FLAT_LINE = re.compile(
    r"\s*(?P<start>[0-9a-fA-F]+)-(?P<end>[0-9a-fA-F]+) "
    r"\(prio [-\d]+, (?P<kind>[^)]*)\): (?P<name>.*)"
)


def parse_flatview_ram(mtree_f: str, address_space: str = "memory") -> RamMap:
    """Parse `info mtree -f` output; return the RAM ranges of one address space.

    Only sections whose type is exactly "ram" count: "rom", "romd", "i/o"
    and "ram device" are not guest RAM in the interface's sense.
    """
    ranges: list[tuple[int, int]] = []
    in_view = False
    header_as: list[str] = []
    for line in mtree_f.splitlines():
        if line.startswith("FlatView #"):
            in_view = False
            header_as = []
            continue
        m_as = re.match(r'\s*AS "([^"]+)"', line)
        if m_as:
            header_as.append(m_as.group(1))
            in_view = address_space in header_as
            continue
        if not in_view:
            continue
        m = _FLAT_LINE.match(line)
        if m and m["kind"] == "ram":
            ranges.append((int(m["start"], 16), int(m["end"], 16) + 1))
    if not ranges:
        raise ValueError(f"no RAM ranges found for address space {address_space!r}")
    return RamMap.of(ranges)


@dataclass
class DeviceModel:
    """The accepted state of a vmfwupdate device and its write/reset rules."""

    region_size: int
    ram: RamMap
    resize: bool = True
    bios_size: int = 0
    bios_addr: int = 0
    disable: int = 0
    opaque: bytes = field(default=bytes(OPAQUE_SIZE))
    applied_size: int = 0

    def __post_init__(self) -> None:
        if self.bios_size == 0:
            self.bios_size = self.region_size
        if self.applied_size == 0:
            self.applied_size = self.region_size

    @property
    def cap(self) -> int:
        return CAP_BIOS_RESIZE if self.resize else 0

    def size_ok(self, value: int) -> bool:
        return 0 < value <= self.region_size and value % GRANULE == 0

    def write_cap(self, value: int) -> bool:
        return False

    def write_bios_size(self, value: int) -> bool:
        if self.disable or not self.resize or not self.size_ok(value):
            return False
        if self.bios_addr and not self.ram.contains(self.bios_addr, value):
            return False
        self.bios_size = value
        return True

    def write_bios_addr(self, value: int) -> bool:
        if self.disable:
            return False
        if value != 0 and not self.ram.contains(value, self.bios_size):
            return False
        self.bios_addr = value
        return True

    def write_disable(self, value: int) -> bool:
        if self.disable:
            return False
        self.disable = 1
        return True

    def write_opaque(self, data: bytes) -> bool:
        self.opaque = data + self.opaque[len(data) :]
        return True

    def write(self, name: str, value: int) -> bool:
        """Dispatch a numeric write by fw_cfg file name; return whether it is accepted."""
        handlers = {
            CAP: self.write_cap,
            BIOS_SIZE: self.write_bios_size,
            BIOS_ADDR: self.write_bios_addr,
            DISABLE: self.write_disable,
        }
        return handlers[name](value)

    def value(self, name: str) -> int:
        values = {
            CAP: self.cap,
            BIOS_SIZE: self.bios_size,
            BIOS_ADDR: self.bios_addr,
            DISABLE: self.disable,
        }
        return values[name]

    def update_pending(self) -> bool:
        return not self.disable and self.bios_addr != 0

    def reset(self) -> int | None:
        """Apply a cold reset; return the size of the image copied, or None."""
        applied: int | None = None
        if self.update_pending() and self.ram.contains(self.bios_addr, self.bios_size):
            applied = self.bios_size
            self.applied_size = applied
        self.bios_addr = 0
        self.disable = 0
        self.bios_size = self.applied_size
        return applied
