"""A small IGVM file made in the tests (no igvm-wrap needed): one native platform and pages
of 4 KiB data at consecutive addresses, laid out as `harness.interface.igvm_headers` reads
it (igvm-inspect reads one without a VP context, whose data here is no register set)."""

from __future__ import annotations

import struct

from harness.interface import igvm_headers as ih
from harness.interface.igvm_file import MAGIC, FixedHeader

PAGE = 0x1000
HEADERS_AT = 32  # format 2: the fixed header and its architecture, page size, reserved
ARCH_X64_REST = struct.pack("<IHH", 0, PAGE, 0)  # architecture x64, page size, reserved
NATIVE = 0  # IGVM_PLATFORM_TYPE_NATIVE


def platform(compat: int = ih.NATIVE_COMPAT, platform_type: int = NATIVE) -> ih.Header:
    # u32 compat, u8 highest vtl, u8 platform type, u16 platform version, u64 shared gpa
    return ih.Header(
        ih.VHT_SUPPORTED_PLATFORM, struct.pack("<IBBHQ", compat, 0, platform_type, 1, 0)
    )


def igvm(pages: int, first_gpa: int = 0xFFFF0000, vp_context: bool = False) -> bytes:
    """A native IGVM file of `pages` pages of data from `first_gpa` (page n filled with n),
    with a VP context (a page of zeros) for vCPU 0 if `vp_context`."""
    directives = [ih.PAGE_DATA.size] * pages + [ih.VP_CONTEXT.size] * vp_context
    size = sum(ih.HEADER.size + -(-n // 8) * 8 for n in [16, *directives])
    headers = [platform()]
    data_at = HEADERS_AT + size
    for number in range(pages):
        gpa = first_gpa + number * PAGE
        body = ih.PAGE_DATA.pack(gpa, ih.NATIVE_COMPAT, data_at + number * PAGE, 0, 0, 0)
        headers.append(ih.Header(ih.VHT_PAGE_DATA, body))
    if vp_context:
        body = ih.VP_CONTEXT.pack(0, ih.NATIVE_COMPAT, data_at + pages * PAGE, 0, 0)
        headers.append(ih.Header(ih.VHT_VP_CONTEXT, body))
    data = b"".join(bytes([number & 0xFF]) * PAGE for number in range(pages + vp_context))
    fixed = FixedHeader(MAGIC, 2, HEADERS_AT, size, 0, 0)
    return ih.IgvmFile(fixed, ARCH_X64_REST, tuple(headers), data).pack()
