"""The libigvm fuzz target's seeds (harness/fuzz/igvm_seeds.py) and how it is built
(harness/build/igvm_fuzz.py, third_party/igvm-fuzz): a small IGVM file made here, its
damaged variants read back field by field; the checksum rule the target repairs by,
checked on a file the pinned igvm-wrap made; the fuzz crate's pins against libigvm's."""

from __future__ import annotations

import os
import re
import struct
import tomllib
import zlib
from pathlib import Path

import pytest

from harness.build import igvm, igvm_fuzz
from harness.build.igvm_images import Wrap, wrap
from harness.fuzz import igvm_seeds
from harness.interface.igvm_file import FIXED_HEADER_SIZE, MAGIC, FixedHeader
from harness.workdir import find_repo_root
from harness.workflows import fuzz_libigvm

REPO = find_repo_root()
V2_HEADER = "<4sIIIIIII"  # IGVM_FIXED_HEADER_V2: ..., checksum, architecture, page size
V2_HEADER_SIZE = struct.calcsize(V2_HEADER)
PLATFORM_ENTRY = struct.pack("<II", 0x1, 16) + struct.pack("<BBHIQ", 1, 1, 0, 1, 0)
PAGE_ENTRY_SIZE = 32
PAGE = 4096
U32 = 1 << 32
V2 = 2  # the format version igvm-wrap writes


def checksum(data: bytes) -> int:
    """IGVM's rule: CRC32 of the fixed header with its checksum 0, then the variable
    headers (the target fills it in by the same rule)."""
    header = FixedHeader.unpack(data)
    fixed = V2_HEADER_SIZE if header.format_version == V2 else FIXED_HEADER_SIZE
    blank = data[:20] + bytes(4) + data[24:fixed]
    start = header.variable_header_offset
    return zlib.crc32(blank + data[start : start + header.variable_header_size])


