"""The v6 device ABI as data: five fw_cfg files (docs/specs/vmfwupdate.rst of the v6 series).

Every fact of the v6 interface that the toolkit uses is declared here once:
the file names and sizes, which files the guest may write, the capability
bit, the 64 KiB granule of an image size, the size of the opaque page, the
low alias below 1 MiB and the top of the firmware region. `HEADER_DEFINES`
maps the `#define`s of the series' own header (`HEADER`) to these values;
tests/unit/test_interface_header.py reads that header out of `patches/` and
fails when the two disagree.

A second ABI (v7: one 64-byte structure) is a module beside this one that
declares an `ABI` of its own and is listed in `harness.interface.abis`.
"""

from __future__ import annotations

from harness.interface.declaration import AbiDeclaration, DeviceFile
from harness.platform import FIRMWARE_TOP, KIB, LOW_MEMORY_END

NAME = "v6"
HEADER = "include/hw/misc/vmfwupdate.h"
FILE_PREFIX = "etc/vmfwupdate/"

CAP = FILE_PREFIX + "cap"
BIOS_SIZE = FILE_PREFIX + "bios-size"
BIOS_ADDR = FILE_PREFIX + "bios-addr"
DISABLE = FILE_PREFIX + "disable"
OPAQUE = FILE_PREFIX + "opaque"

OPAQUE_SIZE = 4096
U64_FILE_SIZE = 8
DISABLE_FILE_SIZE = 1

FILES = (
    DeviceFile(CAP, U64_FILE_SIZE, guest_writable=False),
    DeviceFile(BIOS_SIZE, U64_FILE_SIZE, guest_writable=True),
    DeviceFile(BIOS_ADDR, U64_FILE_SIZE, guest_writable=True),
    DeviceFile(DISABLE, DISABLE_FILE_SIZE, guest_writable=True),
    DeviceFile(OPAQUE, OPAQUE_SIZE, guest_writable=True),
)
FILE_SIZES = {f.name: f.size for f in FILES}
# The files that hold one little-endian u64.
U64_FILES = tuple(f.name for f in FILES if f.size == U64_FILE_SIZE)

# Bit of `cap`: bios-size may be written (an image smaller than the region).
CAP_BIOS_RESIZE = 1 << 0
# bios-size must be a non-zero multiple of this.
GRANULE = 64 * KIB
# The firmware region ends here; an image is placed so that it ends here too.
REGION_TOP = FIRMWARE_TOP
# Below 1 MiB the guest sees the region's last LOW_ALIAS_SIZE bytes (or all of a smaller one).
LOW_ALIAS_SIZE = 128 * KIB
LOW_ALIAS_END = LOW_MEMORY_END
# The -device property that turns CAP_BIOS_RESIZE off.
RESIZE_PROPERTY = "bios-resize"

# The header's #defines and the values they must have.
HEADER_DEFINES: dict[str, str | int] = {
    "TYPE_VMFWUPDATE": "vmfwupdate",
    "VMFWUPDATE_FILE_CAP": CAP,
    "VMFWUPDATE_FILE_BIOS_SIZE": BIOS_SIZE,
    "VMFWUPDATE_FILE_BIOS_ADDR": BIOS_ADDR,
    "VMFWUPDATE_FILE_DISABLE": DISABLE,
    "VMFWUPDATE_FILE_OPAQUE": OPAQUE,
    "VMFWUPDATE_FILE_COUNT": len(FILES),
    "VMFWUPDATE_CAP_BIOS_RESIZE": CAP_BIOS_RESIZE,
    "VMFWUPDATE_BIOS_SIZE_ALIGN": GRANULE,
    "VMFWUPDATE_OPAQUE_SIZE": OPAQUE_SIZE,
}

ABI = AbiDeclaration(
    name=NAME,
    header=HEADER,
    header_defines=HEADER_DEFINES,
    files=FILES,
    granule=GRANULE,
    region_top=REGION_TOP,
    low_alias_size=LOW_ALIAS_SIZE,
    low_alias_end=LOW_ALIAS_END,
    resize_property=RESIZE_PROPERTY,
    lock_survives_reset=False,
    armed_image_applies_when_locked=False,
    # The five files have no such property: the region is the host's ROM (issue 24).
    rom_room=None,
    applied_trace="vmfwupdate_update_applied",
)
