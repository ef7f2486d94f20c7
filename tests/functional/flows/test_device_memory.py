"""Device memory is not guest RAM: an image range there is refused when the guest arms it.

QEMU's map shows virtio-mem memory and a mapped PCI BAR (VGA memory) as RAM,
and the guest can write an image there; but a reset may discard the first
(virtio-mem unplugs its blocks) and unmaps the second (the PCI reset), so
neither counts as guest RAM for the image range. Arming there is refused:
nothing is armed afterwards, while the same arm in plain RAM goes through.
"""

from __future__ import annotations

import pytest
from checks import STAGE2, STAGE2_BLOB, guest_ram, image_facts, load
from device_memory import (
    VGA_MEMORY,
    VGA_MEMORY_ADDR,
    boot_with_vga,
    boot_with_virtio_mem,
    map_vga_memory,
    vga_memory_mapping,
    virtio_mem_addr,
)
from vms import Booted, Booter

from harness.guest.pci import BAR_MEMORY_FLAGS
from harness.guest.protocol import LOAD_ADDR
from harness.platform import KIB

IMAGE = 64 * KIB


def assert_arms_in_plain_ram(b: Booted) -> None:
    """The same image size arms at LOAD_ADDR (plain RAM): the device takes arms at all."""
    state = b.device.arm(LOAD_ADDR, IMAGE)
    assert state.armed == (LOAD_ADDR, IMAGE), f"arming in plain RAM: {state}"


@pytest.mark.core
def test_image_in_virtio_mem_is_refused(boot: Booter) -> None:
    b = boot_with_virtio_mem(boot, size=IMAGE)
    addr = virtio_mem_addr(b.vm)
    assert guest_ram(b.vm).contains(addr, IMAGE), f"no RAM at virtio-mem's {addr:#x}"
    state = b.device.arm(addr, IMAGE)
    assert state.armed is None, f"an image in virtio-mem memory at {addr:#x} was armed: {state}"
    assert_arms_in_plain_ram(b)


@pytest.mark.core
def test_image_in_pci_bar_is_refused(boot: Booter) -> None:
    stage2 = boot.image(IMAGE, STAGE2)
    b = boot_with_vga(boot, size=IMAGE, blobs={STAGE2_BLOB: stage2})
    assert vga_memory_mapping(b.vm) != (VGA_MEMORY_ADDR, VGA_MEMORY)
    bar = map_vga_memory(b)
    assert bar & ~BAR_MEMORY_FLAGS == VGA_MEMORY_ADDR, f"VGA's BAR reads back {bar:#x}"
    assert vga_memory_mapping(b.vm) == (VGA_MEMORY_ADDR, VGA_MEMORY)
    assert guest_ram(b.vm).contains(VGA_MEMORY_ADDR, VGA_MEMORY), "VGA memory is not RAM"
    # A whole image in VGA memory: a wrongly accepted range would hold one.
    loaded = load(b.agent, STAGE2_BLOB, VGA_MEMORY_ADDR)
    assert loaded == image_facts(stage2, VGA_MEMORY_ADDR)
    state = b.device.arm(VGA_MEMORY_ADDR, IMAGE)
    assert state.armed is None, f"an image in VGA memory (a PCI BAR) was armed: {state}"
    assert_arms_in_plain_ram(b)
