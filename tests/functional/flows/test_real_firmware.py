"""Real firmware after the swap: stage 1 (the agent) hands over SeaBIOS or OVMF.

The images are the ones Debian ships (packages `seabios`, `ovmf`). After the
reset the real firmware must run: SeaBIOS prints its banner on the debug
console (port 0x402), OVMF's boot manager prints on COM1. The BIOS region
(the agent's size) and the image size differ in the resize cases, so the
copy, the zero fill below the image and the resize all take part.

These run on TCG only: under the PVM flavour of KVM on this kind of machine
firmware code is emulated at ~0.1 MB/s and OVMF would take many minutes.
"""

from __future__ import annotations

import pytest
from checks import assert_staged, status, xp_bytes
from firmware import (
    OVMF,
    SEABIOS,
    SEABIOS_BANNER,
    SEABIOS_DEADLINE,
    SEABIOS_FW_CFG,
    debugcon_args,
    firmware,
    wait_in_file,
)
from vms import Booter, Payloads, VMFactory

from harness.interface.abis import abi as abi_declaration
from harness.interface.declaration import AbiDeclaration
from harness.machine.vm import VM
from harness.platform import KIB, MIB

# SeaBIOS boots twice: after the swap, and after the reset that follows.
BOOTS = 2

BLOB = "opt/vmfwtest/firmware"
PAGE = 4 * KIB
# OVMF reaches its boot manager in ~15 s on TCG on the 2-core reference machine.
OVMF_DEADLINE = 120.0


def tcg_boot(vms: VMFactory, payloads: Payloads, machine: str, abi: str) -> Booter:
    return vms.booter(payloads, machine, "tcg", abi)


def assert_region_holds(vm: VM, abi: AbiDeclaration, image: bytes, region_size: int) -> None:
    """The firmware region ends with `image` and is zero below it (host view, HMP xp)."""
    end = abi.region_top
    top = end - len(image)
    assert xp_bytes(vm, end - PAGE, PAGE) == image[-PAGE:], "top page is not the image's"
    assert xp_bytes(vm, top, PAGE) == image[:PAGE], "image does not start at 4 GiB - size"
    if region_size > len(image):
        bottom = end - region_size
        assert xp_bytes(vm, bottom, PAGE) == bytes(PAGE), "region below the image not zeroed"
        assert xp_bytes(vm, top - PAGE, PAGE) == bytes(PAGE), "page below the image not zeroed"


@pytest.mark.parametrize("region", [256 * KIB, 512 * KIB], ids=["same-size", "resize"])
@pytest.mark.parametrize("method", ["cf9", "qmp"])
def test_seabios_runs_after_swap(
    vms: VMFactory, payloads: Payloads, machine: str, abi: str, region: int, method: str
) -> None:
    image = firmware(SEABIOS, "seabios")
    debug_log = vms.log_root / "debugcon.log"
    b = tcg_boot(vms, payloads, machine, abi)(
        size=region, blobs={BLOB: image}, extra_args=debugcon_args(debug_log)
    )
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
    assert_region_holds(b.vm, abi_declaration(abi), image.read_bytes(), region)
    # The update was consumed: the next reset boots SeaBIOS again, not the agent.
    b.vm.qmp.cmd("system_reset")
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, 2, SEABIOS_DEADLINE, b.vm)
    assert log.count(SEABIOS_BANNER) >= BOOTS, "second boot printed no SeaBIOS banner"
    assert status(b.vm) == "running"


@pytest.mark.parametrize("region", [2 * MIB, 4 * MIB], ids=["same-size", "resize"])
def test_ovmf_runs_after_swap(
    vms: VMFactory, payloads: Payloads, machine: str, abi: str, region: int
) -> None:
    image = firmware(OVMF, "ovmf")
    b = tcg_boot(vms, payloads, machine, abi)(size=region, blobs={BLOB: image})
    assert_staged(b.device, b.agent, BLOB, image)
    b.vm.console.send_line("reset cf9")
    b.vm.console.wait_line(r"resetting cf9", 10.0)
    # OVMF's boot manager (BdsDxe) reports on the serial console.
    line = b.vm.console.wait_line(r".*BdsDxe: (loading|starting) .*", OVMF_DEADLINE, "OVMF BdsDxe")
    assert "Boot0" in line.group(0)
    assert_region_holds(b.vm, abi_declaration(abi), image.read_bytes(), region)
    assert status(b.vm) == "running"
