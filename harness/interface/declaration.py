"""What every device ABI declares: the types an ABI module (`v6.py`, later `v7.py`) fills in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class DeviceFile:
    """One fw_cfg file of an ABI: its name, its size in bytes, whether the guest writes it."""

    name: str
    size: int
    guest_writable: bool


class RoomRule(Enum):
    """A rule a room size (`RomRoom.property`) breaks; QEMU refuses it at realize."""

    NOT_A_MULTIPLE = "not a multiple of the granule"
    OVER_THE_LIMIT = "over the limit"
    BELOW_HOST_ROM = "smaller than the host's ROM"
    WITHOUT_RESIZE = "larger than the host's ROM with the resize property off"


@dataclass(frozen=True)
class RomRoom:
    """Room for a firmware larger than the host's -bios ROM: a -device property whose value
    (a size; 0 = the host ROM's own size) the firmware region spans below its top, zero
    below the host's image, reported to the guest as the region's size."""

    # The -device property, and what its value must be: a multiple of `granule`, at most
    # `limit`, not smaller than the host's ROM, larger only with the resize property on.
    property: str
    granule: int
    limit: int

    def refusals(self, value: int, host_rom: int, resize: bool = True) -> tuple[RoomRule, ...]:
        """The rules `property=value` breaks on a host ROM of `host_rom` bytes (in the
        interface text's order; QEMU names one of them), () if it is accepted."""
        if value == 0:
            return ()
        broken = {
            RoomRule.NOT_A_MULTIPLE: value % self.granule != 0,
            RoomRule.OVER_THE_LIMIT: value > self.limit,
            RoomRule.BELOW_HOST_ROM: value < host_rom,
            RoomRule.WITHOUT_RESIZE: value > host_rom and not resize,
        }
        return tuple(rule for rule, hit in broken.items() if hit)

    def region_size(self, value: int, host_rom: int, resize: bool = True) -> int:
        """The firmware region's size (what the guest reads as its size) with
        `property=value` on a host ROM of `host_rom` bytes; ValueError if QEMU refuses it."""
        refused = self.refusals(value, host_rom, resize)
        if refused:
            rules = ", ".join(rule.value for rule in refused)
            raise ValueError(f"{self.property}={value:#x} on a {host_rom:#x}-byte ROM: {rules}")
        return value or host_rom


@dataclass(frozen=True)
class AbiDeclaration:
    """The facts of one ABI that do not depend on its layout, plus its fw_cfg files."""

    name: str
    # Path of the device's header in the QEMU tree, and its #defines with their values.
    header: str
    header_defines: Mapping[str, str | int]
    files: tuple[DeviceFile, ...]
    # An image size must be a non-zero multiple of this.
    granule: int
    # The firmware region (and an image) ends at this guest-physical address.
    region_top: int
    # The region's last `low_alias_size` bytes also show below `low_alias_end` (1 MiB).
    low_alias_size: int
    low_alias_end: int
    # The -device property that turns the resize capability off.
    resize_property: str
    # Whether the lock (disable) outlasts a cold reset (v6: every cold reset clears it).
    lock_survives_reset: bool
    # Whether an image armed before the lock still applies at the next cold reset.
    armed_image_applies_when_locked: bool
    # Room for a firmware larger than the host's ROM; None: the ABI has none (no property).
    rom_room: RomRoom | None
    # The trace event (hw/misc/trace-events) that reports an applied image, formatted
    # "addr 0x<hex> size 0x<hex> in <n> us": what the device's copy took.
    applied_trace: str
    # The trace event that reports an IGVM image checked (apply 0, at a write) or applied
    # (apply 1, at a cold reset), formatted "addr 0x<hex> size 0x<hex> apply <0|1>: <status>
    # in <n> us"; None: the ABI takes no IGVM images.
    igvm_trace: str | None = None
    # Whether a guest started from an IGVM file (-machine igvm-cfg=, no -bios) may use the
    # device (v7: fw_rom_size 0, FORMAT_IGVM only, the host IGVM restored by the device).
    igvm_guests: bool = False
