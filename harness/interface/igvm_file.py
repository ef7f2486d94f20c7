"""The IGVM file's fixed header, as far as the flows need it to damage a file on purpose.

Every IGVM file starts with a fixed header (the IGVM specification's ``IGVM_FIXED_HEADER``,
little-endian u32s): the magic ``IGVM``, the format version, where the variable headers
are and how long they are, the total file size, and a CRC32 over the fixed header (with
its checksum field zero) and the variable headers. libigvm refuses a file whose size is
not the total file size or whose checksum does not match: the device's `LOAD_FAIL`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"IGVM"
FIXED_HEADER = "<4sIIIII"
FIXED_HEADER_SIZE = struct.calcsize(FIXED_HEADER)
# where the checksum field lies (the fixed header's last u32)
CHECKSUM_OFFSET = FIXED_HEADER_SIZE - 4


@dataclass(frozen=True)
class FixedHeader:
    magic: bytes
    format_version: int
    variable_header_offset: int
    variable_header_size: int
    total_file_size: int
    checksum: int

    @classmethod
    def unpack(cls, data: bytes) -> FixedHeader:
        if len(data) < FIXED_HEADER_SIZE:
            raise ValueError(f"{len(data)} bytes: shorter than an IGVM fixed header")
        header = cls(*struct.unpack_from(FIXED_HEADER, data))
        if header.magic != MAGIC:
            raise ValueError(f"not an IGVM file: magic {header.magic!r}")
        return header

    @property
    def checksummed_byte(self) -> int:
        """The offset of a byte the checksum covers and nothing else checks first: the
        first byte of the variable headers (changing it leaves the file's size and layout
        as they are, so libigvm stops at the checksum)."""
        return self.variable_header_offset

    @property
    def refused_if_changed(self) -> tuple[int, ...]:
        """Offsets of bytes whose change alone makes libigvm refuse the file: the first of
        the magic, the checksum field, the first byte of the variable headers."""
        return (0, CHECKSUM_OFFSET, self.checksummed_byte)
