"""Guest RAM as QEMU reports it: the RAM ranges of `info mtree -f` (an ABI-neutral fact)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.interface.encoding import U64_MAX
from harness.platform import MIB


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
            if start <= MIB < stop:
                return stop
        raise ValueError("no RAM at 1 MiB")


# QEMU names the memory it makes for an IGVM file's pages outside guest RAM "igvm.<hex>"
# (backends/igvm.c): the host firmware's memory, which a reset does not leave to the guest.
IGVM_LAUNCH_MEMORY = "igvm."

_FLAT_LINE = re.compile(
    r"\s*(?P<start>[0-9a-fA-F]+)-(?P<end>[0-9a-fA-F]+) "
    r"\(prio [-\d]+, (?P<kind>[^)]*)\): (?P<name>.*)"
)


def parse_flatview_ram(mtree_f: str, address_space: str = "memory") -> RamMap:
    """Parse `info mtree -f` output; return the RAM ranges of one address space.

    Only sections whose type is exactly "ram" count: "rom", "romd", "i/o"
    and "ram device" are not guest RAM in the interface's sense; nor is the memory a
    launch from an IGVM file made for its pages (RAM named `IGVM_LAUNCH_MEMORY`...).
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
        if m and m["kind"] == "ram" and not m["name"].startswith(IGVM_LAUNCH_MEMORY):
            ranges.append((int(m["start"], 16), int(m["end"], 16) + 1))
    if not ranges:
        raise ValueError(f"no RAM ranges found for address space {address_space!r}")
    return RamMap.of(ranges)
