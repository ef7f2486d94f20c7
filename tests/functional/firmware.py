"""Real firmware in the functional tests: Debian's images, SeaBIOS's debug console, OVMF's
boot manager, and the firmware region as the host sees it.

SeaBIOS prints its log (the banner first) on the debug console, port 0x402; a test
wires that port to a file (`debugcon_args`) and waits for lines in it (`wait_in_file`).
OVMF reports its boot manager (BdsDxe) on COM1 (`wait_ovmf_boot_manager`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from checks import xp_bytes

from harness.guest.agent_client import Banner, parse_banner
from harness.guest.protocol import BANNER_MAGIC, READY
from harness.interface.declaration import AbiDeclaration
from harness.machine.vm import VM
from harness.platform import KIB

SEABIOS = Path("/usr/share/seabios/bios-256k.bin")
OVMF = Path("/usr/share/ovmf/OVMF.fd")
SEABIOS_BANNER = "SeaBIOS (version "
# Printed once per boot, after the banner: SeaBIOS talks to QEMU's fw_cfg.
SEABIOS_FW_CFG = "Found QEMU fw_cfg"
SEABIOS_DEADLINE = 30.0
# The fw_cfg blob a real firmware image comes in.
BLOB = "opt/vmfwtest/firmware"
# OVMF's boot manager reports on COM1 that it loads or starts a boot option (Boot0000 ...).
OVMF_BOOT_MANAGER = r".*BdsDxe: (loading|starting) .*"
# OVMF reaches its boot manager in ~15 s on TCG on the 2-core reference machine.
OVMF_DEADLINE = 120.0
PAGE = 4 * KIB


def firmware(path: Path, package: str) -> Path:
    if not path.is_file():
        pytest.fail(
            f"{path} missing: install the Debian package {package!r} (make setup does)",
            pytrace=False,
        )
    return path


def debugcon_args(log: Path) -> tuple[str, ...]:
    """Port 0x402 debug console written to `log` (SeaBIOS prints its log there)."""
    return (
        "-chardev",
        f"file,id=debugcon,path={log}",
        "-device",
        "isa-debugcon,iobase=0x402,chardev=debugcon",
    )


def wait_in_file(path: Path, text: str, count: int, deadline: float, vm: VM) -> str:
    """Wait until `text` occurs `count` times in `path`; fail early if QEMU exits."""
    end = time.monotonic() + deadline
    content = ""
    while time.monotonic() < end:
        content = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        if content.count(text) >= count:
            return content
        status = vm.exit_status()
        if status is not None:
            pytest.fail(f"QEMU exited ({status}) before {text!r} x{count} in {path}")
        time.sleep(0.2)
    pytest.fail(f"{text!r} not seen {count} time(s) in {path} within {deadline:.0f} s")


def wait_ovmf_boot_manager(vm: VM) -> str:
    """OVMF's boot manager line on COM1 (OVMF really started)."""
    return vm.console.wait_line(OVMF_BOOT_MANAGER, OVMF_DEADLINE, "OVMF BdsDxe").group(0)


def banner_after_other_firmware(vm: VM, deadline: float) -> Banner:
    """The agent's banner (then READY) on COM1 after another firmware wrote there: its last
    output (OVMF's shell prompt, say) may have no line end, so the banner ends that line."""
    magic = re.escape(BANNER_MAGIC)
    line = vm.console.wait_line(rf".*?({magic} .*)", deadline, "agent boot banner").group(1)
    vm.console.wait_line(READY, deadline, f"{READY} after the banner")
    return parse_banner(line)


def assert_region_holds(vm: VM, abi: AbiDeclaration, image: bytes, region_size: int) -> None:
    """The firmware region of `region_size` bytes ends with `image` and is zero below it
    (host view, HMP xp: the top and first page of the image, the region's lowest page and
    the page below the image)."""
    end = abi.region_top
    top = end - len(image)
    assert xp_bytes(vm, end - PAGE, PAGE) == image[-PAGE:], "top page is not the image's"
    assert xp_bytes(vm, top, PAGE) == image[:PAGE], "image does not start at 4 GiB - size"
    if region_size > len(image):
        bottom = end - region_size
        assert xp_bytes(vm, bottom, PAGE) == bytes(PAGE), "region below the image not zeroed"
        assert xp_bytes(vm, top - PAGE, PAGE) == bytes(PAGE), "page below the image not zeroed"
