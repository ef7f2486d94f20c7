"""The generic-fuzz input encoder, checked by decoding the bytes as generic_fuzz.c does."""

from __future__ import annotations

import struct

import pytest

from harness.fuzz import generic_fuzz_input as gfi

OPCODES = 10  # entries of ops[] in generic_fuzz()


def decode(data: bytes) -> list[tuple[str, tuple[int, ...] | bytes]]:
    """What generic_fuzz() would do with ``data``: op name and its operands."""
    ops = []
    for command in gfi.split(data):
        op = gfi.Op(command[0] % OPCODES)
        operands = command[1:]
        if op == gfi.Op.IN:
            ops.append(("in", struct.unpack("<BBH", operands[:4])))
        elif op == gfi.Op.OUT:
            ops.append(("out", struct.unpack("<BBHI", operands[:8])))
        elif op == gfi.Op.ADD_DMA_PATTERN:
            ops.append(("pattern", operands))
        else:
            ops.append((op.name.lower(), ()))
    return ops


def test_in_and_out_are_the_c_structs() -> None:
    data = gfi.join([gfi.pio_in(gfi.PioSize.BYTE, 0, 1), gfi.pio_out(gfi.PioSize.WORD, 0, 0, 0x19)])
    assert data == bytes([0, 0, 0, 1, 0]) + b"FUZZ" + bytes([1, 1, 0, 0, 0, 0x19, 0, 0, 0])
    assert decode(data) == [("in", (0, 0, 1)), ("out", (1, 0, 0, 0x19))]


def test_dma_pattern_carries_index_stride_and_data() -> None:
    command = gfi.dma_pattern(b"\xaa\xbb", index=1, stride=3)
    assert command == bytes([gfi.Op.ADD_DMA_PATTERN, 1, 3, 0xAA, 0xBB])
    assert decode(command) == [("pattern", bytes([1, 3, 0xAA, 0xBB]))]


def test_empty_pattern_is_refused() -> None:
    with pytest.raises(gfi.EncodingError):
        gfi.dma_pattern(b"")


def test_separator_inside_a_command_is_refused() -> None:
    with pytest.raises(gfi.EncodingError, match="separator"):
        gfi.join([gfi.dma_pattern(b"xxFUZZyy")])


def test_split_skips_empty_commands_like_generic_fuzz() -> None:
    assert gfi.split(b"FUZZ\x08FUZZFUZZ\x09") == [b"\x08", b"\x09"]
    assert decode(gfi.join([gfi.clear_dma_patterns(), gfi.clock_step()])) == [
        ("clear_dma_patterns", ()),
        ("clock_step", ()),
    ]
