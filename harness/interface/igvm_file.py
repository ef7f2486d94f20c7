"""The IGVM file's fixed header, as far as the flows need it to damage a file on purpose,
and what the v7 device counts of a file's variable headers before libigvm parses it.

Every IGVM file starts with a fixed header (the IGVM specification's ``IGVM_FIXED_HEADER``,
little-endian u32s): the magic ``IGVM``, the format version, where the variable headers
are and how long they are, the total file size, and a CRC32 over the fixed header (with
its checksum field zero) and the variable headers. libigvm refuses a file whose size is
not the total file size or whose checksum does not match: the device's `LOAD_FAIL`.
`held_size` is the host memory the device charges a file with before the parse.
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

    def pack(self) -> bytes:
        return struct.pack(
            FIXED_HEADER,
            self.magic,
            self.format_version,
            self.variable_header_offset,
            self.variable_header_size,
            self.total_file_size,
            self.checksum,
        )

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


# What the v7 device charges for each variable header (directive) of a file before libigvm
# parses it: libigvm keeps a 4 KiB copy of every page of data, and a directive of a page
# whose data other pages share is only 32 bytes of the file (v7 patch 7, qigvm_held_size).
DIRECTIVE_CHARGE = 4 * 1024
# IGVM_VHT_PARAMETER_AREA: its body starts with the area's size (u64); QEMU's loader
# allocates that much, so it is charged too.
PARAMETER_AREA = 0x301
VARIABLE_HEADER = "<II"
VARIABLE_HEADER_SIZE = struct.calcsize(VARIABLE_HEADER)
PARAMETER_AREA_BODY = 16
ALIGN = 8


def held_size(data: bytes) -> int:
    """The host memory the v7 device counts for checking the IGVM file `data`, before
    libigvm sees it: DIRECTIVE_CHARGE per variable header and the size of each parameter
    area, walked as libigvm walks them. Bytes that are no IGVM file, or whose headers lie
    outside it, count 0: libigvm refuses them (LOAD_FAIL). Over `igvm-max-size` the write
    is BAD_SIZE."""
    try:
        header = FixedHeader.unpack(data)
    except ValueError:
        return 0
    off = header.variable_header_offset
    if off > len(data) or header.variable_header_size > len(data) - off:
        return 0
    end = off + header.variable_header_size
    held = 0
    while end - off >= VARIABLE_HEADER_SIZE:
        kind, length = struct.unpack_from(VARIABLE_HEADER, data, off)
        off += VARIABLE_HEADER_SIZE
        if length > end - off:
            break
        held += DIRECTIVE_CHARGE
        if kind == PARAMETER_AREA and length >= PARAMETER_AREA_BODY:
            held += struct.unpack_from("<Q", data, off)[0]
        padded = -(-length // ALIGN) * ALIGN
        if padded > end - off:
            break
        off += padded
    return held


def headers_past_the_end(offset: int, size: int, total: int = 32) -> bytes:
    """A `total`-byte file of a fixed header (format version 1) whose variable headers,
    `size` bytes at `offset`, end past the end of the file. libigvm 0.5.0 adds the two in
    32 bits and panics when the sum wraps, which aborted QEMU; v7 patch 7 refuses such a
    file before libigvm sees it (LOAD_FAIL)."""
    header = FixedHeader(MAGIC, 1, offset, size, total, 0)
    return header.pack().ljust(total, b"\0")
