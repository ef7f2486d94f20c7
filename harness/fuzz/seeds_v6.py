"""The v6 seed set: fw_cfg I/O and DMA on the five files ``etc/vmfwupdate/*``.

Reads of every file, accepted and rejected values of every file, complete updates that
the reset at the end of each run applies (written with :mod:`harness.fuzz.fw_cfg_input`).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.fuzz.fw_cfg_input import (
    DATA_ADDR,
    DMA_WRITE,
    IMAGE_ADDR,
    OUTSIDE_RAM,
    ProbeError,
    directory_io,
    dma,
    dma_read,
    dma_skip,
    dma_write,
    dma_write_on,
    read_io,
    selecting,
    write_data_port,
)
from harness.fuzz.generic_fuzz_input import join
from harness.fw_cfg import FwCfgEntry
from harness.interface import v6
from harness.interface.encoding import u64_le

# The v6 files, by their names below the prefix.
PREFIX = v6.FILE_PREFIX
FILES = tuple(f.name.removeprefix(PREFIX) for f in v6.FILES)
READ_IO_BYTES = 8  # what read-io-<file> reads of a file at most


def device_files(directory: Iterable[FwCfgEntry]) -> dict[str, FwCfgEntry]:
    """The device's files by short name (``cap``, ...); all five must be there."""
    found = {f.name[len(PREFIX) :]: f for f in directory if f.name.startswith(PREFIX)}
    absent = [name for name in FILES if name not in found]
    if absent:
        raise ProbeError(f"the fw_cfg directory has no {', '.join(PREFIX + n for n in absent)}")
    return {name: found[name] for name in FILES}


def seeds(files: dict[str, FwCfgEntry]) -> dict[str, bytes]:
    """Named seed inputs: reads and writes of every file, accepted and rejected values,
    complete updates that the reset at the end of each run applies."""
    cap, size, addr = files["cap"], files["bios-size"], files["bios-addr"]
    disable, opaque = files["disable"], files["opaque"]
    out: dict[str, list[bytes]] = {"dir-io": directory_io()}
    for name, file in files.items():
        out[f"read-io-{name}"] = read_io(file, min(file.size, READ_IO_BYTES))
        out[f"read-dma-{name}"] = dma_read(file)
    out["write-cap"] = dma_write(cap, u64_le(0))
    for value in (0x10000, 0x40000, 0x12345, 0, 0x1000000):
        out[f"write-bios-size-{value:#x}"] = dma_write(size, u64_le(value))
    for value in (IMAGE_ADDR, 0, 0xFFFC0000, 0x7FF8000, 0xFFFFFFFFFFFFF000):
        out[f"write-bios-addr-{value:#x}"] = dma_write(addr, u64_le(value))
    out["write-bios-addr-short"] = dma_write(addr, u64_le(IMAGE_ADDR)[:4])
    out["write-bios-addr-from-pci-hole"] = dma_write(addr, u64_le(IMAGE_ADDR), OUTSIDE_RAM)
    out["write-disable"] = dma_write(disable, b"\x01")
    # a 16-byte pattern that generic-fuzz repeats over the whole page, byte 0 counting up
    control = selecting(opaque, DMA_WRITE)
    out["write-opaque"] = dma(control, opaque.size, DATA_ADDR, bytes(range(1, 17)), stride=1)
    out["write-opaque-after-skip"] = dma_skip(opaque, opaque.size // 2) + dma_write_on(bytes(16))
    out["write-data-port"] = write_data_port(addr)
    for value in (0x10000, 0x40000):
        update = dma_write(size, u64_le(value)) + dma_write(addr, u64_le(IMAGE_ADDR))
        out[f"update-{value:#x}"] = update
    out["update-then-disable"] = out["update-0x10000"] + dma_write(disable, b"\x01")
    out["disable-then-update"] = dma_write(disable, b"\x01") + out["update-0x10000"]
    out["update-then-cancel"] = out["update-0x10000"] + dma_write(addr, u64_le(0))
    return {name: join(commands) for name, commands in out.items()}
