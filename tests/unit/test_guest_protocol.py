"""The agent protocol's one declaration reaches the C agent unchanged."""

from __future__ import annotations

import re

from harness.build.agent_image import AGENT_DIR, C_SOURCES, GENERATED_HEADER
from harness.guest import protocol
from harness.guest.agent_client import parse_banner
from harness.tree.series_header import c_defines


def test_generated_header_carries_the_python_values() -> None:
    defines = c_defines(protocol.c_header())
    assert defines["AGENT_LINE_MAX"] == protocol.MAX_LINE
    assert defines["AGENT_CHUNK"] == protocol.MAX_WRITE_BYTES
    assert defines["AGENT_MEM_END"] == protocol.MEMORY_END
    assert defines["AGENT_READ_MAX"] == protocol.READ_MAX
    assert defines["AGENT_MREAD_MAX"] == protocol.MREAD_MAX
    assert defines["AGENT_BANNER_MAGIC"] == protocol.BANNER_MAGIC
    for method in protocol.GUEST_RESET_METHODS:
        assert defines[f"AGENT_RESET_{method.upper()}"] == method
    assert defines["AGENT_PORT_MAX"] == protocol.PORT_MAX
    for size, word in protocol.PORT_WIDTHS.items():
        assert defines[f"AGENT_PORT_WIDTH_{size}"] == word
    for name, usage in protocol.COMMANDS.items():
        assert defines[f"AGENT_USAGE_{name.upper()}"] == usage


def test_agent_sources_define_no_limit_of_their_own() -> None:
    generated = set(c_defines(protocol.c_header()))
    for name in C_SOURCES:
        text = (AGENT_DIR / name).read_text()
        own = {m for m in re.findall(r"#\s*define\s+(\w+)", text) if m in generated}
        assert not own, f"{name} redefines {own}: they come from {GENERATED_HEADER}"
    assert f'#include "{GENERATED_HEADER}"' in (AGENT_DIR / "main.c").read_text()


def test_banner_line_parses_back() -> None:
    line = protocol.banner_line("stage1", 0xFFFC0000, 0x40000, 0x1234ABCD)
    banner = parse_banner(line)
    assert (banner.identity, banner.rom_base, banner.rom_size, banner.crc32) == (
        "stage1",
        0xFFFC0000,
        0x40000,
        0x1234ABCD,
    )
