"""Real firmware in the functional tests: Debian's images, and SeaBIOS's debug console.

SeaBIOS prints its log (the banner first) on the debug console, port 0x402; a test
wires that port to a file (`debugcon_args`) and waits for lines in it (`wait_in_file`).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.machine.vm import VM

SEABIOS = Path("/usr/share/seabios/bios-256k.bin")
OVMF = Path("/usr/share/ovmf/OVMF.fd")
SEABIOS_BANNER = "SeaBIOS (version "
# Printed once per boot, after the banner: SeaBIOS talks to QEMU's fw_cfg.
SEABIOS_FW_CFG = "Found QEMU fw_cfg"
SEABIOS_DEADLINE = 30.0


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
