"""Facts of the x86 PC platform the toolkit relies on, and byte units, spelled out once."""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# The firmware (-bios) is mapped so that it ends here; the reset vector is 16 bytes below.
FIRMWARE_TOP = 4 * GIB
RESET_VECTOR = FIRMWARE_TOP - 16
# Conventional memory ends where the legacy VGA window starts.
VGA_HOLE = 0xA0000
# Real mode's 1 MiB: the legacy BIOS area and its alias of the firmware end here.
LOW_MEMORY_END = 1 * MIB
