"""What the test put into a hostile guest before its run, and what the guest changed since.

The test places firmware images (`Image`: ROM images, booted by a reset that applies
them) and IGVM files (`PlacedIgvm`) in guest RAM; `Guest` is everything a model starts
from. The guest may change bytes of its RAM later (`ChangedBytes`): a placed file whose
bytes changed is no longer the file the test placed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.interface.memory_map import RamMap


@dataclass(frozen=True)
class Image:
    """A firmware image the test placed in guest RAM at `addr`."""

    identity: str
    addr: int
    size: int


@dataclass(frozen=True)
class PlacedIgvm:
    """An IGVM file the test placed in guest RAM at `addr`."""

    # the firmware that runs once the file is applied
    identity: str
    addr: int
    size: int
    # the native platform's page ranges, [start, end)
    pages: tuple[tuple[int, int], ...]
    # offsets in the file of bytes whose change libigvm refuses (fixed header, checksum)
    checked: tuple[int, ...]


@dataclass(frozen=True)
class Guest:
    """A booted guest as its model starts: its RAM, the firmware region's size, what was
    placed in RAM, the firmware running. `from_igvm`: started from an IGVM file (no ROM
    region); `firmware_memory`: where, besides RAM, an IGVM file's pages may lie."""

    ram: RamMap
    region_size: int
    images: tuple[Image, ...]
    running: str
    igvm_files: tuple[PlacedIgvm, ...] = ()
    firmware_memory: tuple[tuple[int, int], ...] = ()
    from_igvm: bool = False


@dataclass
class ChangedBytes:
    """Bytes of guest RAM the guest changed since the test placed its files: the bits
    flipped at each address (a second flip of the same bits restores the byte)."""

    masks: dict[int, int] = field(default_factory=dict)

    def flip(self, addr: int, mask: int) -> None:
        left = self.masks.pop(addr, 0) ^ mask
        if left:
            self.masks[addr] = left

    def within(self, addr: int, size: int) -> list[int]:
        """The changed addresses in [addr, addr + size)."""
        return sorted(a for a in self.masks if addr <= a < addr + size)
