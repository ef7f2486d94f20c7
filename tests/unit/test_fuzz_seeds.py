"""The fw_cfg plumbing of the fuzz seeds (directory parsing, the DMA encoding) and the v6
seed set."""

from __future__ import annotations

import struct

import pytest
from fuzz_helpers import OTHER_FILES, directory, is_valid_input, transfers

from harness.fuzz import fw_cfg_input as fi
from harness.fuzz import seeds_v6
from harness.interface.v6 import OPAQUE, OPAQUE_SIZE

# Selector of etc/vmfwupdate/opaque in the test's directory (files() below).
OPAQUE_SELECTOR = 0x26

SIZES = {"cap": 8, "bios-size": 8, "bios-addr": 8, "disable": 1, "opaque": 4096}


def layout() -> list[tuple[str, int, int]]:
    entries = list(OTHER_FILES)
    for number, (name, size) in enumerate(SIZES.items()):
        entries.append((seeds_v6.PREFIX + name, size, 0x22 + number))
    return entries


def files() -> dict[str, fi.FwCfgEntry]:
    return seeds_v6.device_files(fi.parse_directory(directory(layout())))


def test_directory_is_big_endian_entries() -> None:
    parsed = fi.parse_directory(directory(layout()) + bytes(100))
    assert parsed[0] == fi.FwCfgEntry("etc/acpi/tables", 0x20000, 0x20)
    assert files()["opaque"] == fi.FwCfgEntry(OPAQUE, 4096, 0x26)


def test_truncated_or_missing_directory_is_an_error() -> None:
    with pytest.raises(fi.ProbeError, match="needs more"):
        fi.parse_directory(directory(layout())[:-10])
    with pytest.raises(fi.ProbeError, match=OPAQUE):
        seeds_v6.device_files(fi.parse_directory(directory(layout()[:-1])))
    with pytest.raises(fi.ProbeError, match="too short"):
        fi.parse_directory(b"")


def test_directory_qtest_selects_the_directory_and_reads_the_data_port() -> None:
    lines = fi.directory_qtest().splitlines()
    assert lines[0] == "outw 0x510 0x19"
    assert set(lines[1:]) == {"inb 0x511"}
    assert len(lines) - 1 == 4 + fi.MAX_FILES * 64


def test_reply_bytes_takes_the_values_of_the_replies() -> None:
    assert fi.reply_bytes("OK\nOK 0x0012\nOK 0x0034\n") == b"\x12\x34"


def test_directory_round_trip_through_qtest_replies() -> None:
    data = directory(layout())
    replies = "OK\n" + "".join(f"OK 0x{b:04x}\n" for b in data)
    assert seeds_v6.device_files(fi.parse_directory(fi.reply_bytes(replies))) == files()


def test_dma_write_seed_is_one_select_write_of_the_value() -> None:
    seeds = seeds_v6.seeds(files())
    [(control, length, address, payload)] = transfers(seeds["write-bios-addr-0x100000"])
    assert control == (0x24 << 16) | fi.DMA_SELECT | fi.DMA_WRITE
    assert (length, address) == (8, fi.DATA_ADDR)
    assert payload == struct.pack("<Q", fi.IMAGE_ADDR)


def test_update_seed_writes_bios_size_then_bios_addr() -> None:
    steps = transfers(seeds_v6.seeds(files())["update-0x10000"])
    assert [(c >> 16, p) for c, _, _, p in steps] == [
        (0x23, struct.pack("<Q", 0x10000)),
        (0x24, struct.pack("<Q", fi.IMAGE_ADDR)),
    ]


def test_opaque_seed_fills_the_whole_page() -> None:
    [(control, length, _, payload)] = transfers(seeds_v6.seeds(files())["write-opaque"])
    assert control >> 16 == OPAQUE_SELECTOR and length == OPAQUE_SIZE and payload is not None
    assert len(payload) == OPAQUE_SIZE


def test_every_file_is_read_and_every_seed_is_valid_input() -> None:
    seeds = seeds_v6.seeds(files())
    for name in seeds_v6.FILES:
        [(control, length, _, payload)] = transfers(seeds[f"read-dma-{name}"])
        assert control & fi.DMA_READ and payload is None and length == SIZES[name]
    for data in seeds.values():
        assert is_valid_input(data)
