"""The v7 device ABI as data: one fw_cfg file holding a 64-byte structure.

The layout and the control and format bit values are those of upstream
QEMU's vm-launch-update device (docs/specs/vmfwupdate.rst of the v7 series,
../shared/docs/vmfwupdate-v7-interface.md). Every fact of it that the
toolkit uses is declared here once; `HEADER_DEFINES` maps the `#define`s of
the series' header to these values, and tests/unit/test_interface_header.py
fails when the two disagree.
"""

from __future__ import annotations

from enum import IntEnum

from harness.interface.declaration import AbiDeclaration, DeviceFile, RomRoom
from harness.platform import FIRMWARE_TOP, KIB, LOW_MEMORY_END, MIB

NAME = "v7"
HEADER = "include/hw/misc/vmfwupdate.h"
FILE = "etc/vmfwupdate"
FILE_SIZE = 64
VERSION = 1

# (field, struct format character, offset): the structure, little-endian, no implicit padding.
FIELDS: tuple[tuple[str, str, int], ...] = (
    ("version", "H", 0x00),
    ("status", "H", 0x02),
    ("padding", "I", 0x04),
    ("capabilities", "Q", 0x08),
    ("control", "Q", 0x10),
    ("fw_image_addr", "Q", 0x18),
    ("fw_image_size", "Q", 0x20),
    ("opaque_addr", "Q", 0x28),
    ("opaque_size", "Q", 0x30),
    ("fw_rom_size", "Q", 0x38),
)
LAYOUT = "<" + "".join(kind for _, kind, _ in FIELDS)
# The fields a guest's write may change; the others (and the padding) are ignored.
GUEST_FIELDS = ("control", "fw_image_addr", "fw_image_size", "opaque_addr", "opaque_size")

# Image formats: bits 32-63 of capabilities (offered) and control (armed).
FORMAT_IGVM = 1 << 32
FORMAT_PLATFORM_ROM = 1 << 33
FORMAT_MASK = 0xFFFF_FFFF_0000_0000
# Features: bits 0-31 of capabilities.
CAP_ROM_RESIZE = 1 << 0
# Control bits.
CTL_DISABLE = 1 << 0
CTL_HOST_FW = 1 << 1


class Status(IntEnum):
    """`status`: the result of the last guest write or cold reset."""

    OK = 0
    LOAD_FAIL = 1
    NOT_IGVM_INIT = 2
    DISABLED = 3
    BAD_WRITE = 4
    BAD_CONTROL = 5
    BAD_SIZE = 6
    BAD_RANGE = 7
    APPLY_FAIL = 8
    BAD_LAYOUT = 9


# A ROM image's size must be a non-zero multiple of this.
GRANULE = 64 * KIB
# The largest IGVM image by default, and the -device property that sets it.
IGVM_MAX_SIZE = 128 * MIB
IGVM_MAX_SIZE_PROPERTY = "igvm-max-size"
REGION_TOP = FIRMWARE_TOP
LOW_ALIAS_SIZE = 128 * KIB
LOW_ALIAS_END = LOW_MEMORY_END
# The -device property that turns CAP_ROM_RESIZE off.
RESIZE_PROPERTY = "rom-resize"
# The -device property that gives a -bios guest room for a firmware larger than the host's
# ROM: the region spans [4 GiB - value, 4 GiB) and fw_rom_size reads the value. It must be a
# multiple of GRANULE and at most ROM_MAX_SIZE_LIMIT (harness.interface.declaration.RomRoom).
ROM_MAX_SIZE_PROPERTY = "rom-max-size"
ROM_MAX_SIZE_LIMIT = 16 * MIB
ROM_ROOM = RomRoom(property=ROM_MAX_SIZE_PROPERTY, granule=GRANULE, limit=ROM_MAX_SIZE_LIMIT)

HEADER_DEFINES: dict[str, str | int] = {
    "TYPE_VMFWUPDATE": "vmfwupdate",
    "VMFWUPDATE_FILE": FILE,
    "VMFWUPDATE_FILE_COUNT": 1,
    "VMFWUPDATE_VERSION": VERSION,
    "VMFWUPDATE_FORMAT_IGVM": FORMAT_IGVM,
    "VMFWUPDATE_FORMAT_PLATFORM_ROM": FORMAT_PLATFORM_ROM,
    "VMFWUPDATE_FORMAT_MASK": FORMAT_MASK,
    "VMFWUPDATE_CAP_ROM_RESIZE": CAP_ROM_RESIZE,
    "VMFWUPDATE_CTL_DISABLE": CTL_DISABLE,
    "VMFWUPDATE_CTL_HOST_FW": CTL_HOST_FW,
    "VMFWUPDATE_ROM_SIZE_ALIGN": GRANULE,
    "VMFWUPDATE_ROM_MAX_SIZE": ROM_MAX_SIZE_LIMIT,
    "VMFWUPDATE_IGVM_MAX_SIZE": IGVM_MAX_SIZE,
    **{f"VMFWUPDATE_STATUS_{status.name}": status.value for status in Status},
}

ABI = AbiDeclaration(
    name=NAME,
    header=HEADER,
    header_defines=HEADER_DEFINES,
    files=(DeviceFile(FILE, FILE_SIZE, guest_writable=True),),
    granule=GRANULE,
    region_top=REGION_TOP,
    low_alias_size=LOW_ALIAS_SIZE,
    low_alias_end=LOW_ALIAS_END,
    resize_property=RESIZE_PROPERTY,
    lock_survives_reset=True,
    armed_image_applies_when_locked=True,
    rom_room=ROM_ROOM,
    igvm_guests=True,
    applied_trace="vmfwupdate_image_applied",
    igvm_trace="vmfwupdate_igvm",
)
