"""The v7 structure as Python: `Fields`, and its 64-byte little-endian encoding."""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass, replace

from harness.interface.v7 import FIELDS, FILE_SIZE, LAYOUT, VERSION

if struct.calcsize(LAYOUT) != FILE_SIZE:
    raise AssertionError(f"v7 layout {LAYOUT} is not {FILE_SIZE} bytes")


@dataclass(frozen=True)
class Fields:
    """The ten fields of etc/vmfwupdate, in host integers, in the order of `v7.FIELDS`."""

    version: int = VERSION
    status: int = 0
    padding: int = 0
    capabilities: int = 0
    control: int = 0
    fw_image_addr: int = 0
    fw_image_size: int = 0
    opaque_addr: int = 0
    opaque_size: int = 0
    fw_rom_size: int = 0

    def pack(self) -> bytes:
        return struct.pack(LAYOUT, *astuple(self))

    @classmethod
    def unpack(cls, data: bytes) -> Fields:
        if len(data) != FILE_SIZE:
            raise ValueError(f"etc/vmfwupdate is {FILE_SIZE} bytes, got {len(data)}")
        return cls(*struct.unpack(LAYOUT, data))

    def with_guest_fields(
        self,
        control: int,
        image_addr: int = 0,
        image_size: int = 0,
        opaque_addr: int = 0,
        opaque_size: int = 0,
    ) -> Fields:
        """What a guest tool writes: this structure as read, with its own fields set."""
        return replace(
            self,
            control=control,
            fw_image_addr=image_addr,
            fw_image_size=image_size,
            opaque_addr=opaque_addr,
            opaque_size=opaque_size,
        )


FIELD_OFFSETS = {name: offset for name, _, offset in FIELDS}
