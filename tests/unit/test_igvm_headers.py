"""IGVM variable headers read and written again (harness/interface/igvm_headers.py): a file
packs back to its own bytes, an added directive moves the file data and every file offset
with it, edits keep the checksum libigvm checks; igvm-wrap's own output where it is
installed."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest
from igvm_synthetic import PAGE, igvm

from harness.build import igvm as igvm_build
from harness.build.igvm_images import inspect, wrap
from harness.interface import igvm_headers as ih
from harness.interface.igvm_file import FIXED_HEADER_SIZE, FixedHeader
from harness.workdir import find_repo_root

SEABIOS = Path("/usr/share/seabios/bios-256k.bin")


def checksum_of(raw: bytes) -> int:
    """The CRC32 libigvm checks: the fixed header with a zero checksum, the variable headers."""
    fixed = FixedHeader.unpack(raw)
    unsummed = raw[: FIXED_HEADER_SIZE - 4] + bytes(4) + raw[FIXED_HEADER_SIZE:]
    return zlib.crc32(unsummed[: fixed.variable_header_offset + fixed.variable_header_size])


def page_bytes(raw: bytes) -> dict[int, bytes]:
    """The data of each page, by its gpa, as the file's page headers point at it."""
    parsed = ih.IgvmFile.parse(raw)
    found = {}
    for index in parsed.of_type(ih.VHT_PAGE_DATA):
        gpa, _, offset, *_ = ih.page_data(parsed.headers[index])
        found[gpa] = raw[offset : offset + PAGE]
    return found


def test_a_file_packs_to_its_own_bytes() -> None:
    raw = igvm(3)
    parsed = ih.IgvmFile.parse(raw)
    assert [h.type for h in parsed.headers] == [ih.VHT_SUPPORTED_PLATFORM, *[ih.VHT_PAGE_DATA] * 3]
    assert parsed.pack() == raw
    assert FixedHeader.unpack(raw).checksum == checksum_of(raw)
    assert FixedHeader.unpack(raw).total_file_size == len(raw)


def test_an_added_directive_moves_the_data_and_the_offsets() -> None:
    raw = igvm(3)
    grown = ih.IgvmFile.parse(raw).appended(ih.required_memory(0x500000, 0x10000)).pack()
    header = FixedHeader.unpack(grown)
    added = ih.HEADER.size + ih.REQUIRED_MEMORY.size
    assert header.variable_header_size == FixedHeader.unpack(raw).variable_header_size + added
    assert (header.total_file_size, len(grown)) == (len(raw) + added, len(raw) + added)
    assert header.checksum == checksum_of(grown)
    assert page_bytes(grown) == page_bytes(raw)
    assert ih.IgvmFile.parse(grown).headers[-1] == ih.required_memory(0x500000, 0x10000)


def test_a_changed_page_header_keeps_a_valid_checksum() -> None:
    parsed = ih.IgvmFile.parse(igvm(2))
    first = parsed.of_type(ih.VHT_PAGE_DATA)[0]
    changed = ih.with_page_data(parsed.headers[first], gpa=0x100000, data_type=1)
    raw = parsed.with_header(first, changed).pack()
    assert ih.page_data(ih.IgvmFile.parse(raw).headers[first])[0::4] == (0x100000, 1)
    assert FixedHeader.unpack(raw).checksum == checksum_of(raw)


INSTALLED = igvm_build.Layout.for_repo(find_repo_root())


@pytest.mark.skipif(
    not os.access(INSTALLED.tool("igvm-wrap"), os.X_OK) or not SEABIOS.is_file(),
    reason="igvm-wrap not installed (`make setup`) or Debian's seabios missing",
)
def test_igvm_wrap_output_round_trips_and_igvm_inspect_reads_edits(tmp_path: Path) -> None:
    made = wrap(SEABIOS, tmp_path, layout=INSTALLED)
    raw = made.read_bytes()
    assert ih.IgvmFile.parse(raw).pack() == raw
    edited = tmp_path / "edited.igvm"
    edited.write_bytes(
        ih.IgvmFile.parse(raw).appended(ih.required_memory(0x500000, 0x10000)).pack()
    )
    inspection = inspect(edited, layout=INSTALLED)
    assert inspection.native_pages() == inspect(made, layout=INSTALLED).native_pages()
    assert any(line.startswith("RequiredMemory: gpa 0x500000") for line in inspection.other)
