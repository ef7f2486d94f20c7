"""The build's QEMU starts a guest from an IGVM file: SeaBIOS, wrapped by the pinned igvm-wrap.

QEMU is configured with --enable-igvm against the libigvm `make setup` builds; this proves
the library and its generated headers work in QEMU's own loader (backends/igvm.c), with
no -bios: `-object igvm-cfg,file=...` and `-machine igvm-cfg=...` give the firmware. Its
pages are the image at the top of 4 GiB and its last 128 KiB below 1 MiB; SeaBIOS must
print its banner and reach fw_cfg, and the reset-vector page must hold the image's bytes.
TCG only (firmware under KVM's PVM flavour here is slow, see test_real_firmware).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from checks import xp_bytes
from firmware import (
    SEABIOS,
    SEABIOS_BANNER,
    SEABIOS_DEADLINE,
    SEABIOS_FW_CFG,
    debugcon_args,
    firmware,
    wait_in_file,
)
from igvm_files import IgvmFiles, start_from_igvm
from vms import VMFactory

from harness.platform import FIRMWARE_TOP, KIB

PAGE = 4 * KIB


def qemu_has_igvm(qemu_bin: Path) -> bool:
    proc = subprocess.run(
        [qemu_bin, "-object", "help"], capture_output=True, text=True, check=False, timeout=30
    )
    return "igvm-cfg" in proc.stdout


@pytest.fixture
def seabios_igvm(igvm_files: IgvmFiles) -> Path:
    """Debian's SeaBIOS wrapped into an IGVM file (native platform, real mode start) by the
    toolkit (igvm_files: the pinned igvm-wrap that `make setup` installs)."""
    return igvm_files.wrap(firmware(SEABIOS, "seabios"))


@pytest.mark.core
def test_seabios_boots_from_an_igvm_file(
    vms: VMFactory, qemu_bin: Path, machine: str, seabios_igvm: Path
) -> None:
    if not qemu_has_igvm(qemu_bin):
        pytest.skip(f"{qemu_bin} has no igvm-cfg object: QEMU was built without --enable-igvm")
    debug_log = vms.log_root / "debugcon.log"
    vm = start_from_igvm(vms, machine, "tcg", seabios_igvm, extra_args=debugcon_args(debug_log))
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, 1, SEABIOS_DEADLINE, vm)
    assert log.startswith(SEABIOS_BANNER), "the first line is not SeaBIOS's banner"
    assert log.count(SEABIOS_FW_CFG) == 1, "SeaBIOS started more than once"
    image = SEABIOS.read_bytes()
    assert xp_bytes(vm, FIRMWARE_TOP - PAGE, PAGE) == image[-PAGE:], (
        "the reset-vector page does not hold the wrapped image"
    )
