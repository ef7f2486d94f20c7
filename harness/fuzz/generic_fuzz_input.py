"""Encoder for the binary input format of QEMU's generic-fuzz target.

An input is a list of commands joined by the separator ``FUZZ``. The first byte of a command
is its opcode (modulo the number of opcodes); the rest are its operands, read by
``tests/qtest/fuzz/generic_fuzz.c`` as a little-endian C struct. I/O operands name a fuzzed
memory region by its index among the matched regions in address order, plus an offset in it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum

SEPARATOR = b"FUZZ"
# generic_fuzz.c's MAX_DMA_FILL_SIZE: a DMA read fills at most this much guest memory from
# its pattern; the rest of the range keeps what guest memory held.
MAX_DMA_FILL = 0x10000


class Op(IntEnum):
    """The opcodes, in the order of ``enum cmds`` in generic_fuzz.c."""

    IN = 0
    OUT = 1
    READ = 2
    WRITE = 3
    PCI_READ = 4
    PCI_WRITE = 5
    DISABLE_PCI = 6
    ADD_DMA_PATTERN = 7
    CLEAR_DMA_PATTERNS = 8
    CLOCK_STEP = 9


class PioSize(IntEnum):
    """Access widths of ``in``/``out`` (``enum Sizes`` in op_in/op_out)."""

    BYTE = 0
    WORD = 1
    LONG = 2


class EncodingError(ValueError):
    """A command that generic-fuzz would not read as it was meant."""


def pio_in(size: PioSize, region: int, offset: int) -> bytes:
    """``in``: struct { u8 size; u8 base; u16 offset; }."""
    return bytes([Op.IN]) + struct.pack("<BBH", size, region, offset)


def pio_out(size: PioSize, region: int, offset: int, value: int) -> bytes:
    """``out``: struct { u8 size; u8 base; u16 offset; u32 value; }."""
    return bytes([Op.OUT]) + struct.pack("<BBHI", size, region, offset, value)


def dma_pattern(data: bytes, index: int = 0, stride: int = 0) -> bytes:
    """Add a pattern that fills the next guest-memory range a device reads by DMA.

    The data is repeated over the range; every ``index``-th byte of each repetition is
    increased by ``stride`` more than in the one before."""
    if not data:
        raise EncodingError("a DMA pattern needs at least one byte of data")
    return bytes([Op.ADD_DMA_PATTERN]) + struct.pack("<BB", index, stride) + data


def clear_dma_patterns() -> bytes:
    return bytes([Op.CLEAR_DMA_PATTERNS])


def clock_step() -> bytes:
    return bytes([Op.CLOCK_STEP])


def join(commands: Iterable[bytes]) -> bytes:
    """One input from commands; refuses a command that contains the separator."""
    parts = list(commands)
    for number, command in enumerate(parts):
        if not command:
            raise EncodingError(f"command {number} is empty")
        if SEPARATOR in command:
            raise EncodingError(
                f"command {number} ({command.hex()}) contains the separator {SEPARATOR!r}, "
                "so generic-fuzz would split it"
            )
    return SEPARATOR.join(parts)


def split(data: bytes) -> list[bytes]:
    """The commands generic-fuzz reads from an input (empty ones are skipped, as it does)."""
    return [part for part in data.split(SEPARATOR) if part]
