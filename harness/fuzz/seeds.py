"""Seed inputs for the vmfwupdate generic-fuzz targets: fw_cfg I/O and DMA on the device's files.

The fuzz configs match the fw_cfg regions by name (``fwcfg*``); in the I/O address space
they are, in address order, region 0 = ``fwcfg`` (selector 0x510, data 0x511) and region 1
= ``fwcfg.dma`` (0x514: high, 0x518: low half of the big-endian DMA descriptor address).
The files' selectors are not fixed: they come from the fw_cfg file directory (selector
0x19), which :func:`directory_qtest` reads over the qtest protocol from a QEMU started
with the fuzz target's own arguments.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

from harness.fuzz.generic_fuzz_input import (
    PioSize,
    clear_dma_patterns,
    dma_pattern,
    join,
    pio_in,
    pio_out,
)
from harness.fw_cfg import FwCfgEntry
from harness.interface import v6

REGION_CTL = 0  # "fwcfg": selector at offset 0, data at offset 1
REGION_DMA = 1  # "fwcfg.dma": descriptor address, high half at 0, low half at 4
SELECTOR_PORT = 0x510
DATA_PORT = 0x511
FILE_DIR = 0x19
DIR_ENTRY = struct.Struct(">IHH56s")  # size, select, reserved, name
MAX_FILES = 64  # more than any x86 machine's x-file-slots

DMA_ERROR = 0x01
DMA_READ = 0x02
DMA_SKIP = 0x04
DMA_SELECT = 0x08
DMA_WRITE = 0x10

DESC_ADDR = 0x10000  # guest RAM the descriptor is read from
DATA_ADDR = 0x20000  # guest RAM the file data is read from or written to
IMAGE_ADDR = 0x100000  # guest RAM an armed update copies from at the reset
OUTSIDE_RAM = 0xD0000000  # the PCI hole of a 128 MiB guest (generic-fuzz maps sparse memory)

# The v6 files, by their names below the prefix (the seeds are written for the v6 layout).
PREFIX = v6.FILE_PREFIX
FILES = tuple(f.name.removeprefix(PREFIX) for f in v6.FILES)


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


def device_files(directory: Iterable[FwCfgEntry]) -> dict[str, FwCfgEntry]:
    """The device's files by short name (``cap``, ...); all five must be there."""
    found = {f.name[len(PREFIX) :]: f for f in directory if f.name.startswith(PREFIX)}
    absent = [name for name in FILES if name not in found]
    if absent:
        raise ProbeError(f"the fw_cfg directory has no {', '.join(PREFIX + n for n in absent)}")
    return {name: found[name] for name in FILES}


def select(key: int) -> bytes:
    return pio_out(PioSize.WORD, REGION_CTL, 0, key)


def read_data(count: int) -> list[bytes]:
    return [pio_in(PioSize.BYTE, REGION_CTL, 1) for _ in range(count)]


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
    control: int, length: int, address: int, data: bytes | None = None, stride: int = 0
) -> list[bytes]:
    """Commands for one fw_cfg DMA transfer.

    generic-fuzz fills guest memory when a device reads it by DMA: the first pattern becomes
    the descriptor fw_cfg reads at DESC_ADDR, the second (``data``, repeated over ``length``
    bytes, its first byte increased by ``stride`` per repetition) the data a write takes
    from ``address``. The descriptor address is written as the guest does, byte-swapped for
    the big-endian register; writing its low half starts the transfer."""
    descriptor = struct.pack(">IIQ", control, length, address)
    commands = [clear_dma_patterns(), dma_pattern(descriptor)]
    if data is not None:
        commands.append(dma_pattern(data, 0, stride))
    commands.append(pio_out(PioSize.LONG, REGION_DMA, 0, bswap32(DESC_ADDR >> 32)))
    commands.append(pio_out(PioSize.LONG, REGION_DMA, 4, bswap32(DESC_ADDR & 0xFFFFFFFF)))
    return commands


def dma_write(file: FwCfgEntry, payload: bytes, address: int = DATA_ADDR) -> list[bytes]:
    control = (file.select << 16) | DMA_SELECT | DMA_WRITE
    return dma(control, len(payload), address, payload)


def dma_read(file: FwCfgEntry) -> list[bytes]:
    return dma((file.select << 16) | DMA_SELECT | DMA_READ, file.size, DATA_ADDR)


def u64(value: int) -> bytes:
    return struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF)


def seeds(files: dict[str, FwCfgEntry]) -> dict[str, bytes]:
    """Named seed inputs: reads and writes of every file, accepted and rejected values,
    complete updates that the reset at the end of each run applies."""
    cap, size, addr = files["cap"], files["bios-size"], files["bios-addr"]
    disable, opaque = files["disable"], files["opaque"]
    out: dict[str, list[bytes]] = {"dir-io": [select(FILE_DIR), *read_data(16)]}
    for name, file in files.items():
        out[f"read-io-{name}"] = [select(file.select), *read_data(min(file.size, 8))]
        out[f"read-dma-{name}"] = dma_read(file)
    out["write-cap"] = dma_write(cap, u64(0))
    for value in (0x10000, 0x40000, 0x12345, 0, 0x1000000):
        out[f"write-bios-size-{value:#x}"] = dma_write(size, u64(value))
    for value in (IMAGE_ADDR, 0, 0xFFFC0000, 0x7FF8000, 0xFFFFFFFFFFFFF000):
        out[f"write-bios-addr-{value:#x}"] = dma_write(addr, u64(value))
    out["write-bios-addr-short"] = dma_write(addr, u64(IMAGE_ADDR)[:4])
    out["write-bios-addr-from-pci-hole"] = dma_write(addr, u64(IMAGE_ADDR), OUTSIDE_RAM)
    out["write-disable"] = dma_write(disable, b"\x01")
    # a 16-byte pattern that generic-fuzz repeats over the whole page, byte 0 counting up
    control = (opaque.select << 16) | DMA_SELECT | DMA_WRITE
    out["write-opaque"] = dma(control, opaque.size, DATA_ADDR, bytes(range(1, 17)), stride=1)
    skip = dma((opaque.select << 16) | DMA_SELECT | DMA_SKIP, opaque.size // 2, DATA_ADDR)
    out["write-opaque-after-skip"] = skip + dma(DMA_WRITE, 16, DATA_ADDR, bytes(16))
    out["write-data-port"] = [select(addr.select), pio_out(PioSize.BYTE, REGION_CTL, 1, 0x5A)]
    for value in (0x10000, 0x40000):
        out[f"update-{value:#x}"] = dma_write(size, u64(value)) + dma_write(addr, u64(IMAGE_ADDR))
    out["update-then-disable"] = out["update-0x10000"] + dma_write(disable, b"\x01")
    out["disable-then-update"] = dma_write(disable, b"\x01") + out["update-0x10000"]
    out["update-then-cancel"] = out["update-0x10000"] + dma_write(addr, u64(0))
    return {name: join(commands) for name, commands in out.items()}
