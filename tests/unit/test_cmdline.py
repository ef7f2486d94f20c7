"""Unit tests of the QEMU command-line builder (harness.machine.cmdline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.machine import cmdline as c
from harness.machine import host

EXIT_VALUE = 0x10


def cfg(**kw: object) -> c.VMConfig:
    return c.VMConfig(qemu_bin=Path("/q/qemu-system-x86_64"), **kw)  # type: ignore[arg-type]


def test_basic_args() -> None:
    args = c.build_args(cfg(bios=Path("/img/a.bin")), c.fd_wiring(5, 6), None)
    joined = " ".join(args)
    assert args[0] == "/q/qemu-system-x86_64"
    assert "-machine pc -accel tcg -nodefaults -display none" in joined
    assert "-chardev socket,id=qmp,fd=5 -mon chardev=qmp,mode=control" in joined
    assert "-chardev socket,id=ser0,fd=6 -serial chardev:ser0" in joined
    assert "-run-with exit-with-parent=on" in joined
    assert "-global apic-common.vapic=off" in joined
    assert "-bios /img/a.bin" in joined
    assert "-device isa-debug-exit,iobase=0xf4,iosize=4" in joined
    assert "-no-reboot" not in args


def test_optionrom_dir_and_extras() -> None:
    config = cfg(
        machine="q35",
        accel="kvm",
        machine_opts=("pflash0=fw",),
        fw_cfg=(c.FwCfgBlob("opt/s2", Path("/img/b.bin")),),
        devices=("vmfwupdate,bios-resize=off",),
    )
    args = c.build_args(config, c.fd_wiring(3, 4), Path("/q/pc-bios/optionrom"))
    joined = " ".join(args)
    assert "-machine q35,pflash0=fw -accel kvm" in joined
    assert "-L /q/pc-bios/optionrom" in joined
    assert "vapic=off" not in joined
    assert "-fw_cfg name=opt/s2,file=/img/b.bin" in joined
    assert "-device vmfwupdate,bios-resize=off" in joined
    assert c.optionrom_dir(Path("/q/qemu-system-x86_64")) == Path("/q/pc-bios/optionrom")


def test_started_from_an_igvm_file() -> None:
    config = cfg(machine="q35", machine_opts=("smm=off",), igvm=Path("/img/a.igvm"))
    args = c.build_args(config, c.fd_wiring(3, 4), None)
    joined = " ".join(args)
    assert f"-machine q35,igvm-cfg={c.IGVM_OBJECT},smm=off -accel" in joined
    assert f"-object igvm-cfg,id={c.IGVM_OBJECT},file=/img/a.igvm" in joined
    assert "-bios" not in args
    with pytest.raises(ValueError, match="not both"):
        cfg(bios=Path("/img/a.bin"), igvm=Path("/img/a.igvm"))


def test_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        cfg(accel="hvf")
    with pytest.raises(ValueError):
        c.FwCfgBlob("opt/a,b", Path("/x")).arg()


def test_debug_exit_status() -> None:
    assert c.debug_exit_status(0) == 1
    assert c.debug_exit_status(EXIT_VALUE) == (EXIT_VALUE << 1) | 1


def test_debug_exit_value() -> None:
    for value in (0, 1, EXIT_VALUE, 0x7F):
        assert c.debug_exit_value(c.debug_exit_status(value)) == value
    assert c.debug_exit_value(0) is None  # a normal exit
    assert c.debug_exit_value(2) is None  # no write to the port gives an even status
    assert c.debug_exit_value(-9) is None  # killed by a signal


def test_kvm_probe_reports_reason(tmp_path: Path) -> None:
    ok, reason = host.kvm_usable(str(tmp_path / "nope"))
    assert not ok
    assert "nope" in reason


def test_kvm_flavour_from_sys_module(tmp_path: Path) -> None:
    assert host.kvm_flavour(str(tmp_path)) == "unknown"
    (tmp_path / "kvm_intel").mkdir()
    assert host.kvm_flavour(str(tmp_path)) == "intel"
    (tmp_path / "kvm_pvm").mkdir()
    assert host.kvm_flavour(str(tmp_path)) == "pvm"


def test_accel_options_join_the_accelerator() -> None:
    cfg = c.VMConfig(qemu_bin=Path("/q"), accel="tcg", accel_opts=("tb-size=4",))
    args = c.build_args(cfg, c.fd_wiring(3, 4), None)
    assert args[args.index("-accel") + 1] == "tcg,tb-size=4"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (4 * 1024 * 1024, "4M"),
        (96 * 1024, "96K"),
        (32 * 1024 * 1024, "32M"),
        (1 << 30, "1G"),
        (1536 * 1024, "1536K"),
        (1000, "1000"),
        (0, "0"),
    ],
)
def test_size_text_is_what_a_user_types(size: int, text: str) -> None:
    assert c.size_text(size) == text


def test_size_text_refuses_a_negative_size() -> None:
    with pytest.raises(ValueError):
        c.size_text(-1)


def test_device_arg_adds_properties() -> None:
    assert c.device_arg(c.DEVICE, {"rom-max-size": "4M"}) == "vmfwupdate,rom-max-size=4M"
    both = c.device_arg("vmfwupdate,rom-resize=off", {"rom-max-size": "4M", "disable": "on"})
    assert both == "vmfwupdate,rom-resize=off,rom-max-size=4M,disable=on"
    assert c.device_driver(both) == c.DEVICE
    assert c.device_driver("loader") == "loader"
    for bad in ({"a,b": "1"}, {"a=b": "1"}, {"": "1"}, {"a": "1,2"}):
        with pytest.raises(ValueError):
            c.device_arg(c.DEVICE, bad)
