"""What every device ABI declares: the types an ABI module (`v6.py`, later `v7.py`) fills in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceFile:
    """One fw_cfg file of an ABI: its name, its size in bytes, whether the guest writes it."""

    name: str
    size: int
    guest_writable: bool


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
    # The trace event (hw/misc/trace-events) that reports an applied image, formatted
    # "addr 0x<hex> size 0x<hex> in <n> us": what the device's copy took.
    applied_trace: str
