"""IGVM files a guest placed in its RAM, as the v7 device judges them: pure logic, no QEMU.

The device takes an IGVM image (`FORMAT_IGVM`) whose bytes libigvm accepts and whose
native pages it can honour (v7 interface, "IGVM images", checks 3 and 4; the size and
range rules before them are `V7Model`'s). This model knows the files the test placed in
guest RAM (`PlacedIgvm`): where each lies, its size, the page ranges a native launch of
it writes (as igvm-inspect lists them), and which of its bytes libigvm's own checks
cover (the fixed header's magic and checksum, the variable headers: `checked`).

- Bytes that are not exactly one placed file (another address, a size shorter or longer
  than the file: libigvm wants the fixed header's total size to be the buffer's), or a
  placed file whose checked bytes the guest changed: `LOAD_FAIL`.
- A file libigvm accepts with a page that does not lie entirely in the memory a page may
  go to (guest RAM, and the firmware's memory: the ROM region with its low alias on a
  -bios guest, the memory the host IGVM's launch made on a guest started from one), or
  that overlaps the image's own range or the opaque range: `BAD_LAYOUT`.
- Else `OK`. At a cold reset the device checks the bytes again (`APPLY_FAIL` then).

Not modelled: the host memory the device charges a file before the parse
(`igvm_file.held_size`, `BAD_SIZE` over `igvm-max-size`); the agents the hostile
run places hold about 1 MiB at most, far under the default 128 MiB it runs with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.interface.declaration import AbiDeclaration
from harness.interface.firmware_region import low_alias_base, region_base
from harness.interface.hostile_guest import ChangedBytes, PlacedIgvm
from harness.interface.memory_map import RamMap
from harness.interface.v7 import Status


def overlaps(start: int, end: int, addr: int, size: int) -> bool:
    """Whether [start, end) and [addr, addr + size) share a byte."""
    return size > 0 and start < addr + size and addr < end


def rom_region_memory(
    abi: AbiDeclaration, region_size: int, host_rom: int
) -> tuple[tuple[int, int], ...]:
    """The firmware memory of a -bios guest: its ROM region (room included) ending at the
    region's top, and the low alias of the host's ROM below 1 MiB."""
    return (
        (region_base(abi, region_size), abi.region_top),
        (low_alias_base(abi, host_rom), abi.low_alias_end),
    )


@dataclass
class IgvmGuestFiles:
    """The placed files, where their pages may lie, and what the guest changed in RAM."""

    files: tuple[PlacedIgvm, ...]
    # guest RAM and the firmware's memory
    page_memory: RamMap
    changed: ChangedBytes = field(default_factory=ChangedBytes)

    @classmethod
    def placed(
        cls,
        files: tuple[PlacedIgvm, ...],
        ram: RamMap,
        firmware_memory: Iterable[tuple[int, int]],
        changed: ChangedBytes,
    ) -> IgvmGuestFiles:
        return cls(files, RamMap.of([*ram.ranges, *firmware_memory]), changed)

    def file_at(self, addr: int, size: int) -> PlacedIgvm | None:
        """The placed file at exactly (addr, size), if any."""
        return next((f for f in self.files if (f.addr, f.size) == (addr, size)), None)

    def damaged(self, placed: PlacedIgvm) -> bool:
        """Whether the guest changed one of the file's checked bytes (it changes no other:
        the model cannot say what other bytes a launch would write)."""
        offsets = {a - placed.addr for a in self.changed.within(placed.addr, placed.size)}
        if offsets - set(placed.checked):
            raise ValueError(f"{placed.identity}: bytes changed outside its checked ones")
        return bool(offsets)

    def check(self, addr: int, size: int, opaque_addr: int, opaque_size: int) -> Status:
        """What the device says of the bytes at [addr, addr + size), once the size and range
        rules passed: LOAD_FAIL, BAD_LAYOUT or OK."""
        placed = self.file_at(addr, size)
        if placed is None or self.damaged(placed):
            return Status.LOAD_FAIL
        for start, end in placed.pages:
            if (
                not self.page_memory.contains(start, end - start)
                or overlaps(start, end, addr, size)
                or overlaps(start, end, opaque_addr, opaque_size)
            ):
                return Status.BAD_LAYOUT
        return Status.OK
