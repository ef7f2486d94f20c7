"""IGVM files made by the toolkit (harness/build/igvm_images.py): igvm-inspect's output read
back (text captured from the pinned igvm-inspect 0.2.6), and `wrap`'s cache keyed by the
input, the options and the tool's version (a stand-in igvm-wrap; the real one when set-up
installed it); the fixed header the flows damage on purpose (harness/interface/igvm_file.py)."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from harness.build import igvm
from harness.build.igvm_images import (
    PAGE_SIZE,
    InspectError,
    PageRange,
    Platform,
    VpContext,
    Wrap,
    inspect,
    parse_inspect,
    tool_version,
    wrap,
)
from harness.errors import HarnessError
from harness.interface.igvm_file import FIXED_HEADER, FIXED_HEADER_SIZE, MAGIC, FixedHeader
from harness.workdir import find_repo_root

# igvm-inspect of `igvm-wrap -i /usr/share/seabios/bios-256k.bin` (Debian 12's SeaBIOS)
SEABIOS_PLAIN = """\
platform: NATIVE, compat 0x1
PageData: gpa 0xe0000, type NORMAL, flags 4k, compat 0x1 [NATIVE]
PageData: end 0xfffff (31 more pages)
PageData: gpa 0xfffc0000, type NORMAL, flags 4k, compat 0x1 [NATIVE]
PageData: end 0xffffffff (63 more pages)
"""
# ... with --flat32
SEABIOS_FLAT32 = """\
platform: NATIVE, compat 0x1
X64NativeVpContext: pm32, eip 0xfffffff0, compat 0x1 [NATIVE]
PageData: gpa 0xfffc0000, type NORMAL, flags 4k, compat 0x1 [NATIVE]
PageData: end 0xffffffff (63 more pages)
"""
# `igvm-wrap -i /usr/share/ovmf/OVMF.fd --native --snp --inspect` (its "IGVM image" title
# kept): both platforms, SNP-only zero pages, a secrets and a CPUID page, shared pages
OVMF_NATIVE_SNP = """\
IGVM image
platform: NATIVE, compat 0x1
platform: SEV_SNP, compat 0x2
initialization: policy 0x30000, compat 0x2 [SEV_SNP]
SnpVpContext: rm16, cs:ip f000:fff0, compat 0x2 [SEV_SNP]
PageData: gpa 0x800000, type NORMAL, flags 4k, empty, compat 0x2 [SEV_SNP]
PageData: end 0x808fff (8 more pages)
PageData: gpa 0x80a000, type NORMAL, flags 4k, empty, compat 0x2 [SEV_SNP]
PageData: end 0x80cfff (2 more pages)
PageData: gpa 0x80d000, type SECRETS, flags 4k, empty, compat 0x2 [SEV_SNP]
PageData: gpa 0x80e000, type CPUID_DATA, flags 4k, empty, compat 0x2 [SEV_SNP]
PageData: gpa 0x80f000, type NORMAL, flags 4k, empty, compat 0x2 [SEV_SNP]
PageData: end 0x81ffff (16 more pages)
PageData: gpa 0xe0000, type NORMAL, flags 4k, compat 0x3 [NATIVE, SEV_SNP]
PageData: end 0xfffff (31 more pages)
PageData: gpa 0xffe00000, type NORMAL, flags 4k, compat 0x3 [NATIVE, SEV_SNP]
PageData: end 0xffffffff (511 more pages)
"""
SEABIOS = Path("/usr/share/seabios/bios-256k.bin")
FOUR_GIB = 1 << 32
NATIVE_MASK = 0x1
SNP_MASK = 0x2
KIB = 1024


def test_plain_seabios_pages_and_no_vp_context() -> None:
    got = parse_inspect(SEABIOS_PLAIN)
    assert got.platforms == (Platform("NATIVE", 1),)
    assert [(r.gpa, r.count) for r in got.pages] == [(0xE0000, 32), (0xFFFC0000, 64)]
    assert {r.data_type for r in got.pages} == {"NORMAL"}
    assert got.pages[1].end == FOUR_GIB
    assert got.pages[0].size == 128 * KIB
    assert got.native and not got.native_vp_context
    assert got.native_pages() == got.pages
    assert got.other == ()


def test_flat32_has_a_native_vp_context() -> None:
    got = parse_inspect(SEABIOS_FLAT32)
    assert got.vp_contexts == (VpContext("X64NativeVpContext", "pm32, eip 0xfffffff0", 1),)
    assert got.native_vp_context
    assert got.pages == (PageRange(0xFFFC0000, 64, "NORMAL", 1),)


def test_two_platforms_native_pages_only() -> None:
    got = parse_inspect(OVMF_NATIVE_SNP)
    assert got.platforms == (Platform("NATIVE", NATIVE_MASK), Platform("SEV_SNP", SNP_MASK))
    assert got.compat("SEV_SNP") == SNP_MASK
    assert got.compat("TDX") == 0
    # the SNP context is no native one
    assert not got.native_vp_context
    assert [(r.gpa, r.count) for r in got.native_pages()] == [(0xE0000, 32), (0xFFE00000, 512)]
    confidential = [r for r in got.pages if r.data_type != "NORMAL"]
    assert [(r.gpa, r.data_type, r.empty) for r in confidential] == [
        (0x80D000, "SECRETS", True),
        (0x80E000, "CPUID_DATA", True),
    ]
    assert sum(r.count for r in got.pages if r.empty) == 9 + 3 + 1 + 1 + 17
    assert got.other == ("IGVM image", "initialization: policy 0x30000, compat 0x2 [SEV_SNP]")


def test_snp_only_is_not_native() -> None:
    text = OVMF_NATIVE_SNP.replace("platform: NATIVE, compat 0x1\n", "")
    got = parse_inspect(text)
    assert not got.native and got.native_pages() == ()


@pytest.mark.parametrize(
    "text",
    [
        "",  # what igvm-inspect prints for a file it cannot read (the error goes to stderr)
        "PageData: gpa 0x1000, type NORMAL, flags 4k, compat 0x1 [NATIVE]\n",
        "platform: NATIVE, compat 0x1\nPageData: end 0x1fff (1 more pages)\n",
        # an end that does not continue the range before it
        SEABIOS_PLAIN.replace("end 0xfffff (31", "end 0xfffff (30"),
        SEABIOS_PLAIN.replace("flags 4k", "flags 2m", 1),
    ],
    ids=["empty", "no-platform", "end-first", "end-mismatch", "2m-pages"],
)
def test_output_it_does_not_know_is_an_error(text: str) -> None:
    with pytest.raises(InspectError):
        parse_inspect(text)


def test_page_size() -> None:
    assert PAGE_SIZE == 4 * KIB


# --- wrap: the cache -----------------------------------------------------------------

FAKE_WRAP = """#!/bin/sh
# a stand-in igvm-wrap: --version, or "-i IN -o OUT [options]": OUT = options + IN
if [ "$1" = --version ]; then echo "igvm-wrap {version}"; exit 0; fi
in=$2; out=$4; shift 4
echo "$@" > "$out"; cat "$in" >> "$out"
echo run >> "{calls}"
"""


def fake_layout(tmp_path: Path, version: str) -> igvm.Layout:
    layout = igvm.Layout(tmp_path / "repo", tmp_path / "cache")
    tool = layout.tool("igvm-wrap")
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text(FAKE_WRAP.format(version=version, calls=tmp_path / "calls"))
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    tool_version.cache_clear()
    return layout


def calls(tmp_path: Path) -> int:
    path = tmp_path / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_wrap_is_made_once_per_input_options_and_version(tmp_path: Path) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"firmware")
    out = tmp_path / "out"
    layout = fake_layout(tmp_path, "0.2.6")
    plain = wrap(image, out, layout=layout)
    assert plain.read_bytes() == b"\nfirmware"
    assert plain.name.startswith("fw-plain-") and plain.suffix == ".igvm"
    assert wrap(image, out, layout=layout) == plain
    assert calls(tmp_path) == 1
    flat = wrap(image, out, Wrap.FLAT32, layout=layout)
    assert flat != plain and flat.read_bytes() == b"--flat32\nfirmware"
    snp = wrap(image, out, Wrap.SNP_ONLY, layout=layout)
    assert snp.read_bytes().startswith(b"--no-native --snp\n")
    assert calls(tmp_path) == len({plain, flat, snp})
    # new bytes, or another igvm-wrap: a new file
    image.write_bytes(b"firmware v2")
    assert wrap(image, out, layout=layout) not in (plain, flat, snp)
    image.write_bytes(b"firmware")
    newer = wrap(image, out, layout=fake_layout(tmp_path, "0.2.7"))
    assert newer != plain
    made = sorted(out.iterdir())
    assert calls(tmp_path) == len(made)
    # nothing half-written is left beside the files
    assert [p for p in made if p.suffix != ".igvm" or p.name.startswith(".")] == []
    tool_version.cache_clear()


def test_wrap_without_the_tool_says_make_setup(tmp_path: Path) -> None:
    layout = igvm.Layout(tmp_path / "repo", tmp_path / "cache")
    with pytest.raises(HarnessError) as err:
        wrap(SEABIOS, tmp_path / "out", layout=layout)
    assert "make setup" in (err.value.hint or "")


def test_a_failing_wrap_leaves_no_file(tmp_path: Path) -> None:
    layout = fake_layout(tmp_path, "0.2.6")
    tool = layout.tool("igvm-wrap")
    tool.write_text(tool.read_text().replace("echo run", "exit 3"))
    image = tmp_path / "fw.bin"
    image.write_bytes(b"x")
    with pytest.raises(HarnessError):
        wrap(image, tmp_path / "out", layout=layout)
    assert list((tmp_path / "out").iterdir()) == []
    tool_version.cache_clear()


# --- the real tools, where set-up installed them --------------------------------------

INSTALLED = igvm.Layout.for_repo(find_repo_root())


@pytest.mark.skipif(
    not os.access(INSTALLED.tool("igvm-wrap"), os.X_OK) or not SEABIOS.is_file(),
    reason="igvm-wrap not installed (`make setup`) or Debian's seabios missing",
)
def test_real_tools_seabios(tmp_path: Path) -> None:
    plain = inspect(wrap(SEABIOS, tmp_path, layout=INSTALLED), layout=INSTALLED)
    assert [(r.gpa, r.end) for r in plain.native_pages()] == [
        (0xE0000, 0x100000),
        (FOUR_GIB - SEABIOS.stat().st_size, FOUR_GIB),
    ]
    assert not plain.native_vp_context
    flat = inspect(wrap(SEABIOS, tmp_path, Wrap.FLAT32, layout=INSTALLED), layout=INSTALLED)
    assert flat.native_vp_context
    snp = inspect(wrap(SEABIOS, tmp_path, Wrap.SNP_ONLY, layout=INSTALLED), layout=INSTALLED)
    assert not snp.native and snp.compat("SEV_SNP")
    with pytest.raises(HarnessError):
        inspect(SEABIOS, layout=INSTALLED)  # not an IGVM file


# --- the fixed header (harness/interface/igvm_file.py) --------------------------------


# IGVM_FIXED_HEADER: six u32s
SPEC_V1_HEADER_SIZE = 6 * 4


def fixed_header(**fields: int) -> bytes:
    values = {
        "format_version": 2,
        "variable_header_offset": 32,
        "variable_header_size": 3096,
        "total_file_size": 195640,
        "checksum": 0xEDD3_A45B,
        **fields,
    }
    return struct.pack(FIXED_HEADER, MAGIC, *values.values()) + bytes(8)


def test_fixed_header_and_the_checksummed_byte() -> None:
    header = FixedHeader.unpack(fixed_header())
    assert (header.total_file_size, header.checksummed_byte) == (195640, 32)
    assert FIXED_HEADER_SIZE == SPEC_V1_HEADER_SIZE


CHECKSUM = 0x1234_5678
VARIABLE_HEADERS = 0x40


def test_bytes_whose_change_libigvm_refuses() -> None:
    data = fixed_header(checksum=CHECKSUM, variable_header_offset=VARIABLE_HEADERS)
    magic, checksum_field, variable = FixedHeader.unpack(data).refused_if_changed
    assert data[magic : magic + 4] == MAGIC
    assert struct.unpack_from("<I", data, checksum_field)[0] == CHECKSUM
    assert variable == VARIABLE_HEADERS


@pytest.mark.parametrize("data", [b"IGVM", b"MVGI" + fixed_header()[4:]], ids=["short", "magic"])
def test_not_a_fixed_header(data: bytes) -> None:
    with pytest.raises(ValueError):
        FixedHeader.unpack(data)


@pytest.mark.skipif(
    not os.access(INSTALLED.tool("igvm-wrap"), os.X_OK) or not SEABIOS.is_file(),
    reason="igvm-wrap not installed (`make setup`) or Debian's seabios missing",
)
def test_fixed_header_of_a_wrapped_file(tmp_path: Path) -> None:
    data = wrap(SEABIOS, tmp_path, layout=INSTALLED).read_bytes()
    header = FixedHeader.unpack(data)
    assert header.total_file_size == len(data)
    assert FIXED_HEADER_SIZE <= header.checksummed_byte < len(data)
