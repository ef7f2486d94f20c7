"""Real firmware after the swap: stage 1 (the agent) hands over SeaBIOS or OVMF.

The images are the ones Debian ships (packages `seabios`, `ovmf`). After the
reset the real firmware must run: SeaBIOS prints its banner on the debug
console (port 0x402), OVMF's boot manager prints on COM1. The BIOS region
(the agent's size) and the image size differ in the resize cases, so the
copy, the zero fill below the image and the resize all take part.

Room for a bigger firmware (`room` cases, ABIs that declare a `rom_room`,
v7's `rom-max-size`; skipped on the others): a SeaBIOS-sized host (the agent
at 256 KiB) started with 4 MiB of room hands over Debian's 2 MiB OVMF, and
with 2 MiB of room SeaBIOS. The region is read back from the device
(`fw_rom_size`), zero below the host's image before the swap.

These run on TCG only: under the PVM flavour of KVM on this kind of machine
firmware code is emulated at ~0.1 MB/s and OVMF would take many minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from checks import assert_staged, status
from firmware import (
    BLOB,
    OVMF,
    SEABIOS,
    SEABIOS_BANNER,
    SEABIOS_DEADLINE,
    SEABIOS_FW_CFG,
    assert_region_holds,
    debugcon_args,
    firmware,
    wait_in_file,
    wait_ovmf_boot_manager,
)
from vms import DEFAULT_IMAGE_SIZE, Booted, Booter, Payloads, VMFactory

from harness.interface.abis import abi as abi_declaration
from harness.platform import KIB, MIB

# SeaBIOS boots twice: after the swap, and after the reset that follows.
BOOTS = 2


@dataclass(frozen=True)
class Host:
    """The host's firmware, the agent built at `size` bytes, and the room its device is
    given (`rom_max_size`, None: none): the firmware region is the room, else the agent."""

    size: int
    rom_max_size: int | None = None

    @property
    def region(self) -> int:
        return self.rom_max_size or self.size


# The agent at SeaBIOS's size, 256 KiB.
SEABIOS_SIZED = DEFAULT_IMAGE_SIZE


def tcg_boot(vms: VMFactory, payloads: Payloads, machine: str, abi: str) -> Booter:
    return vms.booter(payloads, machine, "tcg", abi)


def boot_host(boot: Booter, host: Host, **kw: object) -> Booted:
    """Boot the host's firmware, with its room."""
    return boot(size=host.size, rom_max_size=host.rom_max_size, **kw)


SEABIOS_HOSTS = {
    "same-size": Host(256 * KIB),
    "resize": Host(512 * KIB),
    # An OVMF-sized host hands over the smaller SeaBIOS: as a 2 MiB ROM, or as room.
    "ovmf-sized": Host(2 * MIB),
    "room": Host(SEABIOS_SIZED, rom_max_size=2 * MIB),
}


@pytest.mark.parametrize("host", list(SEABIOS_HOSTS.values()), ids=list(SEABIOS_HOSTS))
@pytest.mark.parametrize("method", ["cf9", "qmp"])
def test_seabios_runs_after_swap(
    vms: VMFactory, payloads: Payloads, machine: str, abi: str, host: Host, method: str
) -> None:
    image = firmware(SEABIOS, "seabios")
    debug_log = vms.log_root / "debugcon.log"
    b = boot_host(
        tcg_boot(vms, payloads, machine, abi),
        host,
        blobs={BLOB: image},
        extra_args=debugcon_args(debug_log),
    )
    # The region as the guest reads it (v7: fw_rom_size), zero below the host's image.
    assert b.device.region_size() in (None, host.region)
    assert_region_holds(b.vm, b.device.abi, b.image.read_bytes(), host.region)
    assert_staged(b.device, b.agent, BLOB, image)
    mark = b.vm.qmp.mark()
    if method == "qmp":
        b.vm.qmp.cmd("system_reset")
    else:
        b.agent.console.send_line(f"reset {method}")
    b.vm.qmp.wait_event("RESET", mark)
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, 1, SEABIOS_DEADLINE, b.vm)
    assert log.startswith(SEABIOS_BANNER), (
        f"debug console does not start with the banner: {log[:80]!r}"
    )
    assert_region_holds(b.vm, abi_declaration(abi), image.read_bytes(), host.region)
    # The update was consumed: the next reset boots SeaBIOS again, not the agent.
    b.vm.qmp.cmd("system_reset")
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, 2, SEABIOS_DEADLINE, b.vm)
    assert log.count(SEABIOS_BANNER) >= BOOTS, "second boot printed no SeaBIOS banner"
    assert status(b.vm) == "running"


OVMF_HOSTS = {
    "same-size": Host(2 * MIB),
    "resize": Host(4 * MIB),
    # SeaBIOS-sized host, the most common case: the guest brings its own UEFI.
    "room": Host(SEABIOS_SIZED, rom_max_size=4 * MIB),
}


@pytest.mark.parametrize("host", list(OVMF_HOSTS.values()), ids=list(OVMF_HOSTS))
def test_ovmf_runs_after_swap(
    vms: VMFactory, payloads: Payloads, machine: str, abi: str, host: Host
) -> None:
    image = firmware(OVMF, "ovmf")
    b = boot_host(tcg_boot(vms, payloads, machine, abi), host, blobs={BLOB: image})
    assert b.device.region_size() in (None, host.region)
    assert_region_holds(b.vm, b.device.abi, b.image.read_bytes(), host.region)
    assert_staged(b.device, b.agent, BLOB, image)
    b.vm.console.send_line("reset cf9")
    b.vm.console.wait_line(r"resetting cf9", 10.0)
    assert "Boot0" in wait_ovmf_boot_manager(b.vm)
    assert_region_holds(b.vm, abi_declaration(abi), image.read_bytes(), host.region)
    assert status(b.vm) == "running"
