"""Seed inputs for the libigvm fuzz target (third_party/igvm-fuzz): IGVM files, each as
``igvm-wrap`` made it and with its checksum left 0, and small damaged ones.

The target fills in the checksum of an input whose checksum field is 0 before it hands the
file to ``igvm_new_from_binary`` (a guest that builds a file computes it too): the zeroed
copies are where mutations of the headers reach the parser instead of stopping at the
CRC32; the files as made keep the checksum check itself in the corpus. The damaged seeds
are cut or changed in the places the parser reads first (`damaged`). Everything here works
on bytes; the workflow (harness/workflows/fuzz_libigvm.py) wraps the firmware.

igvm-wrap writes a few of the variable header types only; the `dictionary` gives libFuzzer
all of them, as the ``igvm_defs.h`` that QEMU compiles against names them, to splice in.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping

from harness.interface.igvm_file import FIXED_HEADER, FIXED_HEADER_SIZE, FixedHeader

CHECKSUM_OFFSET = struct.calcsize("<4sIIII")
PAGE_SIZE = 4096
# IGVM_FIXED_HEADER_V2 adds two u32s after the checksum: the architecture, the page size
ARCHITECTURE_OFFSET = CHECKSUM_OFFSET + 4
PAGE_SIZE_OFFSET = ARCHITECTURE_OFFSET + 4
AARCH64 = 1  # IgvmArchitecture: X64 0, AARCH64 1
U32_MAX = 0xFFFF_FFFF


def with_checksum(data: bytes, checksum: int) -> bytes:
    """``data`` with the fixed header's checksum field set to ``checksum``."""
    FixedHeader.unpack(data)
    return data[:CHECKSUM_OFFSET] + struct.pack("<I", checksum) + data[CHECKSUM_OFFSET + 4 :]


def zero_checksum(data: bytes) -> bytes:
    """The copy the target repairs: checksum field 0."""
    return with_checksum(data, 0)


def _fixed(header: FixedHeader, **changes: int) -> bytes:
    fields = {
        "format_version": header.format_version,
        "variable_header_offset": header.variable_header_offset,
        "variable_header_size": header.variable_header_size,
        "total_file_size": header.total_file_size,
        "checksum": 0,
        **changes,
    }
    return struct.pack(
        FIXED_HEADER,
        header.magic,
        fields["format_version"],
        fields["variable_header_offset"],
        fields["variable_header_size"],
        fields["total_file_size"],
        fields["checksum"],
    )


def damaged(data: bytes) -> dict[str, bytes]:
    """Small variants of one valid IGVM file ``data``, by what is wrong with them. All but
    ``bad-checksum`` have checksum 0, so the target repairs the checksum and the parser
    meets the damage itself."""
    header = FixedHeader.unpack(data)
    start = header.variable_header_offset
    end = start + header.variable_header_size
    if not FIXED_HEADER_SIZE <= start < end < len(data):
        raise ValueError(f"variable headers at [{start:#x}, {end:#x}) of {len(data):#x} bytes")
    rest = data[FIXED_HEADER_SIZE:]
    first_type = struct.unpack_from("<I", data, start)[0]
    short = data[: max(end + 1, len(data) - PAGE_SIZE)]
    return {
        # the fixed header alone, saying that the file is that long
        "fixed-header-only": _fixed(header, total_file_size=FIXED_HEADER_SIZE),
        # the headers and one page of the file data they point into
        "data-one-page": _fixed(header, total_file_size=min(len(data), end + PAGE_SIZE))
        + data[FIXED_HEADER_SIZE : end + PAGE_SIZE],
        # the last page of file data cut off (the total size says so)
        "data-short": _fixed(header, total_file_size=len(short)) + short[FIXED_HEADER_SIZE:],
        # the variable header section ends in the middle of an entry
        "headers-cut": _fixed(header, variable_header_size=header.variable_header_size // 2 + 2)
        + rest,
        # the variable headers run past the end of the file: offset + size wraps in u32
        "headers-size-wraps": _fixed(header, variable_header_size=U32_MAX - start + 1 + 8) + rest,
        # the first entry longer than the whole section
        "entry-too-long": _patch(data, start + 4, header.variable_header_size + 8),
        # the first entry of a type the format does not have
        "entry-unknown-type": _patch(data, start, first_type | 0x0FFF_0000),
        # the other format version: 1 has no architecture and page size after the checksum
        # (igvm-wrap writes 2), 2 reads them from the variable headers of a version 1 file
        "other-format-version": _fixed(header, format_version=3 - header.format_version) + rest,
        # version 2 only: another architecture, a 2 MiB page size
        **(
            {
                "architecture-aarch64": _patch(data, ARCHITECTURE_OFFSET, AARCH64),
                "page-size-2m": _patch(data, PAGE_SIZE_OFFSET, 2 << 20),
            }
            if header.format_version == 2
            else {}
        ),
        # the checksum of another file
        "bad-checksum": with_checksum(data, header.checksum ^ 0x1),
    }


def _patch(data: bytes, at: int, value: int) -> bytes:
    """``data`` with the u32 at ``at`` set to ``value``, checksum 0."""
    return zero_checksum(data[:at] + struct.pack("<I", value) + data[at + 4 :])


def seeds(files: Mapping[str, bytes], damage_from: str) -> dict[str, bytes]:
    """The seed set: every wrapped file as made and with checksum 0 (``<name>`` and
    ``<name>-zero-checksum``), and the `damaged` variants of ``files[damage_from]``
    (``damaged-<what>``)."""
    found: dict[str, bytes] = {}
    for name, data in files.items():
        found[name] = data
        found[f"{name}-zero-checksum"] = zero_checksum(data)
    for what, data in damaged(files[damage_from]).items():
        found[f"damaged-{what}"] = data
    return found


# cbindgen's enum lines in igvm_defs.h: ``  IGVM_VHT_PAGE_DATA = 770,``
_HEADER_TYPE = re.compile(r"^\s+(IGVM_VHT_\w+) = (\d+),?$", re.MULTILINE)


def header_types(igvm_defs_h: str) -> dict[str, int]:
    """The variable header types (IgvmVariableHeaderType) an igvm_defs.h defines."""
    return {name: int(value) for name, value in _HEADER_TYPE.findall(igvm_defs_h)}


def dictionary(types: Mapping[str, int]) -> str:
    """A libFuzzer dictionary (-dict): each header type as the u32 a file holds."""
    lines = []
    for name, value in types.items():
        escaped = "".join(f"\\x{byte:02x}" for byte in struct.pack("<I", value))
        lines.append(f'{name.lower()}="{escaped}"')
    return "\n".join(lines) + "\n"
