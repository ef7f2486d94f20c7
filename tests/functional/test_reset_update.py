"""reset-update: stage 1 arms an update, resets, stage 2 runs (every reset method)."""

from __future__ import annotations

import re

import pytest
from vmfw_flows import (
    KIB,
    LOAD_ADDR,
    MIB,
    RESET_METHODS,
    Boot,
    check_banner,
    nonce,
    reset,
    stage_update,
    write_opaque,
)

from harness.guest.agent_client import AgentClient
from harness.interface.encoding import crc32
from harness.interface.firmware_region import low_alias, region_after_update
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, DISABLE, OPAQUE
from harness.interface.v6 import REGION_TOP as FOUR_GIB
from harness.machine.vm import VM

STAGE2 = "opt/vmfwtest/stage2"
# The chain: A is the -bios image (and so the region), B is smaller, C bigger than B.
REGION_ABC = 512 * KIB


def check_after_update(a: AgentClient, image_size: int, opaque: bytes) -> None:
    """State after a cold reset that applied an update of `image_size` bytes."""
    assert a.read(OPAQUE)[: len(opaque)] == opaque, "opaque lost its content over the reset"
    assert a.readq(BIOS_ADDR) == 0, "bios-addr not cleared by the reset"
    assert a.readq(BIOS_SIZE) == image_size, "bios-size is not the applied image's size"
    assert a.read(DISABLE) == b"\x00"


def xp_bytes(vm: VM, addr: int, count: int) -> bytes:
    """Read guest-physical memory through HMP `xp` (count multiple of 8)."""
    out = vm.qmp.hmp(f"xp /{count // 8}xg {addr:#x}")
    words = [
        w
        for line in out.splitlines()
        for w in re.findall(r"0x([0-9a-f]{16})", line.split(":", 1)[-1])
    ]
    data = b"".join(int(w, 16).to_bytes(8, "little") for w in words)
    assert len(data) == count, f"xp returned {len(data)} bytes, wanted {count}: {out!r}"
    return data


@pytest.mark.core
@pytest.mark.parametrize("method", RESET_METHODS)
def test_update_applied_on_reset(boot: Boot, method: str) -> None:
    stage2 = boot.image(256 * KIB, "stage2")
    b = boot(size=256 * KIB, blobs={STAGE2: stage2})
    b.vm.qmp.cmd("trace-event-set-state", {"name": "vmfwupdate*", "enable": True})
    token = nonce(f"reset-{method}")
    write_opaque(b.agent, token)
    stage_update(b.agent, STAGE2, stage2)
    banner = reset(b.vm, method)
    check_banner(banner, stage2, "stage2")
    check_after_update(b.agent, 256 * KIB, token)
    # The update was traced with its address and size.
    applied = [
        ln
        for ln in b.vm.stderr_text().splitlines()
        if "vmfwupdate" in ln and "appl" in ln and f"{LOAD_ADDR:x}" in ln and "40000" in ln
    ]
    assert applied, "no trace line for the applied update (address and size)"
    # The low alias below 1 MiB shows the new image's last 128 KiB.
    assert b.agent.crc(0x100000 - 128 * KIB, 128 * KIB) == crc32(stage2.read_bytes()[-128 * KIB :])
    # A second reset without arming keeps stage 2.
    assert reset(b.vm, "qmp").identity == "stage2"


@pytest.mark.core
def test_smaller_image_zero_fills_region(boot: Boot) -> None:
    region = 512 * KIB
    stage2 = boot.image(64 * KIB, "small2")
    b = boot(size=region, blobs={STAGE2: stage2})
    token = nonce("small")
    write_opaque(b.agent, token)
    stage_update(b.agent, STAGE2, stage2)
    banner = reset(b.vm, "cf9")
    check_banner(banner, stage2, "small2")
    check_after_update(b.agent, 64 * KIB, token)
    expect = region_after_update(region, stage2.read_bytes())
    base = FOUR_GIB - region
    # From inside the guest: the whole region, the zero fill, the low alias.
    assert b.agent.crc(base, region) == crc32(expect)
    assert b.agent.crc(base, region - 64 * KIB) == crc32(bytes(region - 64 * KIB))
    assert b.agent.mread(FOUR_GIB - 64 * KIB - 64, 64) == bytes(64)
    assert b.agent.crc(0x100000 - 128 * KIB, 128 * KIB) == crc32(low_alias(expect))
    # From the host through the monitor.
    assert xp_bytes(b.vm, base, 64) == bytes(64)
    assert xp_bytes(b.vm, FOUR_GIB - 64 * KIB - 64, 64) == bytes(64)
    assert xp_bytes(b.vm, FOUR_GIB - 64, 64) == stage2.read_bytes()[-64:]
    assert xp_bytes(b.vm, 0x100000 - 128 * KIB, 64) == bytes(64)


@pytest.mark.core
def test_update_chain(boot: Boot) -> None:
    img_b = boot.image(128 * KIB, "chain-b")
    img_c = boot.image(384 * KIB, "chain-c")
    blobs = {"opt/vmfwtest/b": img_b, "opt/vmfwtest/c": img_c}
    b = boot(size=REGION_ABC, identity="chain-a", blobs=blobs)
    n1 = nonce("a-to-b")
    write_opaque(b.agent, n1)
    stage_update(b.agent, "opt/vmfwtest/b", img_b)
    check_banner(reset(b.vm, "kbd"), img_b, "chain-b")
    check_after_update(b.agent, 128 * KIB, n1)
    n2 = nonce("b-to-c")
    write_opaque(b.agent, n2)
    stage_update(b.agent, "opt/vmfwtest/c", img_c, addr=0x2000000)
    check_banner(reset(b.vm, "triple"), img_c, "chain-c")
    check_after_update(b.agent, 384 * KIB, n2)
    expect = region_after_update(REGION_ABC, img_c.read_bytes())
    assert b.agent.crc(FOUR_GIB - REGION_ABC, REGION_ABC) == crc32(expect)
    assert b.agent.crc(0x100000 - 128 * KIB, 128 * KIB) == crc32(low_alias(expect))


@pytest.mark.parametrize("size", [16 * MIB])
def test_large_update(boot: Boot, size: int) -> None:
    stage2 = boot.image(size, "big2")
    b = boot(size=size, blobs={STAGE2: stage2}, memory="512M")
    stage_update(b.agent, STAGE2, stage2, addr=0x4000000)
    check_banner(reset(b.vm, "cf9"), stage2, "big2")
    assert b.agent.readq(BIOS_SIZE) == size
