"""command-line errors: QEMU refuses bad configurations with a clear message, no abort.

Room for a bigger firmware (ABIs that declare a `rom_room`, v7's `rom-max-size`; skipped
on the others): each value the device refuses, as a user types it, is refused with an
error that names the property and the rule it breaks; a room equal to the host's ROM is
accepted and adds nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Booter, VMFactory, rom_room, with_room

from harness.interface.abis import abi as abi_declaration
from harness.interface.declaration import RoomRule
from harness.machine.cmdline import DEVICE, device_arg
from harness.platform import KIB, MIB

# 128 + SIGABRT: QEMU aborted (an assertion) instead of refusing cleanly.
SIGABRT_STATUS = 128 + 6

NOT_A_DEVICE = "is not a valid device model name"


@pytest.fixture
def device_present(qemu_bin: Path, abi: str) -> None:
    """The QEMU under test has the device (else these tests would pass vacuously)."""
    proc = subprocess.run(
        [str(qemu_bin), "-device", f"{DEVICE},help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    out = proc.stdout + proc.stderr
    resize_property = abi_declaration(abi).resize_property
    if proc.returncode != 0 or resize_property not in out or "disable" not in out:
        pytest.fail(
            f"{qemu_bin} has no usable vmfwupdate device (-device vmfwupdate,help exited "
            f"{proc.returncode}): {out.strip()[:300]}",
            pytrace=False,
        )


# Files a user adds with -fw_cfg: with them, 16 slots cannot hold the files of the machine,
# vmcoreinfo, vmgenid and the device (five files in v6, one in v7), whichever is added last.
USER_FILES = tuple(
    arg for i in range(12) for arg in ("-fw_cfg", f"name=opt/org.vmfwtest/f{i},string=x")
)


def expect_refusal(vms: VMFactory, machine: str, accel: str, pattern: str, **cfg_kw: object) -> str:
    """QEMU started with `cfg_kw` (default: one device) exits with an error matching `pattern`,
    without an abort and knowing the device."""
    cfg = vms.config(machine, accel, **{"devices": (DEVICE,), **cfg_kw})  # type: ignore[arg-type]
    status, stderr = vms.run_to_exit(cfg)
    assert status > 0, f"QEMU should exit with an error code, got status {status}: {stderr}"
    assert status != SIGABRT_STATUS and "Assertion" not in stderr and "Aborted" not in stderr, (
        stderr
    )
    assert NOT_A_DEVICE not in stderr, stderr
    assert re.search(pattern, stderr, re.IGNORECASE | re.DOTALL), (
        f"stderr does not match {pattern!r}: {stderr}"
    )
    return stderr


@pytest.mark.core
@pytest.mark.usefixtures("device_present")
def test_two_devices(vms: VMFactory, boot: Booter, machine: str, accel: str) -> None:
    expect_refusal(
        vms,
        machine,
        accel,
        r"vmfwupdate.*(only one|at most one|single|already|more than one|multiple|one instance)"
        r"|(only one|at most one|single|already|more than one|multiple|one instance).*vmfwupdate",
        bios=boot.image(DEFAULT_IMAGE_SIZE, STAGE1),
        devices=(DEVICE, DEVICE),
    )


@pytest.mark.core
@pytest.mark.usefixtures("device_present")
@pytest.mark.parametrize("board", ["microvm"])
def test_unsupported_machine(vms: VMFactory, boot: Booter, accel: str, board: str) -> None:
    expect_refusal(
        vms,
        board,
        accel,
        r"vmfwupdate.*(support|machine)|(support|machine).*vmfwupdate",
        bios=boot.image(DEFAULT_IMAGE_SIZE, STAGE1),
        debug_exit=False,
    )


@pytest.mark.core
@pytest.mark.usefixtures("device_present")
@pytest.mark.parametrize("how", ["drive-if-pflash", "machine-pflash0"])
def test_pflash_firmware(
    vms: VMFactory, boot: Booter, machine: str, accel: str, how: str, tmp_path: Path
) -> None:
    flash = tmp_path / "flash.bin"
    shutil.copyfile(boot.image(DEFAULT_IMAGE_SIZE, STAGE1), flash)
    if how == "drive-if-pflash":
        extra: tuple[str, ...] = ("-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={flash}")
        mopts: tuple[str, ...] = ()
    else:
        extra = (
            "-blockdev",
            f"driver=file,filename={flash},node-name=fwfile,read-only=on",
            "-blockdev",
            "driver=raw,file=fwfile,node-name=fw,read-only=on",
        )
        mopts = ("pflash0=fw",)
    expect_refusal(
        vms,
        machine,
        accel,
        r"vmfwupdate.*flash|flash.*vmfwupdate",
        bios=None,
        extra_args=extra,
        machine_opts=mopts,
    )


@pytest.mark.core
@pytest.mark.usefixtures("device_present")
def test_fw_cfg_without_dma(vms: VMFactory, boot: Booter, machine: str, accel: str) -> None:
    expect_refusal(
        vms,
        machine,
        accel,
        r"vmfwupdate.*dma|dma.*vmfwupdate",
        bios=boot.image(DEFAULT_IMAGE_SIZE, STAGE1),
        extra_args=("-global", "fw_cfg_io.dma_enabled=off"),
    )


@pytest.mark.usefixtures("device_present")
def test_fw_cfg_file_slots_exhausted(
    vms: VMFactory, boot: Booter, machine: str, accel: str
) -> None:
    expect_refusal(
        vms,
        machine,
        accel,
        r"vmfwupdate|x-file-slots",
        bios=boot.image(DEFAULT_IMAGE_SIZE, STAGE1),
        devices=("vmcoreinfo", "vmgenid", DEVICE),
        extra_args=("-global", "fw_cfg_io.x-file-slots=0x10", *USER_FILES),
    )


@pytest.mark.core
@pytest.mark.usefixtures("device_present")
def test_confidential_guest(vms: VMFactory, boot: Booter, machine: str, accel: str) -> None:
    if accel == "kvm":
        pytest.skip(
            "under KVM, SEV's own set-up refuses the machine before any device exists "
            "(no SEV hardware here); TCG reaches the device's realize"
        )
    expect_refusal(
        vms,
        machine,
        accel,
        r"vmfwupdate device cannot be used with a confidential guest",
        bios=boot.image(DEFAULT_IMAGE_SIZE, STAGE1),
        machine_opts=("confidential-guest-support=cgs0",),
        extra_args=("-object", "sev-guest,id=cgs0,cbitpos=47,reduced-phys-bits=1"),
    )


# How an error names each rule (the words of the interface text, or the number).
ROOM_RULE_WORDS = {
    RoomRule.NOT_A_MULTIPLE: r"multiple|align",
    RoomRule.OVER_THE_LIMIT: r"16 ?MiB|16M\b|16777216|0x1000000",
    RoomRule.BELOW_HOST_ROM: r"smaller|less than|at least|below",
    RoomRule.WITHOUT_RESIZE: r"rom-resize",
}


@dataclass(frozen=True)
class RoomCase:
    """A room the device refuses: the host's ROM (the agent), the room, rom-resize."""

    host_rom: int
    rom_max_size: int
    resize: bool = True


