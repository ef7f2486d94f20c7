"""RAM that belongs to a device, set up from inside the guest: what the guest-RAM tests need.

QEMU's memory map shows two kinds of device memory as "ram" that the
interface does not count as guest RAM for the image range: the memory of a
virtio-mem device (a RAM discard manager: its reset unplugs every block) and
a PCI BAR (VGA memory: the PCI reset unmaps it). This module boots a VM with
one of them and returns where it is; the tests assert.
"""

from __future__ import annotations

from typing import Any

from vms import Booted, Booter

from harness.guest.pci import PciAddress, PciConfig
from harness.machine.cmdline import DEVICE
from harness.machine.vm import VM
from harness.platform import MIB

# virtio-mem: 128 MiB of boot RAM and room for 64 MiB of virtio-mem memory, all unplugged
# (no guest driver plugs any block): the memory is in QEMU's map all the same.
VIRTIO_MEM_ID = "vm0"
VIRTIO_MEM_BACKEND = "vmem0"
VIRTIO_MEM_SIZE = 64 * MIB
VIRTIO_MEM_MEMORY = "128M,maxmem=1G"
# VGA at a fixed slot, its ROM left out (the +ds build has no vgabios): BAR 0 is its
# video memory, 16 MiB of prefetchable memory that nothing maps until the guest does.
VGA_SLOT = 5
VGA_BAR = 0
VGA_MEMORY = 16 * MIB
VGA = f"VGA,addr={VGA_SLOT:02x}.0,romfile=,vgamem_mb={VGA_MEMORY // MIB}"
VGA_FUNCTION = PciAddress(0, VGA_SLOT)
# Where the guest puts VGA memory: in the 32-bit PCI hole, between the end of RAM and the
# IOAPIC, with nothing else there in QEMU's map (`info mtree -f`) of pc and q35 with 128 MiB
# to 512 MiB of RAM.
VGA_MEMORY_ADDR = 0xE0000000


def boot_with_virtio_mem(boot: Booter, **kw: Any) -> Booted:
    """Boot the agent on a machine with an unplugged virtio-mem device."""
    return boot(
        memory=VIRTIO_MEM_MEMORY,
        extra_args=(
            "-object",
            f"memory-backend-ram,id={VIRTIO_MEM_BACKEND},size={VIRTIO_MEM_SIZE}",
        ),
        devices=(
            DEVICE,
            f"virtio-mem-pci,id={VIRTIO_MEM_ID},memdev={VIRTIO_MEM_BACKEND},requested-size=0",
        ),
        **kw,
    )


def virtio_mem_addr(vm: VM) -> int:
    """Where QEMU put the virtio-mem device's memory (QOM `memaddr`)."""
    return int(vm.qmp.cmd("qom-get", {"path": VIRTIO_MEM_ID, "property": "memaddr"}))


def boot_with_vga(boot: Booter, **kw: Any) -> Booted:
    """Boot the agent on a machine with a VGA device whose memory nothing has mapped yet."""
    return boot(devices=(DEVICE, VGA), **kw)


def map_vga_memory(b: Booted) -> int:
    """From inside the guest, as firmware does: VGA's BAR 0 at VGA_MEMORY_ADDR, memory
    decoding on. Returns BAR 0 as the guest reads it back."""
    return PciConfig(b.agent, VGA_FUNCTION).map_memory_bar(VGA_BAR, VGA_MEMORY_ADDR)


def vga_memory_mapping(vm: VM) -> tuple[int, int] | None:
    """(address, size) of VGA memory as QEMU has it mapped (`pci_memory_bar`)."""
    return pci_memory_bar(vm, VGA_FUNCTION, VGA_BAR)


def pci_memory_bar(vm: VM, function: PciAddress, bar: int) -> tuple[int, int] | None:
    """(address, size) of a memory BAR as QEMU has it mapped (QMP `query-pci`); None when
    the function or the BAR is not there."""
    for bus in vm.qmp.cmd("query-pci"):
        for dev in bus["devices"]:
            if (dev["bus"], dev["slot"], dev["function"]) != (
                function.bus,
                function.device,
                function.function,
            ):
                continue
            for region in dev["regions"]:
                if region["bar"] == bar and region["type"] == "memory":
                    return int(region["address"]), int(region["size"])
    return None