def small_igvm() -> bytes:
    """A version 2 file: a platform entry, one page of data at the end."""
    offset = V2_HEADER_SIZE
    size = len(PLATFORM_ENTRY) + PAGE_ENTRY_SIZE
    data_at = offset + size
    page = struct.pack("<II", 0x30C, 24) + struct.pack("<QIIII", 0x1000, 1, 0, 0, data_at)
    total = data_at + PAGE
    fixed = struct.pack(V2_HEADER, MAGIC, 2, offset, size, total, 0, 0, PAGE)
    unsigned = fixed + PLATFORM_ENTRY + page + bytes(range(256)) * (PAGE // 256)
    return igvm_seeds.with_checksum(unsigned, checksum(unsigned))


def u32(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<I", data, at)[0])


def test_the_small_file_is_what_it_says() -> None:
    data = small_igvm()
    header = FixedHeader.unpack(data)
    assert header.total_file_size == len(data) == V2_HEADER_SIZE + 16 + 8 + PAGE_ENTRY_SIZE + PAGE
    assert header.checksum == checksum(data) != 0


def test_zero_checksum_changes_only_the_checksum() -> None:
    data = small_igvm()
    zeroed = igvm_seeds.zero_checksum(data)
    assert FixedHeader.unpack(zeroed).checksum == 0
    assert len(zeroed) == len(data)
    assert [i for i, (a, b) in enumerate(zip(data, zeroed, strict=True)) if a != b] == [
        i for i in range(20, 24) if data[i]
    ]


def test_seed_set_has_each_file_twice_and_the_damaged_ones() -> None:
    data = small_igvm()
    seeds = igvm_seeds.seeds({"a": data, "b": data[:]}, damage_from="a")
    assert seeds["a"] == data and seeds["a-zero-checksum"] == igvm_seeds.zero_checksum(data)
    assert {"b", "b-zero-checksum"} <= set(seeds)
    assert {name for name in seeds if name.startswith("damaged-")} == {
        f"damaged-{what}" for what in igvm_seeds.damaged(data)
    }


def test_damaged_variants_field_by_field() -> None:
    data = small_igvm()
    header = FixedHeader.unpack(data)
    damaged = igvm_seeds.damaged(data)
    headers_end = header.variable_header_offset + header.variable_header_size

    only = FixedHeader.unpack(damaged["fixed-header-only"])
    assert len(damaged["fixed-header-only"]) == only.total_file_size == FIXED_HEADER_SIZE

    one_page = damaged["data-one-page"]
    assert len(one_page) == FixedHeader.unpack(one_page).total_file_size == headers_end + PAGE

    short = damaged["data-short"]
    assert len(short) == FixedHeader.unpack(short).total_file_size == headers_end + 1

    cut = FixedHeader.unpack(damaged["headers-cut"])
    assert cut.variable_header_size < header.variable_header_size
    assert damaged["headers-cut"][FIXED_HEADER_SIZE:] == data[FIXED_HEADER_SIZE:]

    wraps = FixedHeader.unpack(damaged["headers-size-wraps"])
    end = wraps.variable_header_offset + wraps.variable_header_size
    assert end >= U32 and end % U32 < len(data)  # past the end, in range once wrapped

    start = header.variable_header_offset
    assert u32(damaged["entry-too-long"], start + 4) > header.variable_header_size
    assert u32(damaged["entry-unknown-type"], start) != u32(data, start)
    assert FixedHeader.unpack(damaged["other-format-version"]).format_version == 1
    assert u32(damaged["architecture-aarch64"], igvm_seeds.ARCHITECTURE_OFFSET) == 1
    assert u32(damaged["page-size-2m"], igvm_seeds.PAGE_SIZE_OFFSET) == 2 << 20

    bad = FixedHeader.unpack(damaged["bad-checksum"])
    assert bad.checksum not in (0, header.checksum)
    others = {name: FixedHeader.unpack(d).checksum for name, d in damaged.items()}
    del others["bad-checksum"]
    assert set(others.values()) == {0}  # the target fills them in


def test_a_version_1_file_has_no_version_2_variants() -> None:
    data = small_igvm()
    v1 = igvm_seeds.damaged(data)["other-format-version"]
    assert FixedHeader.unpack(v1).format_version == 1
    damaged = igvm_seeds.damaged(v1)
    assert "page-size-2m" not in damaged and "architecture-aarch64" not in damaged
    assert FixedHeader.unpack(damaged["other-format-version"]).format_version == V2


@pytest.mark.parametrize(
    ("size_field", "total"),
    [(0, None), (1 << 20, None), (None, FIXED_HEADER_SIZE + 8)],
    ids=["no-headers", "headers-past-end", "no-file-data"],
)
def test_damage_needs_a_file_with_headers_and_data(
    size_field: int | None, total: int | None
) -> None:
    data = small_igvm()
    if size_field is not None:
        data = data[:12] + struct.pack("<I", size_field) + data[16:]
    if total is not None:
        data = data[:total]
    with pytest.raises(ValueError):
        igvm_seeds.damaged(data)


DEFS_SNIPPET = """\
#define IGVM_VHT_OPTIONAL_BIT (1 << 31)
enum IgvmVariableHeaderType {
  IGVM_VHT_SUPPORTED_PLATFORM = 1,
  /* See IGVM_VHT_GUEST_POLICY = 9 in a comment */
  IGVM_VHT_PAGE_DATA = 770,
};
"""


PAGE_AND_PLATFORM = {"IGVM_VHT_SUPPORTED_PLATFORM": 1, "IGVM_VHT_PAGE_DATA": 0x302}


def test_dictionary_has_each_header_type_as_a_little_endian_u32() -> None:
    types = igvm_seeds.header_types(DEFS_SNIPPET)
    assert types == PAGE_AND_PLATFORM
    assert igvm_seeds.dictionary(types).splitlines() == [
        'igvm_vht_supported_platform="\\x01\\x00\\x00\\x00"',
        'igvm_vht_page_data="\\x02\\x03\\x00\\x00"',
    ]


INSTALLED = igvm.Layout.for_repo(REPO)


@pytest.mark.skipif(
    not os.access(INSTALLED.tool("igvm-wrap"), os.X_OK) or not fuzz_libigvm.SEABIOS.is_file(),
    reason="igvm-wrap not installed (`make setup`) or Debian's seabios missing",
)
@pytest.mark.parametrize("kind", list(Wrap), ids=[k.label for k in Wrap])
def test_igvm_wrap_checksums_by_the_rule_the_target_repairs_by(tmp_path: Path, kind: Wrap) -> None:
    data = wrap(fuzz_libigvm.SEABIOS, tmp_path, kind, layout=INSTALLED).read_bytes()
    assert FixedHeader.unpack(data).checksum == checksum(data)
    assert set(igvm_seeds.damaged(data)) >= {"page-size-2m", "headers-size-wraps"}


@pytest.mark.skipif(
    not (INSTALLED.prefix / "include" / "igvm" / "igvm_defs.h").is_file(),
    reason="libigvm's headers not installed (`make setup`)",
)
def test_installed_igvm_defs_names_the_page_data_header_type() -> None:
    text = (INSTALLED.prefix / "include" / "igvm" / "igvm_defs.h").read_text()
    types = igvm_seeds.header_types(text)
    assert {name: types[name] for name in PAGE_AND_PLATFORM} == PAGE_AND_PLATFORM
    assert len(set(types.values())) == len(types)


# --- the fuzz crate: pins and names shared with the Python side ------------------------


def lock_versions(path: Path) -> dict[str, str]:
    return {p["name"]: p["version"] for p in tomllib.loads(path.read_text())["package"]}


def test_fuzz_crate_locks_libigvms_versions() -> None:
    fuzz = lock_versions(REPO / igvm_fuzz.SOURCE / "Cargo.lock")
    libigvm = lock_versions(REPO / igvm.SOURCE / "Cargo.lock")
    shared = set(fuzz) & set(libigvm)
    assert {"igvm", "igvm_defs", "crc32fast", "zerocopy"} <= shared
    assert {name: fuzz[name] for name in shared} == {name: libigvm[name] for name in shared}


def test_fuzz_crate_dependencies_are_exact_versions() -> None:
    manifest = tomllib.loads((REPO / igvm_fuzz.SOURCE / "Cargo.toml").read_text())
    for name, spec in manifest["dependencies"].items():
        version = spec if isinstance(spec, str) else spec["version"]
        assert re.fullmatch(r"=\d+\.\d+\.\d+", version), (name, version)
    assert manifest["bin"][0]["name"] == igvm_fuzz.BINARY
    assert set(igvm_fuzz.PROFILES) <= set(manifest["profile"])


def test_target_reads_the_guard_variable_the_workflow_sets() -> None:
    source = (REPO / igvm_fuzz.SOURCE / "src" / "main.rs").read_text()
    assert f'const GUARD_VARIABLE: &str = "{fuzz_libigvm.GUARD_VARIABLE}";' in source


def test_cargo_builds_the_host_target_locked() -> None:
    triple = igvm_fuzz.host_triple("rustc 1.95.0\nhost: x86_64-unknown-linux-gnu\nLLVM: 20\n")
    cmd = igvm_fuzz.cargo_command(Path("/c/cargo"), triple, igvm_fuzz.CHECKED)
    assert cmd[:3] == ["/c/cargo", "build", "--locked"]
    assert cmd[cmd.index("--target") + 1] == "x86_64-unknown-linux-gnu"
    assert cmd[cmd.index("--profile") + 1] == "checked"
    with pytest.raises(ValueError):
        igvm_fuzz.host_triple("rustc 1.95.0\n")