# Each breaks exactly one rule (96K on a 64 KiB host: not "smaller than the host's ROM").
ROOM_REFUSED = {
    "96K-not-a-multiple": RoomCase(64 * KIB, 96 * KIB),
    "32M-over-the-limit": RoomCase(DEFAULT_IMAGE_SIZE, 32 * MIB),
    "128K-below-the-host": RoomCase(DEFAULT_IMAGE_SIZE, 128 * KIB),
    "4M-rom-resize-off": RoomCase(DEFAULT_IMAGE_SIZE, 4 * MIB, resize=False),
}


@pytest.mark.usefixtures("device_present")
@pytest.mark.parametrize("case", list(ROOM_REFUSED.values()), ids=list(ROOM_REFUSED))
def test_room_refused(
    vms: VMFactory, boot: Booter, machine: str, accel: str, abi: str, case: RoomCase
) -> None:
    room = rom_room(abi)
    rules = room.refusals(case.rom_max_size, case.host_rom, case.resize)
    assert len(rules) == 1, f"{case} breaks {rules}: one rule per case"
    rule = rules[0]
    resize = abi_declaration(abi).resize_property
    devices = (DEVICE if case.resize else device_arg(DEVICE, {resize: "off"}),)
    (device,) = with_room(abi, devices, case.rom_max_size)
    stderr = expect_refusal(
        vms,
        machine,
        accel,
        re.escape(room.property),
        bios=boot.image(case.host_rom, STAGE1),
        devices=(device,),
    )
    # QEMU names the argument first ("-device vmfwupdate,rom-max-size=96K: "): the
    # message after it must name the property and the rule by itself.
    message = stderr.replace(f"-device {device}: ", "")
    assert room.property in message, f"the error does not name {room.property}: {stderr}"
    assert re.search(ROOM_RULE_WORDS[rule], message, re.IGNORECASE), (
        f"the error does not say the rule ({rule.value}): {stderr}"
    )


@pytest.mark.usefixtures("device_present")
def test_room_of_the_host_rom_size_adds_nothing(boot: Booter, abi: str) -> None:
    b = boot(size=DEFAULT_IMAGE_SIZE, rom_max_size=DEFAULT_IMAGE_SIZE)
    assert b.device.region_size() == DEFAULT_IMAGE_SIZE
    assert b.banner.rom_size == DEFAULT_IMAGE_SIZE
