"""Unit tests for harness.build.agent_image: validation, the real build, post-link checks."""

from __future__ import annotations

import platform
import random
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from harness.build.agent_cli import main as agent_cli_main
from harness.build.agent_image import AGENT_DIR, build_agent, build_agent_image
from harness.build.agent_toolchain import Toolchain, find_toolchain
from harness.build.image_checks import (
    JMP_REL16,
    VECTOR_BYTES,
    check_image,
    check_undefined,
    reset_vector_target,
)
from harness.errors import AgentBuildError
from harness.guest.image import AgentImage, validate_identity, validate_size
from harness.guest.protocol import IMAGE_MIN_SIZE
from harness.platform import FIRMWARE_TOP


def _toolchain_or_skip() -> Toolchain:
    try:
        return find_toolchain()
    except AgentBuildError as exc:
        pytest.skip(f"no toolchain to build the agent: {exc}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> AgentImage:
    toolchain = _toolchain_or_skip()
    out = tmp_path_factory.mktemp("agent")
    return build_agent_image(0x10000, "unit-test", out, toolchain=toolchain)


@pytest.mark.parametrize("size", [0x10000, 0x20000, 0x100000, 0x1000000])
def test_validate_size_accepts_64k_steps(size: int) -> None:
    assert validate_size(size) == size


@pytest.mark.parametrize("size", [0, 0xFFFF, 0x18000, 0x1010000, -0x10000, 0x2000000])
def test_validate_size_rejects(size: int) -> None:
    with pytest.raises(AgentBuildError, match="multiple of 64 KiB") as info:
        validate_size(size)
    assert info.value.step == "validate"


@pytest.mark.parametrize("size", [True, "65536", 65536.0])
def test_validate_size_rejects_non_integers(size: object) -> None:
    with pytest.raises(AgentBuildError, match="integer"):
        validate_size(size)  # type: ignore[arg-type]


@pytest.mark.parametrize("identity", ["a", "A.b_c-9", "x" * 32])
def test_validate_identity_accepts(identity: str) -> None:
    assert validate_identity(identity) == identity


@pytest.mark.parametrize("identity", ["", "x" * 33, "a b", "a/b", 'a"b', "a\\b", "é", "a\n"])
def test_validate_identity_rejects(identity: str) -> None:
    with pytest.raises(AgentBuildError, match="identity"):
        validate_identity(identity)


def test_build_produces_exact_size_and_banner_facts(built: AgentImage) -> None:
    data = built.path.read_bytes()
    assert built.path.name == "agent-unit-test-65536.bin"
    assert len(data) == IMAGE_MIN_SIZE
    assert built.crc32 == zlib.crc32(data)
    assert built.rom_base == FIRMWARE_TOP - IMAGE_MIN_SIZE
    assert built.banner() == (
        "VMFWAGENT v1 identity=unit-test rom-base=0xffff0000 rom-size=0x00010000 "
        f"crc32=0x{zlib.crc32(data):08x}"
    )
    assert b"unit-test\0" in data
    # The reset vector is a near jump (e9) into the top 64 KiB of the image.
    assert data[-VECTOR_BYTES] == JMP_REL16


def test_identity_changes_only_the_identity(built: AgentImage, tmp_path: Path) -> None:
    other = build_agent_image(0x10000, "other", built.path.parent)
    assert other.rebuilt
    assert other.path != built.path
    assert other.crc32 != built.crc32
    assert b"other\0" in other.path.read_bytes()


def test_second_build_is_cached(built: AgentImage) -> None:
    again = build_agent_image(built.size, built.identity, built.path.parent)
    assert not again.rebuilt
    assert again.crc32 == built.crc32


def test_source_change_rebuilds(tmp_path: Path) -> None:
    toolchain = _toolchain_or_skip()
    agent_dir = tmp_path / "agent"
    shutil.copytree(AGENT_DIR, agent_dir)
    out = tmp_path / "out"
    first = build_agent_image(0x10000, "a", out, toolchain=toolchain, agent_dir=agent_dir)
    main_c = agent_dir / "main.c"
    main_c.write_text(main_c.read_text().replace('" identity="', '"  identity="'))
    second = build_agent_image(0x10000, "a", out, toolchain=toolchain, agent_dir=agent_dir)
    assert second.rebuilt
    assert second.crc32 != first.crc32
    assert b"VMFWAGENT v1  identity=" in second.path.read_bytes()


@pytest.mark.parametrize("size", [0x20000, 0x100000])
def test_other_sizes_link(built: AgentImage, size: int) -> None:
    path = build_agent(size, "sz", built.path.parent)
    data = path.read_bytes()
    assert len(data) == size
    assert data[-VECTOR_BYTES] == JMP_REL16


# Reads the file whole; CRCs it from byte `skip` in two calls split at byte `split`.
CRC_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "crc32.h"
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb");
  size_t n, skip = strtoul(argv[2], 0, 0), split = strtoul(argv[3], 0, 0);
  unsigned char *buf;
  uint32_t c;
  if (!f || fseek(f, 0, SEEK_END)) return 2;
  n = (size_t)ftell(f);
  rewind(f);
  buf = malloc(n + 1);
  if (!buf || fread(buf, 1, n, f) != n) return 2;
  crc32_init();
  c = crc32_update(0, buf + skip, split - skip);
  c = crc32_update(c, buf + split, n - split);
  printf("%08x\n", (unsigned)c);
  return 0;
}
"""


def _zero_runs() -> bytes:
    """Data with zero runs just below, at and above the length the agent skips at once,
    long runs, and runs that do not start or end on a word."""
    rng = random.Random(27)
    parts = []
    for zeros in (0, 1, 3, 508, 509, 511, 512, 513, 516, 1021, 4096, 65536, 1 << 20, 777):
        parts.append(rng.randbytes(rng.choice((1, 2, 3, 5, 8, 64, 300))))
        parts.append(bytes(zeros))
    parts.append(b"\xff" * 4096)
    return b"".join(parts)


@pytest.mark.parametrize("path", ["x86", "portable"])
def test_agent_crc32_matches_zlib(built: AgentImage, tmp_path: Path, path: str) -> None:
    """The agent's own CRC-32 code, compiled for the host, agrees with zlib: on the image and
    on data with zero runs, from unaligned starts, continued across two calls; both the x86
    zero-word scan (`repe scasl`, what the agent runs) and the portable C loop."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler to run the agent's crc32.c")
    if path == "x86" and platform.machine() not in ("x86_64", "i386", "i686"):
        pytest.skip(f"the x86 scan needs an x86 host, not {platform.machine()}")
    driver = tmp_path / "crc_main.c"
    driver.write_text(CRC_DRIVER)
    obj = tmp_path / "crc32.o"
    # -ffreestanding: GCC's own <stdint.h>, which does not mind the undefined target macros
    portable = ["-ffreestanding", "-U__x86_64__", "-U__i386__"] if path == "portable" else []
    subprocess.run(
        [
            cc,
            "-O2",
            *portable,
            "-I",
            str(AGENT_DIR),
            "-c",
            str(AGENT_DIR / "crc32.c"),
            "-o",
            str(obj),
        ],
        check=True,
    )
    exe = tmp_path / "crc"
    subprocess.run(
        [cc, "-O2", "-I", str(AGENT_DIR), str(driver), str(obj), "-o", str(exe)], check=True
    )
    runs = tmp_path / "runs.bin"
    runs.write_bytes(_zero_runs())
    for file in (built.path, runs):
        data = file.read_bytes()
        # unaligned heads, short tails, a split inside a zero run and one in the data
        for skip, split in ((0, 0), (1, 1), (3, 7), (2, 0x8001), (len(data) - 5, len(data) - 2)):
            out = subprocess.run(
                [str(exe), str(file), str(skip), str(split)],
                capture_output=True,
                text=True,
                check=True,
            )
            assert int(out.stdout, 16) == zlib.crc32(data[skip:]), (file.name, skip, split)


