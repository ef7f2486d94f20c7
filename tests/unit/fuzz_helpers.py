"""What the fuzz seed tests share: a synthetic fw_cfg directory, and a decoder of the fw_cfg
DMA transfers a generic-fuzz input starts (modelled on generic-fuzz and fw_cfg)."""

from __future__ import annotations

import struct

from harness.fuzz import fw_cfg_input as fi
from harness.fuzz import generic_fuzz_input as gfi

# The low half of the DMA descriptor address is at offset 4 of the fwcfg.dma region.
DESC_LOW_OFFSET = 4
# generic-fuzz's -max_len in `vmfwupdate fuzz`.
FUZZ_MAX_LEN = 4096
# Files of a machine that are not the device's.
OTHER_FILES = [("etc/acpi/tables", 0x20000, 0x20), ("bootorder", 0, 0x21)]


def directory(entries: list[tuple[str, int, int]]) -> bytes:
    """An fw_cfg file directory of (name, size, select) entries, as the device lays it out."""
    out = struct.pack(">I", len(entries))
    for name, size, select in entries:
        out += struct.pack(">IHH56s", size, select, 0, name.encode())
    return out


def transfers(data: bytes) -> list[tuple[int, int, int, bytes | None]]:
    """The fw_cfg DMA transfers an input starts, modelled on generic-fuzz and fw_cfg:
    patterns fill the descriptor and then the data read; the low-half write starts it."""
    patterns: list[bytes] = []
    high = 0
    found = []
    for command in gfi.split(data):
        op = command[0] % 10
        if op == gfi.Op.CLEAR_DMA_PATTERNS:
            patterns = []
        elif op == gfi.Op.ADD_DMA_PATTERN:
            patterns.append(command[3:])
        elif op == gfi.Op.OUT:
            size, region, offset, value = struct.unpack("<BBHI", command[1:9])
            if region != fi.REGION_DMA or size != gfi.PioSize.LONG:
                continue
            device_sees = int.from_bytes(value.to_bytes(4, "little"), "big")
            if offset == 0:
                high = device_sees
                continue
            assert offset == DESC_LOW_OFFSET and (high << 32 | device_sees) == fi.DESC_ADDR
            control, length, address = struct.unpack(">IIQ", patterns[0])
            payload = None
            if control & fi.DMA_WRITE:
                payload = (patterns[1] * length)[:length]
            found.append((control, length, address, payload))
    return found


def is_valid_input(data: bytes) -> bool:
    """Whether generic-fuzz reads `data` as the commands it was joined from, within -max_len."""
    return gfi.join(gfi.split(data)) == data and len(data) <= FUZZ_MAX_LEN
