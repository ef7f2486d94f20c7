"""`vmfwupdate run` / `test`: argument parsing and the interactive QEMU command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.cli import fw_cfg_pair, make_parser
from harness.errors import HarnessError
from harness.workdir import Workdir
from harness.workflows import devloop
from harness.workflows.devloop import boot_kind, firmware_image, run_args


def test_run_args_console_qmp_device_and_extra(tmp_path: Path) -> None:
    qemu = tmp_path / "qemu-system-x86_64"
    optrom = tmp_path / "pc-bios" / "optionrom"
    optrom.mkdir(parents=True)
    (optrom / "kvmvapic.bin").write_bytes(b"")
    args = make_parser().parse_args(
        ["run", "--machine", "q35", "--fw-cfg", "opt/next=/x/n.bin", "--", "-S"]
    )
    cmd = run_args(qemu, Path("/x/agent.bin"), Path("/s/qmp.sock"), args)
    assert cmd[0] == str(qemu)
    assert cmd[cmd.index("-machine") + 1] == "q35"
    assert cmd[cmd.index("-serial") + 1] == "mon:stdio"
    assert cmd[cmd.index("-qmp") + 1] == "unix:/s/qmp.sock,server=on,wait=off"
    assert cmd[cmd.index("-bios") + 1] == "/x/agent.bin"
    assert cmd[cmd.index("-L") + 1] == str(optrom)
    assert "vmfwupdate" in cmd
    assert cmd[cmd.index("-fw_cfg") + 1] == "name=opt/next,file=/x/n.bin"
    assert cmd[-1] == "-S"


def test_run_args_without_device_or_optionroms(tmp_path: Path) -> None:
    args = make_parser().parse_args(["run", "--no-device"])
    cmd = run_args(tmp_path / "qemu", Path("/fw.bin"), Path("/q.sock"), args)
    assert "vmfwupdate" not in cmd
    assert "apic-common.vapic=off" in cmd
    assert "-L" not in cmd


def test_test_command_options() -> None:
    args = make_parser().parse_args(["test", "-k", "cf9 and pc", "-m", "quick", "--", "-x"])
    assert (args.keyword, args.marker, args.accel, args.pytest_args) == (
        "cf9 and pc",
        "quick",
        "tcg",
        ["-x"],
    )


@pytest.mark.parametrize("text", ["noequals", "=file", "name=", "a,b=c"])
def test_fw_cfg_pair_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        fw_cfg_pair(text)


def test_run_args_started_from_an_igvm_file(tmp_path: Path) -> None:
    igvm_file = tmp_path / "fw.igvm"
    igvm_file.write_bytes(b"IGVM")
    args = make_parser().parse_args(["run", "--igvm", str(igvm_file), "--machine", "q35"])
    assert boot_kind(args) == "igvm"
    cmd = run_args(tmp_path / "qemu", igvm_file, Path("/q.sock"), args)
    assert "-bios" not in cmd
    assert cmd[cmd.index("-machine") + 1] == "q35,igvm-cfg=igvm0"
    assert cmd[cmd.index("-object") + 1] == f"igvm-cfg,id=igvm0,file={igvm_file}"
    assert "vmfwupdate" in cmd


def test_run_boot_igvm_wraps_the_firmware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "rom.bin"
    image.write_bytes(b"\0" * 4096)
    wrapped: list[tuple[Path, Path]] = []

    def fake_wrap(src: Path, out_dir: Path, **kw: object) -> Path:
        wrapped.append((src, out_dir))
        return out_dir / "rom.igvm"

    monkeypatch.setattr(devloop, "wrap", fake_wrap)
    workdir = Workdir(tmp_path, "v7")
    args = make_parser().parse_args(["run", "--boot", "igvm", "--image", str(image)])
    path = firmware_image(args, workdir)
    assert wrapped == [(image, workdir.payloads / "run" / "igvm")]
    cmd = run_args(tmp_path / "qemu", path, Path("/q.sock"), args)
    assert "-bios" not in cmd
    assert cmd[cmd.index("-object") + 1] == f"igvm-cfg,id=igvm0,file={path}"
    # without --boot igvm the same image is -bios, nothing wrapped
    plain = make_parser().parse_args(["run", "--image", str(image)])
    assert firmware_image(plain, workdir) == image
    assert "-object" not in run_args(tmp_path / "qemu", image, Path("/q.sock"), plain)
    assert len(wrapped) == 1


@pytest.mark.parametrize(
    "argv",
    [["--igvm", "f.igvm", "--image", "r.bin"], ["--igvm", "f.igvm", "--boot", "bios"]],
)
def test_run_igvm_conflicts(argv: list[str]) -> None:
    args = make_parser().parse_args(["run", *argv])
    with pytest.raises(HarnessError):
        boot_kind(args)
