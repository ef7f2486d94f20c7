"""fw_cfg as generic-fuzz commands: the file directory probe, I/O and DMA transfers.

The plumbing every seed set (one per ABI, ``seeds_v6``, ``seeds_v7``) is written with. The
fuzz configs match the fw_cfg regions by name (``fwcfg*``); in the I/O address space they
are, in address order, region 0 = ``fwcfg`` (selector 0x510, data 0x511) and region 1 =
``fwcfg.dma`` (0x514: high, 0x518: low half of the big-endian DMA descriptor address).
The files' selectors are not fixed: they come from the fw_cfg file directory (selector
0x19), which :func:`directory_qtest` reads over the qtest protocol from a QEMU started
with the fuzz target's own arguments.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

from harness.fuzz.generic_fuzz_input import (
    PioSize,
    clear_dma_patterns,
    dma_pattern,
    pio_in,
    pio_out,
)
from harness.fw_cfg import FwCfgEntry

REGION_CTL = 0  # "fwcfg": selector at offset 0, data at offset 1
REGION_DMA = 1  # "fwcfg.dma": descriptor address, high half at 0, low half at 4
SELECTOR_PORT = 0x510
DATA_PORT = 0x511
FILE_DIR = 0x19
DIR_ENTRY = struct.Struct(">IHH56s")  # size, select, reserved, name
MAX_FILES = 64  # more than any x86 machine's x-file-slots
DIR_IO_BYTES = 16  # what the dir-io seed reads: the count and the start of the first entry
DATA_PORT_VALUE = 0x5A  # what a seed writes to the data port (fw_cfg ignores such writes)

DMA_ERROR = 0x01
DMA_READ = 0x02
DMA_SKIP = 0x04
DMA_SELECT = 0x08
DMA_WRITE = 0x10

DESC_ADDR = 0x10000  # guest RAM the descriptor is read from
DATA_ADDR = 0x20000  # guest RAM the file data is read from or written to
IMAGE_ADDR = 0x100000  # guest RAM an armed update copies from at the reset
OUTSIDE_RAM = 0xD0000000  # the PCI hole of a 128 MiB guest (generic-fuzz maps sparse memory)


class ProbeError(ValueError):
    """The fw_cfg directory could not be read from the probe's output."""


def parse_directory(data: bytes) -> list[FwCfgEntry]:
    """The entries of an fw_cfg file directory (big-endian count, then 64-byte entries)."""
    if len(data) < 4:
        raise ProbeError(f"file directory too short: {len(data)} bytes")
    (count,) = struct.unpack_from(">I", data)
    if count > MAX_FILES:
        raise ProbeError(f"file directory claims {count} files, more than {MAX_FILES}")
    if len(data) < 4 + count * DIR_ENTRY.size:
        raise ProbeError(f"file directory of {count} files needs more than {len(data)} bytes")
    files = []
    for number in range(count):
        size, select, _reserved, raw = DIR_ENTRY.unpack_from(data, 4 + number * DIR_ENTRY.size)
        files.append(FwCfgEntry(raw.split(b"\0", 1)[0].decode("ascii", "replace"), size, select))
    return files


def select(key: int) -> bytes:
    return pio_out(PioSize.WORD, REGION_CTL, 0, key)


def read_data(count: int) -> list[bytes]:
    return [pio_in(PioSize.BYTE, REGION_CTL, 1) for _ in range(count)]


def directory_io() -> list[bytes]:
    """Select the file directory and read its first bytes from the data port."""
    return [select(FILE_DIR), *read_data(DIR_IO_BYTES)]


def read_io(file: FwCfgEntry, count: int) -> list[bytes]:
    """Select a file and read `count` bytes of it from the data port."""
    return [select(file.select), *read_data(count)]


def write_data_port(file: FwCfgEntry) -> list[bytes]:
    """Select a file and write a byte to the data port (no write reaches the file)."""
    return [select(file.select), pio_out(PioSize.BYTE, REGION_CTL, 1, DATA_PORT_VALUE)]


def directory_qtest() -> str:
    """qtest commands that select the file directory and read it from the data port."""
    reads = f"inb {DATA_PORT:#x}\n" * (4 + MAX_FILES * DIR_ENTRY.size)
    return f"outw {SELECTOR_PORT:#x} {FILE_DIR:#x}\n" + reads


_REPLY = re.compile(r"^OK (0x[0-9a-f]+)$")


def reply_bytes(qtest_output: str) -> bytes:
    """The bytes the ``inb`` commands of directory_qtest() returned (qtest's ``OK 0x..``)."""
    out = bytearray()
    for line in qtest_output.splitlines():
        reply = _REPLY.match(line.strip())
        if reply:
            out.append(int(reply.group(1), 16) & 0xFF)
    return bytes(out)


def bswap32(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "little"), "big")


def dma(
    control: int,
    length: int,
    address: int,
    data: bytes | None = None,
    stride: int = 0,
    device_reads: Sequence[bytes] = (),
) -> list[bytes]:
    """Commands for one fw_cfg DMA transfer.

    generic-fuzz fills guest memory when a device reads it by DMA: the first pattern becomes
    the descriptor fw_cfg reads at DESC_ADDR, the second (``data``, repeated over ``length``
    bytes, its first byte increased by ``stride`` per repetition) the data a write takes
    from ``address``, and the next ones (``device_reads``) what the device reads of guest
    memory after that, in turn (an IGVM image at the write, and again at the reset that
    ends the input: the patterns stay until the next transfer clears them). The descriptor
    address is written as the guest does, byte-swapped for the big-endian register;
    writing its low half starts the transfer."""
    descriptor = struct.pack(">IIQ", control, length, address)
    commands = [clear_dma_patterns(), dma_pattern(descriptor)]
    if data is not None:
        commands.append(dma_pattern(data, 0, stride))
    commands.extend(dma_pattern(read) for read in device_reads)
    commands.append(pio_out(PioSize.LONG, REGION_DMA, 0, bswap32(DESC_ADDR >> 32)))
    commands.append(pio_out(PioSize.LONG, REGION_DMA, 4, bswap32(DESC_ADDR & 0xFFFFFFFF)))
    return commands


def selecting(file: FwCfgEntry, operation: int) -> int:
    """The control word of a transfer that selects `file` first (its offset becomes 0)."""
    return (file.select << 16) | DMA_SELECT | operation


def dma_write(
    file: FwCfgEntry,
    payload: bytes,
    address: int = DATA_ADDR,
    device_reads: Sequence[bytes] = (),
) -> list[bytes]:
    return dma(
        selecting(file, DMA_WRITE), len(payload), address, payload, device_reads=device_reads
    )


def dma_read(file: FwCfgEntry) -> list[bytes]:
    return dma(selecting(file, DMA_READ), file.size, DATA_ADDR)


def dma_skip(file: FwCfgEntry, count: int) -> list[bytes]:
    """Select `file` and skip `count` bytes of it: the next transfer starts there."""
    return dma(selecting(file, DMA_SKIP), count, DATA_ADDR)


def dma_write_on(payload: bytes) -> list[bytes]:
    """A write of the selected file where the last transfer stopped (no select)."""
    return dma(DMA_WRITE, len(payload), DATA_ADDR, payload)
