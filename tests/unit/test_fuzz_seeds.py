"""Seeds for the vmfwupdate fuzz targets: fw_cfg directory parsing and the DMA encoding."""

from __future__ import annotations

import struct

import pytest

from harness.fuzz import generic_fuzz_input as gfi
from harness.fuzz import seeds as fs
from harness.interface.v6 import OPAQUE, OPAQUE_SIZE

# The low half of the DMA descriptor address is at offset 4 of the fwcfg.dma region.
DESC_LOW_OFFSET = 4
# Selector of etc/vmfwupdate/opaque in the test's directory (files() below).
OPAQUE_SELECTOR = 0x26
# generic-fuzz's -max_len in `vmfwupdate fuzz`.
FUZZ_MAX_LEN = 4096

SIZES = {"cap": 8, "bios-size": 8, "bios-addr": 8, "disable": 1, "opaque": 4096}


def directory(entries: list[tuple[str, int, int]]) -> bytes:
    out = struct.pack(">I", len(entries))
    for name, size, select in entries:
        out += struct.pack(">IHH56s", size, select, 0, name.encode())
    return out


def layout() -> list[tuple[str, int, int]]:
    entries = [("etc/acpi/tables", 0x20000, 0x20), ("bootorder", 0, 0x21)]
    for number, (name, size) in enumerate(SIZES.items()):
        entries.append((fs.PREFIX + name, size, 0x22 + number))
    return entries


def files() -> dict[str, fs.FwCfgEntry]:
    return fs.device_files(fs.parse_directory(directory(layout())))


def test_directory_is_big_endian_entries() -> None:
    parsed = fs.parse_directory(directory(layout()) + bytes(100))
    assert parsed[0] == fs.FwCfgEntry("etc/acpi/tables", 0x20000, 0x20)
    assert files()["opaque"] == fs.FwCfgEntry(OPAQUE, 4096, 0x26)


def test_truncated_or_missing_directory_is_an_error() -> None:
    with pytest.raises(fs.ProbeError, match="needs more"):
        fs.parse_directory(directory(layout())[:-10])
    with pytest.raises(fs.ProbeError, match=OPAQUE):
        fs.device_files(fs.parse_directory(directory(layout()[:-1])))
    with pytest.raises(fs.ProbeError, match="too short"):
        fs.parse_directory(b"")


def test_directory_qtest_selects_the_directory_and_reads_the_data_port() -> None:
    lines = fs.directory_qtest().splitlines()
    assert lines[0] == "outw 0x510 0x19"
    assert set(lines[1:]) == {"inb 0x511"}
    assert len(lines) - 1 == 4 + fs.MAX_FILES * 64


def test_reply_bytes_takes_the_values_of_the_replies() -> None:
    assert fs.reply_bytes("OK\nOK 0x0012\nOK 0x0034\n") == b"\x12\x34"


def test_directory_round_trip_through_qtest_replies() -> None:
    data = directory(layout())
    replies = "OK\n" + "".join(f"OK 0x{b:04x}\n" for b in data)
    assert fs.device_files(fs.parse_directory(fs.reply_bytes(replies))) == files()


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
            if region != fs.REGION_DMA or size != gfi.PioSize.LONG:
                continue
            device_sees = int.from_bytes(value.to_bytes(4, "little"), "big")
            if offset == 0:
                high = device_sees
                continue
            assert offset == DESC_LOW_OFFSET and (high << 32 | device_sees) == fs.DESC_ADDR
            control, length, address = struct.unpack(">IIQ", patterns[0])
            payload = None
            if control & fs.DMA_WRITE:
                payload = (patterns[1] * length)[:length]
            found.append((control, length, address, payload))
    return found


def test_dma_write_seed_is_one_select_write_of_the_value() -> None:
    seeds = fs.seeds(files())
    [(control, length, address, payload)] = transfers(seeds["write-bios-addr-0x100000"])
    assert control == (0x24 << 16) | fs.DMA_SELECT | fs.DMA_WRITE
    assert (length, address) == (8, fs.DATA_ADDR)
    assert payload == struct.pack("<Q", fs.IMAGE_ADDR)


def test_update_seed_writes_bios_size_then_bios_addr() -> None:
    steps = transfers(fs.seeds(files())["update-0x10000"])
    assert [(c >> 16, p) for c, _, _, p in steps] == [
        (0x23, struct.pack("<Q", 0x10000)),
        (0x24, struct.pack("<Q", fs.IMAGE_ADDR)),
    ]


def test_opaque_seed_fills_the_whole_page() -> None:
    [(control, length, _, payload)] = transfers(fs.seeds(files())["write-opaque"])
    assert control >> 16 == OPAQUE_SELECTOR and length == OPAQUE_SIZE and payload is not None
    assert len(payload) == OPAQUE_SIZE


def test_every_file_is_read_and_every_seed_is_valid_input() -> None:
    seeds = fs.seeds(files())
    for name in fs.FILES:
        [(control, length, _, payload)] = transfers(seeds[f"read-dma-{name}"])
        assert control & fs.DMA_READ and payload is None and length == SIZES[name]
    for data in seeds.values():
        assert gfi.join(gfi.split(data)) == data
        assert len(data) <= FUZZ_MAX_LEN
