"""bad input from inside the guest: every rejection rule of the interface.

After each rejected write QEMU is alive, the values read back are the ones
the model of the rules accepted, QEMU logged a guest error naming the
device, and a reset boots the old firmware (nothing valid was armed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from vmfw_flows import KIB, LOAD_ADDR, Boot, assert_alive, device_model, reset, stage_update

from harness.guest.agent_client import AgentClient, AgentError
from harness.interface.encoding import U64_MAX, u64_le
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, CAP, DISABLE, GRANULE
from harness.interface.v6 import REGION_TOP as FOUR_GIB
from harness.interface.v6_rules import DeviceModel
from harness.machine.vm import VM

REGION = 256 * KIB
STAGE2 = "opt/vmfwtest/stage2"

Writes = Callable[[int], list[tuple[str, int]]]  # RAM end -> writes

CASES: dict[str, Writes] = {
    "cap-read-only": lambda _: [(CAP, 0), (CAP, U64_MAX)],
    "size-zero": lambda _: [(BIOS_SIZE, 0)],
    "size-not-64k-multiple": lambda _: [(BIOS_SIZE, GRANULE + 1), (BIOS_SIZE, 0x8000)],
    "size-larger-than-region": lambda _: [(BIOS_SIZE, REGION + GRANULE), (BIOS_SIZE, U64_MAX)],
    "addr-past-end-of-ram": lambda end: [(BIOS_ADDR, end - REGION + 0x1000)],
    "addr-unassigned": lambda end: [(BIOS_ADDR, end + 0x1000000)],
    "addr-mmio": lambda _: [(BIOS_ADDR, 0xFEC00000), (BIOS_ADDR, 0xFED00000)],
    "addr-rom": lambda _: [(BIOS_ADDR, FOUR_GIB - REGION)],
    "addr-vga-hole": lambda _: [(BIOS_ADDR, 0xA0000 - GRANULE)],
    "addr-above-4g": lambda _: [(BIOS_ADDR, FOUR_GIB), (BIOS_ADDR, 1 << 40)],
    "addr-wraps": lambda _: [(BIOS_ADDR, U64_MAX - 0xFFF), (BIOS_ADDR, U64_MAX - REGION + 1)],
    "disabled-latch": lambda _: [
        (DISABLE, 1),
        (DISABLE, 0),
        (BIOS_ADDR, LOAD_ADDR),
        (BIOS_SIZE, GRANULE),
    ],
}
QUICK = {"size-not-64k-multiple", "addr-past-end-of-ram", "addr-mmio", "addr-wraps"}


def write_value(a: AgentClient, name: str, value: int) -> None:
    """Write from the guest; a DMA error is a valid way to reject."""
    try:
        if name == DISABLE:
            a.writeb(name, value)
        else:
            a.writeq(name, value)
    except AgentError as exc:
        assert exc.reason == "dma-error", exc


def enable_traces(vm: VM) -> None:
    vm.qmp.cmd("trace-event-set-state", {"name": "vmfwupdate*", "enable": True})


def rejection_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "vmfwupdate" in ln and "reject" in ln.lower()]


def check_state(a: AgentClient, model: DeviceModel, after: str) -> None:
    got = {
        CAP: a.readq(CAP),
        BIOS_SIZE: a.readq(BIOS_SIZE),
        BIOS_ADDR: a.readq(BIOS_ADDR),
        DISABLE: a.read(DISABLE)[0],
    }
    want = {name: model.value(name) for name in got}
    assert got == want, f"after {after}: read back {got}, the rules give {want}"


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.core) if c in QUICK else c for c in CASES]
)
def test_rejected_write(boot: Boot, case: str) -> None:
    stage2 = boot.image(REGION, "stage2")
    b = boot(size=REGION, blobs={STAGE2: stage2})
    a = b.agent
    model = device_model(b.vm, REGION)
    enable_traces(b.vm)
    # A valid image sits in RAM, so a wrongly accepted address would still be visible.
    a.load(STAGE2, LOAD_ADDR)
    rejected = 0
    for name, value in CASES[case](model.ram.end_of_low_ram()):
        accepted = model.write(name, value)
        rejected += not accepted
        write_value(a, name, value)
        check_state(a, model, f"writing {value:#x} to {name}")
        assert_alive(b.vm)
    assert rejected, f"case {case} has no write the rules reject"
    # Each rejection is logged (LOG_GUEST_ERROR) and traced: two lines at least.
    logged = rejection_lines(b.vm.stderr_text())
    assert len(logged) >= 2 * rejected, (
        f"{rejected} rejected writes but {len(logged)} log/trace lines: {logged}"
    )
    assert reset(b.vm, "cf9").identity == "stage1", "old firmware did not boot"
    model.reset()
    check_state(a, model, "the reset")


@pytest.mark.core
def test_resize_that_breaks_pending_addr(boot: Boot) -> None:
    stage2 = boot.image(GRANULE, "tiny2")
    b = boot(size=REGION, blobs={STAGE2: stage2})
    a = b.agent
    model = device_model(b.vm, REGION)
    addr = model.ram.end_of_low_ram() - GRANULE  # the last 64 KiB of RAM
    assert model.write(BIOS_SIZE, GRANULE)
    assert model.write(BIOS_ADDR, addr)
    stage_update(a, STAGE2, stage2, addr=addr)
    check_state(a, model, "arming at the end of RAM")
    assert not model.write(BIOS_SIZE, 2 * GRANULE)
    write_value(a, BIOS_SIZE, 2 * GRANULE)
    check_state(a, model, "a bios-size that runs past RAM")
    assert_alive(b.vm)
    # What is armed is what was accepted: the 64 KiB image applies.
    assert reset(b.vm, "kbd").identity == "tiny2"
    model.reset()
    check_state(a, model, "the reset")


@pytest.mark.core
def test_partial_and_oversized_writes(boot: Boot) -> None:
    b = boot(size=REGION)
    a = b.agent
    model = device_model(b.vm, REGION)
    # One byte into bios-size: 0x40001 is not a 64 KiB multiple, however it is read.
    try:
        a.writeb(BIOS_SIZE, 1)
    except AgentError as exc:
        assert exc.reason == "dma-error", exc
    check_state(a, model, "a one-byte bios-size write")
    # Sixteen bytes into the 8-byte bios-addr file: the first 8 are a valid address.
    try:
        a.write(BIOS_ADDR, u64_le(LOAD_ADDR) + b"\xff" * 8)
    except AgentError as exc:
        assert exc.reason == "dma-error", exc
    assert a.readq(BIOS_ADDR) in (0, LOAD_ADDR)
    assert_alive(b.vm)
    write_value(a, BIOS_ADDR, 0)
    assert reset(b.vm, "triple").identity == "stage1"


LOADER_ADDR = 0x2000000  # in RAM, well above LOAD_ADDR + REGION


@pytest.mark.core
def test_range_over_loader_blob(boot: Boot, tmp_path: Path) -> None:
    """-device loader writes its blob back at every reset: a range over it is rejected."""
    blob = tmp_path / "loader.bin"
    blob.write_bytes(bytes(range(256)) * (GRANULE // 256))
    b = boot(
        size=REGION,
        extra_args=("-device", f"loader,file={blob},addr={LOADER_ADDR:#x},force-raw=on"),
    )
    a = b.agent
    enable_traces(b.vm)
    # Ranges that start at the blob, end in it, or start in it.
    for addr in (LOADER_ADDR, LOADER_ADDR - REGION + 1, LOADER_ADDR + GRANULE - 1):
        write_value(a, BIOS_ADDR, addr)
        assert a.readq(BIOS_ADDR) == 0, f"range at {addr:#x} over the loader blob accepted"
    logged = rejection_lines(b.vm.stderr_text())
    assert any("loader" in line for line in logged), logged
    # Right before and right after the blob are plain RAM.
    for addr in (LOADER_ADDR - REGION, LOADER_ADDR + GRANULE):
        write_value(a, BIOS_ADDR, addr)
        assert a.readq(BIOS_ADDR) == addr, f"range at {addr:#x} next to the blob rejected"
    write_value(a, BIOS_ADDR, 0)
    assert_alive(b.vm)
