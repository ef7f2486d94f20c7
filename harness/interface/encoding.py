"""The encodings the device and the agent use: little-endian u64 and CRC32."""

from __future__ import annotations

import struct
import zlib

U64_BYTES = 8
U64_MAX = (1 << 64) - 1


def u64_le(value: int) -> bytes:
    """`value` (taken modulo 2^64) as 8 little-endian bytes."""
    return struct.pack("<Q", value & U64_MAX)


def from_u64_le(data: bytes) -> int:
    """The little-endian u64 at the start of `data`."""
    if len(data) < U64_BYTES:
        raise ValueError(f"need {U64_BYTES} bytes for a u64, got {len(data)}")
    return int(struct.unpack_from("<Q", data)[0])


def crc32(data: bytes) -> int:
    """zlib's CRC32, the one the agent computes (harness/agent/crc32.c)."""
    return zlib.crc32(data) & 0xFFFFFFFF
