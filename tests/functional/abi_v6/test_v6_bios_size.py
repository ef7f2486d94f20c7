"""bios-size: initial value = the -bios image size; resize accepted/rejected per the rules."""

from __future__ import annotations

import re

import pytest
from checks import assert_alive, reset
from v6_checks import device_model
from vms import STAGE1, Booter

from harness.interface.encoding import U64_MAX
from harness.interface.v6 import BIOS_SIZE, GRANULE, REGION_TOP, RESIZE_PROPERTY
from harness.interface.v6_device import V6Device
from harness.machine.cmdline import DEVICE
from harness.platform import KIB, MIB


def region_size_in_mtree(mtree: str) -> int:
    """Size of the pc.bios region in `info mtree` output."""
    m = re.search(r"([0-9a-f]{16})-([0-9a-f]{16}) \(prio -?\d+, rom\): pc\.bios", mtree)
    assert m is not None, "no pc.bios ROM region in info mtree"
    return int(m[2], 16) - int(m[1], 16) + 1


@pytest.mark.core
@pytest.mark.parametrize("size", [64 * KIB, 256 * KIB, 1 * MIB])
def test_initial_value_is_image_size(boot: Booter, size: int) -> None:
    b = boot(size=size)
    assert b.agent.readq(BIOS_SIZE) == size
    assert region_size_in_mtree(b.vm.qmp.hmp("info mtree")) == size


@pytest.mark.parametrize("size", [128 * KIB, 4 * MIB, 16 * MIB])
def test_initial_value_is_image_size_more(boot: Booter, size: int) -> None:
    b = boot(size=size)
    assert b.agent.readq(BIOS_SIZE) == size


# The -bios image (= the BIOS region) of the resize tests.
REGION = 512 * KIB
RESIZE_SEQUENCE = [
    0,
    0x8000,
    GRANULE + 1,
    2 * GRANULE,
    REGION + GRANULE,
    REGION,
    2 * REGION,
    U64_MAX,
    REGION_TOP,
    GRANULE,
    REGION - 0x1000,
    3 * GRANULE,
]


def _write_sequence(boot: Booter, resize: bool) -> None:
    device = DEVICE if resize else f"{DEVICE},{RESIZE_PROPERTY}=off"
    b = boot(size=REGION, devices=(device,))
    v6 = V6Device(b.agent)
    model = device_model(b.vm, REGION, resize=resize)
    for value in RESIZE_SEQUENCE:
        accepted = model.write_bios_size(value)
        v6.write(BIOS_SIZE, value)
        got = b.agent.readq(BIOS_SIZE)
        assert got == model.bios_size, (
            f"after writing {value:#x} (model: {'accept' if accepted else 'reject'}) "
            f"bios-size reads {got:#x}, expected {model.bios_size:#x}"
        )
    assert_alive(b.vm)
    # A size written but never used does not outlive a reset.
    assert reset(b.vm, "cf9").banner.identity == STAGE1
    model.reset()
    assert b.agent.readq(BIOS_SIZE) == model.bios_size == REGION


@pytest.mark.core
def test_resize_rules(boot: Booter) -> None:
    _write_sequence(boot, resize=True)


@pytest.mark.core
def test_resize_rejected_without_cap(boot: Booter) -> None:
    _write_sequence(boot, resize=False)
