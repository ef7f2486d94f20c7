"""An IGVM file's variable headers, read and written again: how the fuzz seeds make the
files igvm-wrap cannot (a directive added to, or a field changed in, igvm-wrap's output).

A file is the fixed header (`igvm_file.FixedHeader`), the variable headers (each a
little-endian u32 type and u32 length, then that many bytes, padded to 8) and the file data
the directives point at by absolute file offset. `IgvmFile.parse` splits a file into
`Header` records and its data; `IgvmFile.pack` lays them out again, moves every file
offset by the change in the headers' size, and writes the size and the CRC32 (over the
fixed header with its checksum zero and the variable headers) that libigvm checks. The
type numbers and layouts are the IGVM specification's (igvm_defs.h of libigvm).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace

from harness.interface.igvm_file import FIXED_HEADER, FIXED_HEADER_SIZE, FixedHeader

VHT_SUPPORTED_PLATFORM = 0x001
VHT_PARAMETER_AREA = 0x301
VHT_PAGE_DATA = 0x302
VHT_PARAMETER_INSERT = 0x303
VHT_VP_CONTEXT = 0x304
VHT_REQUIRED_MEMORY = 0x305
VHT_VP_COUNT_PARAMETER = 0x307
VHT_MEMORY_MAP = 0x30C
VHT_ENVIRONMENT_INFO_PARAMETER = 0x313

PAGE_DATA_TYPE_SECRETS = 1
NATIVE_COMPAT = 0x1  # the compatibility mask igvm-wrap gives the native platform

# u64 gpa, u32 compatibility mask, u32 file offset, u32 flags, u16 data type, u16 reserved
PAGE_DATA = struct.Struct("<QIIIHH")
# u64 gpa, u32 compatibility mask, u32 file offset, u16 vp index, u16 reserved
VP_CONTEXT = struct.Struct("<QIIHH")
# u64 gpa, u32 compatibility mask, u32 number of bytes, u32 flags, u32 reserved
REQUIRED_MEMORY = struct.Struct("<QIIII")
# u64 number of bytes, u32 parameter area index, u32 file offset (0: zero-filled)
PARAMETER_AREA = struct.Struct("<QII")
# u64 gpa, u32 compatibility mask, u32 parameter area index
PARAMETER_INSERT = struct.Struct("<QII")
# u32 parameter area index, u32 byte offset (vp count, memory map, environment info)
PARAMETER = struct.Struct("<II")
HEADER = struct.Struct("<II")  # type, length
ALIGN = 8


@dataclass(frozen=True)
class Header:
    """One variable header: its type and its bytes (unpadded)."""

    type: int
    body: bytes


def _file_offset_field(header: Header) -> tuple[struct.Struct, int] | None:
    """The layout of a header that points into the file data, and its file offset's index."""
    return {
        VHT_PAGE_DATA: (PAGE_DATA, 2),
        VHT_VP_CONTEXT: (VP_CONTEXT, 2),
        VHT_PARAMETER_AREA: (PARAMETER_AREA, 2),
    }.get(header.type)


def moved(header: Header, delta: int) -> Header:
    """`header` with its file offset moved by `delta` (offset 0 means no data: kept)."""
    field = _file_offset_field(header)
    if field is None:
        return header
    layout, index = field
    values = list(layout.unpack_from(header.body))
    if values[index] == 0:
        return header
    values[index] += delta
    return replace(header, body=layout.pack(*values) + header.body[layout.size :])


