"""reset-update: stage 1 arms an update, resets, stage 2 runs (every reset method).

After the reset: stage 2's banner, nothing armed, the opaque memory kept,
the region's top holds the image, the zero fill below a smaller image, and
the low alias below 1 MiB shows the region's end.
"""

from __future__ import annotations

import pytest
from checks import (
    STAGE2,
    STAGE2_BLOB,
    assert_runs,
    assert_staged,
    enable_device_traces,
    nonce,
    reset,
    xp_bytes,
)
from vms import STAGE1, Booted, Booter

from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR, RESET_METHODS
from harness.interface.encoding import crc32
from harness.interface.firmware_region import (
    low_alias,
    low_alias_base,
    region_after_update,
    region_base,
)
from harness.platform import KIB, MIB

# The chain: A is the -bios image (and so the region), B is smaller, C bigger than B.
REGION_ABC = 512 * KIB
IMAGE = 256 * KIB
SMALL = 64 * KIB
PROBE = 64  # bytes read at the edges of the region


def assert_state_after_update(b: Booted, image_size: int, opaque: bytes) -> None:
    """After a cold reset that applied an image of `image_size` bytes: nothing armed, the
    firmware in effect has that size (where the ABI reports it), opaque kept, not locked."""
    state = b.device.state()
    assert state.armed is None, f"still armed after the reset: {state}"
    assert state.image_size in (None, image_size), f"size in effect {state.image_size}"
    assert not state.disabled
    assert b.device.read_opaque(len(opaque)) == opaque, "opaque lost its content over the reset"


@pytest.mark.core
@pytest.mark.parametrize("method", RESET_METHODS)
def test_update_applied_on_reset(boot: Booter, method: str) -> None:
    stage2 = boot.image(IMAGE, STAGE2)
    b = boot(size=IMAGE, blobs={STAGE2_BLOB: stage2})
    assert_runs(b.banner, b.image, STAGE1)
    enable_device_traces(b.vm)
    token = nonce(f"reset-{method}")
    b.device.write_opaque(token)
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    outcome = reset(b.vm, method)
    assert outcome.guest is (method != HOST_RESET_METHOD), "RESET event names the wrong side"
    assert_runs(outcome.banner, stage2, STAGE2)
    assert_state_after_update(b, IMAGE, token)
    # The update was traced with its address and size.
    applied = [
        ln
        for ln in b.vm.stderr_text().splitlines()
        if "vmfwupdate" in ln and "appl" in ln and f"{LOAD_ADDR:x}" in ln and f"{IMAGE:x}" in ln
    ]
    assert applied, "no trace line for the applied update (address and size)"
    # The low alias below 1 MiB shows the new image's end.
    abi = b.device.abi
    alias = low_alias(abi, stage2.read_bytes())
    assert b.agent.crc(low_alias_base(abi, IMAGE), len(alias)) == crc32(alias)
    # A second reset without arming keeps stage 2.
    assert reset(b.vm, HOST_RESET_METHOD).banner.identity == STAGE2


@pytest.mark.core
def test_smaller_image_zero_fills_region(boot: Booter) -> None:
    region = 512 * KIB
    stage2 = boot.image(SMALL, "small2")
    b = boot(size=region, blobs={STAGE2_BLOB: stage2})
    assert b.device.capabilities().resize, "the device does not offer smaller images"
    token = nonce("small")
    b.device.write_opaque(token)
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2)
    assert_runs(reset(b.vm, "cf9").banner, stage2, "small2")
    assert_state_after_update(b, SMALL, token)
    abi = b.device.abi
    expect = region_after_update(region, stage2.read_bytes())
    base = region_base(abi, region)
    below_image = region_base(abi, SMALL) - PROBE
    alias_base = low_alias_base(abi, region)
    # From inside the guest: the whole region, the zero fill, the low alias.
    assert b.agent.crc(base, region) == crc32(expect)
    assert b.agent.crc(base, region - SMALL) == crc32(bytes(region - SMALL))
    assert b.agent.mread(below_image, PROBE) == bytes(PROBE)
    alias = low_alias(abi, expect)
    assert b.agent.crc(alias_base, len(alias)) == crc32(alias)
    # From the host through the monitor.
    assert xp_bytes(b.vm, base, PROBE) == bytes(PROBE)
    assert xp_bytes(b.vm, below_image, PROBE) == bytes(PROBE)
    assert xp_bytes(b.vm, abi.region_top - PROBE, PROBE) == stage2.read_bytes()[-PROBE:]
    assert xp_bytes(b.vm, alias_base, PROBE) == bytes(PROBE)


@pytest.mark.core
def test_update_chain(boot: Booter) -> None:
    img_b = boot.image(128 * KIB, "chain-b")
    img_c = boot.image(384 * KIB, "chain-c")
    blobs = {"opt/vmfwtest/b": img_b, "opt/vmfwtest/c": img_c}
    b = boot(size=REGION_ABC, identity="chain-a", blobs=blobs)
    assert_runs(b.banner, b.image, "chain-a")
    n1 = nonce("a-to-b")
    b.device.write_opaque(n1)
    assert_staged(b.device, b.agent, "opt/vmfwtest/b", img_b)
    assert_runs(reset(b.vm, "kbd").banner, img_b, "chain-b")
    assert_state_after_update(b, 128 * KIB, n1)
    n2 = nonce("b-to-c")
    b.device.write_opaque(n2)
    assert_staged(b.device, b.agent, "opt/vmfwtest/c", img_c, addr=2 * LOAD_ADDR)
    assert_runs(reset(b.vm, "triple").banner, img_c, "chain-c")
    assert_state_after_update(b, 384 * KIB, n2)
    abi = b.device.abi
    expect = region_after_update(REGION_ABC, img_c.read_bytes())
    assert b.agent.crc(region_base(abi, REGION_ABC), REGION_ABC) == crc32(expect)
    alias = low_alias(abi, expect)
    assert b.agent.crc(low_alias_base(abi, REGION_ABC), len(alias)) == crc32(alias)


@pytest.mark.parametrize("size", [16 * MIB])
def test_large_update(boot: Booter, size: int) -> None:
    stage2 = boot.image(size, "big2")
    b = boot(size=size, blobs={STAGE2_BLOB: stage2}, memory="512M")
    assert_staged(b.device, b.agent, STAGE2_BLOB, stage2, addr=4 * LOAD_ADDR)
    assert_runs(reset(b.vm, "cf9").banner, stage2, "big2")
    assert b.device.state().image_size in (None, size)
