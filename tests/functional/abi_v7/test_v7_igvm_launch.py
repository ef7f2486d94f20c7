"""Launch equivalence: after an update to an IGVM file the guest sees what it sees when QEMU
is started with that file (v7 interface, "IGVM images", reset step 3).

For one file, QEMU A is started from it (`-object igvm-cfg`, `-machine igvm-cfg=`, no
-bios) and stopped before its first instruction (-S); QEMU B boots the agent (as -bios
or from its IGVM file: `boot_kind`), loads the same file, arms it with FORMAT_IGVM, and
is stopped (QMP `stop`) before the `system_reset` that applies it, so B too waits at the
first instruction after the update.
Every page the file defines (igvm-inspect's native page ranges, QMP `pmemsave`) and
vCPU 0's registers (HMP `info registers`) must be equal.

The files: Debian's SeaBIOS wrapped as is (no VP context: both start at the reset vector,
in real mode) and with --flat32 (a VP context in 32-bit protected mode, which differs from
the reset state: equal registers then mean the device applied the context). Also on KVM.
"""

from __future__ import annotations

import pytest
from checks import status
from firmware import SEABIOS, firmware
from igvm_files import (
    IgvmFiles,
    assert_igvm_armed,
    entry_address,
    pages,
    register,
    registers,
    start_from_igvm,
)
from vms import Booter, VMFactory

from harness.build.igvm_images import Wrap
from harness.platform import FIRMWARE_TOP, KIB

BLOB = "opt/vmfwtest/igvm"
PAGE = 4 * KIB
RESET_VECTOR = FIRMWARE_TOP - 16
CR0_PE = 1 << 0


@pytest.mark.core
@pytest.mark.parametrize("kind", [Wrap.PLAIN, Wrap.FLAT32], ids=lambda k: k.label)
def test_update_equals_launch(
    igvm_host: Booter,
    igvm_files: IgvmFiles,
    vms: VMFactory,
    machine: str,
    accel: str,
    kind: Wrap,
) -> None:
    seabios = firmware(SEABIOS, "seabios")
    igvm = igvm_files.wrap(seabios, kind)
    layout = igvm_files.inspect(igvm)
    assert layout.native_vp_context is (kind is Wrap.FLAT32)
    launched = start_from_igvm(vms, machine, accel, igvm, paused=True)
    b = igvm_host(blobs={BLOB: igvm})
    assert_igvm_armed(b, BLOB, igvm)
    b.vm.qmp.cmd("stop")
    b.vm.qmp.cmd("system_reset")
    # both wait before their first instruction (a reset while stopped is QEMU's prelaunch)
    assert (status(launched), status(b.vm)) == ("prelaunch", "prelaunch")

    want = pages(launched, layout, vms.log_root / "launched")
    got = pages(b.vm, layout, vms.log_root / "updated")
    assert sorted(got) == sorted(want) == [r.gpa for r in layout.native_pages()]
    for gpa, data in want.items():
        assert got[gpa] == data, f"the pages from {gpa:#x} differ from a launch's"
    # not two empty dumps: the reset vector holds SeaBIOS's last bytes
    top = want[max(want)]
    assert top[-PAGE:] == seabios.read_bytes()[-PAGE:]

    launch_regs = registers(launched)
    update_regs = registers(b.vm)
    assert update_regs == launch_regs, "vCPU 0's registers differ from a launch's"
    # and they are the file's start: the reset vector, in protected mode with --flat32
    assert entry_address(update_regs) == RESET_VECTOR
    assert bool(register(update_regs, "CR0") & CR0_PE) is (kind is Wrap.FLAT32)