def _padded(length: int) -> int:
    return -(-length // ALIGN) * ALIGN


@dataclass(frozen=True)
class IgvmFile:
    """A parsed IGVM file: its fixed header, variable headers and file data."""

    fixed: FixedHeader
    # the rest of the fixed header (format 2: architecture, page size, reserved)
    fixed_rest: bytes
    headers: tuple[Header, ...]
    data: bytes  # everything after the variable headers

    @classmethod
    def parse(cls, raw: bytes) -> IgvmFile:
        fixed = FixedHeader.unpack(raw)
        start = fixed.variable_header_offset
        end = start + fixed.variable_header_size
        headers = []
        offset = start
        while offset < end:
            kind, length = HEADER.unpack_from(raw, offset)
            body = raw[offset + HEADER.size : offset + HEADER.size + length]
            headers.append(Header(kind, body))
            offset += HEADER.size + _padded(length)
        return cls(fixed, raw[FIXED_HEADER_SIZE:start], tuple(headers), raw[end:])

    def of_type(self, kind: int) -> list[int]:
        """The indexes of the headers of type `kind`."""
        return [n for n, h in enumerate(self.headers) if h.type == kind]

    def with_header(self, index: int, header: Header) -> IgvmFile:
        headers = list(self.headers)
        headers[index] = header
        return replace(self, headers=tuple(headers))

    def inserted(self, index: int, *new: Header) -> IgvmFile:
        """The file with `new` headers inserted before header `index`."""
        headers = [*self.headers[:index], *new, *self.headers[index:]]
        return replace(self, headers=tuple(headers))

    def appended(self, *new: Header) -> IgvmFile:
        return self.inserted(len(self.headers), *new)

    def pack(self) -> bytes:
        """The file, with sizes, file offsets and checksum made right for its headers."""
        old_size = self.fixed.variable_header_size
        size = sum(HEADER.size + _padded(len(h.body)) for h in self.headers)
        delta = size - old_size
        variable = b"".join(
            HEADER.pack(h.type, len(h.body)) + h.body + bytes(_padded(len(h.body)) - len(h.body))
            for h in (moved(h, delta) for h in self.headers)
        )
        start = self.fixed.variable_header_offset
        gap = self.fixed_rest
        total = start + size + len(self.data)
        fields = (
            self.fixed.magic,
            self.fixed.format_version,
            start,
            size,
            total,
        )
        unsummed = struct.pack(FIXED_HEADER, *fields, 0)
        checksum = zlib.crc32(unsummed + gap + variable)
        return struct.pack(FIXED_HEADER, *fields, checksum) + gap + variable + self.data


def page_data(header: Header) -> tuple[int, ...]:
    """(gpa, compat, file offset, flags, data type, reserved) of a page data header."""
    return PAGE_DATA.unpack_from(header.body)


def with_page_data(header: Header, **fields: int) -> Header:
    """A page data header with some of its fields changed (gpa=, data_type=)."""
    names = ("gpa", "compat", "file_offset", "flags", "data_type", "reserved")
    values = dict(zip(names, PAGE_DATA.unpack_from(header.body), strict=True))
    values.update(fields)
    return replace(header, body=PAGE_DATA.pack(*(values[n] for n in names)))


def with_vp_index(header: Header, vp_index: int) -> Header:
    gpa, compat, file_offset, _, reserved = VP_CONTEXT.unpack_from(header.body)
    body = VP_CONTEXT.pack(gpa, compat, file_offset, vp_index, reserved)
    return replace(header, body=body + header.body[VP_CONTEXT.size :])


def required_memory(gpa: int, size: int) -> Header:
    return Header(VHT_REQUIRED_MEMORY, REQUIRED_MEMORY.pack(gpa, NATIVE_COMPAT, size, 0, 0))


def parameter_area(index: int, size: int) -> Header:
    """A zero-filled parameter area of `size` bytes."""
    return Header(VHT_PARAMETER_AREA, PARAMETER_AREA.pack(size, index, 0))


def parameter(kind: int, index: int, byte_offset: int) -> Header:
    """A parameter (VHT_VP_COUNT_PARAMETER, ...) written at `byte_offset` of area `index`."""
    return Header(kind, PARAMETER.pack(index, byte_offset))


def parameter_insert(index: int, gpa: int) -> Header:
    return Header(VHT_PARAMETER_INSERT, PARAMETER_INSERT.pack(gpa, NATIVE_COMPAT, index))
