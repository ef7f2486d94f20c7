"""`vmfwupdate run` / `test`: argument parsing and the interactive QEMU command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.cli import fw_cfg_pair, make_parser
from harness.workflows.devloop import run_args


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
