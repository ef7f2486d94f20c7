"""held_size: what the v7 device charges an IGVM file before libigvm parses it, on files
built here header by header (the functional test compares it with the device's own count)."""

from __future__ import annotations

import struct

from harness.interface.igvm_file import (
    DIRECTIVE_CHARGE,
    FIXED_HEADER,
    FIXED_HEADER_SIZE,
    MAGIC,
    PARAMETER_AREA,
    VARIABLE_HEADER,
    FixedHeader,
    headers_past_the_end,
    held_size,
)

PAGE_DATA = 0x302
HEADERS_AT = 32


def igvm(*headers: tuple[int, bytes], magic: bytes = MAGIC, size_delta: int = 0) -> bytes:
    """A file whose variable headers are `headers` (type, body), each padded to 8 bytes."""
    body = b"".join(
        struct.pack(VARIABLE_HEADER, kind, len(data)) + data.ljust(-(-len(data) // 8) * 8, b"\0")
        for kind, data in headers
    )
    fixed = struct.pack(FIXED_HEADER, magic, 1, HEADERS_AT, len(body) + size_delta, 0, 0)
    return fixed.ljust(HEADERS_AT, b"\0") + body


def page(gpa: int) -> tuple[int, bytes]:
    return PAGE_DATA, struct.pack("<QIIIHH", gpa, 1, 0, 0, 0, 0)


def area(size: int) -> tuple[int, bytes]:
    return PARAMETER_AREA, struct.pack("<QII", size, 0, 0)


def test_each_directive_costs_a_page() -> None:
    assert held_size(igvm(*(page(i * 4096) for i in range(3)))) == 3 * DIRECTIVE_CHARGE


def test_a_parameter_area_costs_its_size_too() -> None:
    assert held_size(igvm(area(2 << 20), page(0))) == 2 * DIRECTIVE_CHARGE + (2 << 20)


def test_bytes_that_are_no_igvm_file_cost_nothing() -> None:
    assert held_size(b"") == 0
    assert held_size(b"\x5a" * FIXED_HEADER_SIZE) == 0
    assert held_size(igvm(page(0), magic=b"MVGI")) == 0


def test_headers_past_the_end_of_the_file_cost_nothing() -> None:
    assert held_size(igvm(page(0), size_delta=8)) == 0


def test_a_header_longer_than_what_is_left_ends_the_walk() -> None:
    data = igvm(page(0), page(4096))
    # the second header's length runs past the end of the variable headers
    second = HEADERS_AT + 8 + 24
    cut = data[: second + 4] + struct.pack("<I", 1 << 20) + data[second + 8 :]
    assert held_size(cut) == DIRECTIVE_CHARGE


WRAP_TOTAL = 32


def test_a_file_whose_headers_wrap_in_32_bits() -> None:
    data = headers_past_the_end(0x18, 0xFFFF_FFF0, WRAP_TOTAL)
    header = FixedHeader.unpack(data)
    assert len(data) == header.total_file_size == WRAP_TOTAL
    assert (header.variable_header_offset + header.variable_header_size) % (1 << 32) < len(data)
    assert held_size(data) == 0
