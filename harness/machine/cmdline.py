"""Build the QEMU command line for one test VM (pure logic, no processes).

The VM driver (`harness.machine.vm`) runs what this module builds. Keeping the
argument list separate makes it unit-testable and lets a failing test print
the exact command it ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MACHINES = ("pc", "q35")
ACCELS = ("tcg", "kvm")

# isa-debug-exit: the guest writes a value v to this port, QEMU exits (v << 1) | 1.
DEBUG_EXIT_IOBASE = 0xF4


@dataclass(frozen=True)
class FwCfgBlob:
    """One `-fw_cfg name=...,file=...` argument."""

    name: str
    path: Path

    def arg(self) -> str:
        if "," in self.name or "," in str(self.path):
            raise ValueError(f"fw_cfg name/path must not contain ',': {self.name} {self.path}")
        return f"name={self.name},file={self.path}"


@dataclass(frozen=True)
class VMConfig:
    """Everything that decides how one VM is started."""

    qemu_bin: Path
    machine: str = "pc"
    accel: str = "tcg"
    # Added to -accel, e.g. ("tb-size=4",) to bound TCG's translation buffer.
    accel_opts: tuple[str, ...] = ()
    bios: Path | None = None
    memory: str = "256M"
    fw_cfg: tuple[FwCfgBlob, ...] = ()
    devices: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    # Added to -machine, e.g. ("pflash0=...",) for command-line error tests.
    machine_opts: tuple[str, ...] = ()
    debug_exit: bool = True
    # Log guest errors (LOG_GUEST_ERROR) to stderr so rejections are visible.
    guest_errors_log: bool = True
    exit_with_parent: bool = True
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.accel not in ACCELS:
            raise ValueError(f"accel must be one of {ACCELS}, not {self.accel!r}")


def optionrom_dir(qemu_bin: Path) -> Path:
    """Where the build step puts kvmvapic.bin and friends, next to the binary."""
    return qemu_bin.parent / "pc-bios" / "optionrom"


def build_args(cfg: VMConfig, qmp_fd: int, serial_fd: int, optionrom: Path | None) -> list[str]:
    """Return argv for QEMU. `optionrom` is the -L dir if it exists, else None."""
    machine = ",".join((cfg.machine, *cfg.machine_opts))
    args: list[str] = [
        str(cfg.qemu_bin),
        "-machine",
        machine,
        "-accel",
        ",".join((cfg.accel, *cfg.accel_opts)),
        "-nodefaults",
        "-display",
        "none",
        "-m",
        cfg.memory,
        "-chardev",
        f"socket,id=qmp,fd={qmp_fd}",
        "-mon",
        "chardev=qmp,mode=control",
        "-chardev",
        f"socket,id=ser0,fd={serial_fd}",
        "-serial",
        "chardev:ser0",
    ]
    if cfg.exit_with_parent:
        args += ["-run-with", "exit-with-parent=on"]
    if optionrom is not None:
        args += ["-L", str(optionrom)]
    else:
        args += ["-global", "apic-common.vapic=off"]
    if cfg.guest_errors_log:
        args += ["-d", "guest_errors"]
    if cfg.bios is not None:
        args += ["-bios", str(cfg.bios)]
    if cfg.debug_exit:
        args += ["-device", f"isa-debug-exit,iobase={DEBUG_EXIT_IOBASE:#x},iosize=4"]
    for blob in cfg.fw_cfg:
        args += ["-fw_cfg", blob.arg()]
    for dev in cfg.devices:
        args += ["-device", dev]
    args += list(cfg.extra_args)
    return args


def debug_exit_status(value: int) -> int:
    """The process exit status QEMU uses when the guest writes `value` to isa-debug-exit."""
    return ((value << 1) | 1) & 0xFF


def kvm_usable(path: str = "/dev/kvm") -> tuple[bool, str]:
    """Probe KVM by opening the device read-write; return (usable, reason)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return False, f"{path} not usable: {exc.strerror}"
    os.close(fd)
    return True, f"{path} opened read-write"


def kvm_flavour(sys_module: str = "/sys/module") -> str:
    """Which KVM module backs /dev/kvm: "pvm", "intel", "amd" or "unknown".

    PVM (kvm_pvm, used to run VMs inside cloud VMs without hardware
    virtualization) emulates real- and protected-mode firmware code slowly.
    """
    for module, name in (("kvm_pvm", "pvm"), ("kvm_intel", "intel"), ("kvm_amd", "amd")):
        if (Path(sys_module) / module).is_dir():
            return name
    return "unknown"