def test_check_image_accepts_built(built: AgentImage) -> None:
    data = built.path.read_bytes()
    entry16 = reset_vector_target(data)
    check_image(data, built.size, entry16)


def test_check_image_rejects_wrong_size(built: AgentImage) -> None:
    data = built.path.read_bytes()
    entry16 = reset_vector_target(data)
    with pytest.raises(AgentBuildError, match="check-size"):
        check_image(data[:-1], built.size, entry16)
    with pytest.raises(AgentBuildError, match="check-size"):
        check_image(data + b"\0" * 0x10000, built.size, entry16)


def test_check_image_rejects_corrupted_reset_vector(built: AgentImage) -> None:
    data = bytearray(built.path.read_bytes())
    entry16 = reset_vector_target(bytes(data))
    not_a_jump = bytearray(data)
    not_a_jump[-16] = 0x90
    with pytest.raises(AgentBuildError, match="not a near jump"):
        check_image(bytes(not_a_jump), built.size, entry16)
    wrong_target = bytearray(data)
    wrong_target[-15] ^= 0x10
    with pytest.raises(AgentBuildError, match="reset vector jumps to"):
        check_image(bytes(wrong_target), built.size, entry16)


def test_check_undefined() -> None:
    check_undefined("")
    with pytest.raises(AgentBuildError, match="__udivdi3"):
        check_undefined("         U __udivdi3\n         U memcpy\n")


def test_cli_reports_invalid_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = agent_cli_main(["--size", "0x1234", "--identity", "a", "--out", str(tmp_path)])
    assert rc == 1
    assert "0x1234" in capsys.readouterr().err


def test_cli_builds(built: AgentImage, capsys: pytest.CaptureFixture[str]) -> None:
    rc = agent_cli_main(
        ["--size", "0x10000", "--identity", "unit-test", "--out", str(built.path.parent)]
    )
    assert rc == 0
    assert f"crc32=0x{built.crc32:08x}" in capsys.readouterr().out


def test_compile_error_names_step_and_file(tmp_path: Path) -> None:
    toolchain = _toolchain_or_skip()
    agent_dir = tmp_path / "agent"
    shutil.copytree(AGENT_DIR, agent_dir)
    (agent_dir / "serial.c").write_text("this is not C;\n")
    with pytest.raises(AgentBuildError) as info:
        build_agent_image(0x10000, "a", tmp_path / "out", toolchain=toolchain, agent_dir=agent_dir)
    assert info.value.step == "compile"
    assert info.value.path == agent_dir / "serial.c"
    assert "serial.c" in (info.value.details or "")
    assert not list((tmp_path / "out").glob("agent-*.bin"))
