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
from vms import VMFactory

from harness.build import igvm
from harness.platform import FIRMWARE_TOP, KIB
from harness.workdir import find_repo_root

PAGE = 4 * KIB
IGVM_OBJECT = "igvm0"


def qemu_has_igvm(qemu_bin: Path) -> bool:
    proc = subprocess.run(
        [qemu_bin, "-object", "help"], capture_output=True, text=True, check=False, timeout=30
    )
    return "igvm-cfg" in proc.stdout


@pytest.fixture(scope="module")
def seabios_igvm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian's SeaBIOS wrapped into an IGVM file (native platform, real mode start)."""
    wrap = igvm.Layout.for_repo(find_repo_root()).tool("igvm-wrap")
    if not wrap.is_file():
        pytest.fail(f"{wrap} missing: run `make setup` (it installs igvm-wrap)", pytrace=False)
    out = tmp_path_factory.mktemp("igvm") / "seabios.igvm"
    image = firmware(SEABIOS, "seabios")
    subprocess.run([wrap, "-i", image, "-o", out], check=True, capture_output=True, timeout=60)
    return out


@pytest.mark.core
def test_seabios_boots_from_an_igvm_file(
    vms: VMFactory, qemu_bin: Path, machine: str, seabios_igvm: Path
) -> None:
    if not qemu_has_igvm(qemu_bin):
        pytest.skip(f"{qemu_bin} has no igvm-cfg object: QEMU was built without --enable-igvm")
    debug_log = vms.log_root / "debugcon.log"
    vm = vms.start(
        vms.config(
            machine,
            "tcg",
            machine_opts=(f"igvm-cfg={IGVM_OBJECT}",),
            extra_args=(
                "-object",
                f"igvm-cfg,id={IGVM_OBJECT},file={seabios_igvm}",
                *debugcon_args(debug_log),
            ),
        )
    )
    log = wait_in_file(debug_log, SEABIOS_FW_CFG, 1, SEABIOS_DEADLINE, vm)
    assert log.startswith(SEABIOS_BANNER), "the first line is not SeaBIOS's banner"
    assert log.count(SEABIOS_FW_CFG) == 1, "SeaBIOS started more than once"
    image = SEABIOS.read_bytes()
    assert xp_bytes(vm, FIRMWARE_TOP - PAGE, PAGE) == image[-PAGE:], (
        "the reset-vector page does not hold the wrapped image"
    )
