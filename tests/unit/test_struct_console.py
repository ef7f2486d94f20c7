"""``vmfwupdate struct``: the console lines it prints, written into the v7 rules model (the
device's rules as data), and the fields it decodes from a read."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.interface import v7, v7_console
from harness.interface.memory_map import RamMap
from harness.interface.v7_rules import V7Model
from harness.interface.v7_struct import Fields
from harness.platform import MIB

ROM = 256 * 1024
IMAGE_ADDR, IMAGE_SIZE = 16 * MIB, 128 * 1024


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line `vmfwupdate struct ...` prints on stdout (the line to paste)."""
    assert main(["struct", *argv]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return out.strip()


def written(line: str) -> bytes:
    command, name, hexdata = line.split(" ")
    assert (command, name, len(hexdata)) == ("write", v7.FILE, 2 * v7.FILE_SIZE)
    return bytes.fromhex(hexdata)


@pytest.fixture
def device() -> V7Model:
    return V7Model(rom_size=ROM, ram=RamMap.of([(0, 256 * MIB)]))


def test_arm_line_is_accepted_and_arms_the_image(
    device: V7Model, capsys: pytest.CaptureFixture[str]
) -> None:
    line = printed(capsys, "arm", "--addr", hex(IMAGE_ADDR), "--size", hex(IMAGE_SIZE))
    assert device.write(written(line)) is v7.Status.OK
    assert device.armed
    assert not device.locked
    assert (device.fields.fw_image_addr, device.fields.fw_image_size) == (IMAGE_ADDR, IMAGE_SIZE)
    assert device.fields.control == v7.FORMAT_PLATFORM_ROM


def test_trial_lock_cancel_and_restore_lines(
    device: V7Model, capsys: pytest.CaptureFixture[str]
) -> None:
    trial = printed(capsys, "arm", "--addr", hex(IMAGE_ADDR), "--size", hex(IMAGE_SIZE), "--trial")
    assert device.write(written(trial)) is v7.Status.OK
    assert device.fields.control == v7.FORMAT_PLATFORM_ROM | v7.CTL_HOST_FW
    assert device.write(written(printed(capsys, "cancel"))) is v7.Status.OK
    assert not device.armed
    assert device.write(written(printed(capsys, "restore"))) is v7.Status.OK
    assert device.restore_due
    assert device.write(written(printed(capsys, "lock"))) is v7.Status.OK
    assert device.locked
    assert device.write(written(trial)) is v7.Status.DISABLED


def test_a_size_the_device_refuses_is_not_made_valid(
    device: V7Model, capsys: pytest.CaptureFixture[str]
) -> None:
    line = printed(capsys, "arm", "--addr", hex(IMAGE_ADDR), "--size", "0x1000")
    assert device.write(written(line)) is v7.Status.BAD_SIZE


def test_decode_names_the_fields_of_a_read(
    device: V7Model, capsys: pytest.CaptureFixture[str]
) -> None:
    device.write(
        Fields().with_guest_fields(v7_console.control(lock=True), IMAGE_ADDR, IMAGE_SIZE).pack()
    )
    reply = f"data {device.fields.pack().hex()}"
    assert main(["struct", "decode", reply, "OK 64"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "0x00 version       0x1"
    assert "0x02 status        0x0  OK" in out
    assert "0x08 capabilities  0x300000001  FORMAT_IGVM|FORMAT_PLATFORM_ROM|CAP_ROM_RESIZE" in out
    assert "0x10 control       0x200000001  FORMAT_PLATFORM_ROM|CTL_DISABLE" in out
    assert f"0x38 fw_rom_size   0x{ROM:x}  256 KiB" in out
    assert len(out) == len(v7.FIELDS)
    assert v7_console.describe(Fields(status=99))[1].endswith("unknown status")


def test_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["struct", "decode", "data 0102"]) == 1
    assert "is 64 bytes, got 2" in capsys.readouterr().err
    assert main(["struct", "--series", "v6", "lock"]) == 1
    assert "series v6 has no structure" in capsys.readouterr().err
