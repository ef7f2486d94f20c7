"""bad input from inside the guest: every rejection rule of the v6 files.

Each case lists its writes and, for each, whether the device accepts it. The
test applies the accepted ones to the state it expects, and after every
write QEMU is alive and the files read back that state. QEMU logged (and
traced) every rejection, naming the device, and a reset boots the old
firmware (nothing valid was armed).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import (
    STAGE2,
    STAGE2_BLOB,
    assert_alive,
    assert_staged,
    enable_device_traces,
    guest_ram,
    reset,
)
from v6_checks import rejection_lines
from vms import STAGE1, Booter

from harness.guest.protocol import DMA_ERROR, LOAD_ADDR
from harness.interface.encoding import U64_BYTES, U64_MAX, u64_le
from harness.interface.v6 import (
    BIOS_ADDR,
    BIOS_SIZE,
    CAP,
    CAP_BIOS_RESIZE,
    DISABLE,
    GRANULE,
    REGION_TOP,
)
from harness.interface.v6_device import V6Device
from harness.platform import KIB, MIB, VGA_HOLE

REGION = 256 * KIB
PAGE = 4 * KIB
IOAPIC = 0xFEC00000
HPET = 0xFED00000
ONE_TIB = 1 << 40
ACCEPT, REJECT = True, False
# A state the guest reads back: the four numeric files.
State = dict[str, int]


def initial_state() -> State:
    return {CAP: CAP_BIOS_RESIZE, BIOS_SIZE: REGION, BIOS_ADDR: 0, DISABLE: 0}


def cases(ram_end: int) -> dict[str, list[tuple[str, int, bool]]]:
    """Each case: (file, value, accepted?) per write; `ram_end` is where low RAM ends."""
    return {
        "cap-read-only": [(CAP, 0, REJECT), (CAP, U64_MAX, REJECT)],
        "size-zero": [(BIOS_SIZE, 0, REJECT)],
        "size-not-64k-multiple": [(BIOS_SIZE, GRANULE + 1, REJECT), (BIOS_SIZE, 0x8000, REJECT)],
        "size-larger-than-region": [
            (BIOS_SIZE, REGION + GRANULE, REJECT),
            (BIOS_SIZE, U64_MAX, REJECT),
        ],
        "addr-past-end-of-ram": [(BIOS_ADDR, ram_end - REGION + PAGE, REJECT)],
        "addr-unassigned": [(BIOS_ADDR, ram_end + 16 * MIB, REJECT)],
        "addr-mmio": [(BIOS_ADDR, IOAPIC, REJECT), (BIOS_ADDR, HPET, REJECT)],
        "addr-rom": [(BIOS_ADDR, REGION_TOP - REGION, REJECT)],
        "addr-vga-hole": [(BIOS_ADDR, VGA_HOLE - GRANULE, REJECT)],
        "addr-above-4g": [(BIOS_ADDR, REGION_TOP, REJECT), (BIOS_ADDR, ONE_TIB, REJECT)],
        "addr-wraps": [
            (BIOS_ADDR, U64_MAX - (PAGE - 1), REJECT),
            (BIOS_ADDR, U64_MAX - REGION + 1, REJECT),
        ],
        "disabled-latch": [
            (DISABLE, 1, ACCEPT),
            (DISABLE, 0, REJECT),
            (BIOS_ADDR, LOAD_ADDR, REJECT),
            (BIOS_SIZE, GRANULE, REJECT),
        ],
    }


CASE_NAMES = list(cases(0))
QUICK = {"size-not-64k-multiple", "addr-past-end-of-ram", "addr-mmio", "addr-wraps"}


def accepted_state(state: State, name: str, value: int) -> State:
    """`state` after an accepted write of `value` to `name` (any disable value latches 1)."""
    return {**state, name: 1 if name == DISABLE else value}


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.core) if c in QUICK else c for c in CASE_NAMES]
)
def test_rejected_write(boot: Booter, case: str) -> None:
    stage2 = boot.image(REGION, STAGE2)
    b = boot(size=REGION, blobs={STAGE2_BLOB: stage2})
    v6 = V6Device(b.agent)
    enable_device_traces(b.vm)
    # A valid image sits in RAM, so a wrongly accepted address would still be visible.
    b.agent.load(STAGE2_BLOB, LOAD_ADDR)
    want = initial_state()
    assert v6.files() == want
    writes = cases(guest_ram(b.vm).end_of_low_ram())[case]
    for name, value, accepted in writes:
        v6.write(name, value)
        if accepted:
            want = accepted_state(want, name, value)
        assert v6.files() == want, f"after writing {value:#x} to {name}"
        assert_alive(b.vm)
    rejected = sum(not accepted for _, _, accepted in writes)
    # Each rejection is logged (LOG_GUEST_ERROR) and traced: two lines at least.
    logged = rejection_lines(b.vm.stderr_text())
    assert len(logged) >= 2 * rejected, (
        f"{rejected} rejected writes but {len(logged)} log/trace lines: {logged}"
    )
    assert reset(b.vm, "cf9").banner.identity == STAGE1, "old firmware did not boot"
    # The reset clears the latch and anything armed.
    assert v6.files() == initial_state()


@pytest.mark.core
def test_resize_that_breaks_pending_addr(boot: Booter) -> None:
    stage2 = boot.image(GRANULE, "tiny2")
    b = boot(size=REGION, blobs={STAGE2_BLOB: stage2})
    v6 = V6Device(b.agent)
    addr = guest_ram(b.vm).end_of_low_ram() - GRANULE  # the last 64 KiB of RAM
    assert_staged(v6, b.agent, STAGE2_BLOB, stage2, addr=addr)
    armed = {**initial_state(), BIOS_SIZE: GRANULE, BIOS_ADDR: addr}
    assert v6.files() == armed
    # Two granules at that address run past the end of RAM: rejected.
    v6.write(BIOS_SIZE, 2 * GRANULE)
    assert v6.files() == armed, "a bios-size that runs past RAM was accepted"
    assert_alive(b.vm)
    # What is armed is what was accepted: the 64 KiB image applies.
    assert reset(b.vm, "kbd").banner.identity == "tiny2"
    assert v6.files() == {**initial_state(), BIOS_SIZE: GRANULE}


@pytest.mark.core
def test_partial_and_oversized_writes(boot: Booter) -> None:
    b = boot(size=REGION)
    v6 = V6Device(b.agent)
    # One byte into bios-size: 0x40001 is not a 64 KiB multiple, however it is read.
    reply = b.agent.command(f"writeb {BIOS_SIZE} 0x1")
    assert reply.ok or reply.text.startswith(DMA_ERROR), reply
    assert v6.files() == initial_state(), "a one-byte bios-size write changed the state"
    # Sixteen bytes into the 8-byte bios-addr file: the first 8 are a valid address.
    oversized = u64_le(LOAD_ADDR) + bytes([0xFF]) * U64_BYTES
    reply = b.agent.command(f"write {BIOS_ADDR} {oversized.hex()}")
    assert reply.ok or reply.text.startswith(DMA_ERROR), reply
    assert b.agent.readq(BIOS_ADDR) in (0, LOAD_ADDR)
    assert_alive(b.vm)
    v6.write(BIOS_ADDR, 0)
    assert reset(b.vm, "triple").banner.identity == STAGE1


LOADER_ADDR = 2 * LOAD_ADDR  # in RAM, well above LOAD_ADDR + REGION


@pytest.mark.core
def test_range_over_loader_blob(boot: Booter, tmp_path: Path) -> None:
    """-device loader writes its blob back at every reset: a range over it is rejected."""
    blob = tmp_path / "loader.bin"
    blob.write_bytes(bytes(range(256)) * (GRANULE // 256))
    b = boot(
        size=REGION,
        extra_args=("-device", f"loader,file={blob},addr={LOADER_ADDR:#x},force-raw=on"),
    )
    v6 = V6Device(b.agent)
    enable_device_traces(b.vm)
    # Ranges that start at the blob, end in it, or start in it.
    for addr in (LOADER_ADDR, LOADER_ADDR - REGION + 1, LOADER_ADDR + GRANULE - 1):
        v6.write(BIOS_ADDR, addr)
        assert b.agent.readq(BIOS_ADDR) == 0, f"range at {addr:#x} over the loader blob accepted"
    logged = rejection_lines(b.vm.stderr_text())
    assert any("loader" in line for line in logged), logged
    # Right before and right after the blob are plain RAM.
    for addr in (LOADER_ADDR - REGION, LOADER_ADDR + GRANULE):
        v6.write(BIOS_ADDR, addr)
        assert b.agent.readq(BIOS_ADDR) == addr, f"range at {addr:#x} next to the blob rejected"
    v6.write(BIOS_ADDR, 0)
    assert_alive(b.vm)
