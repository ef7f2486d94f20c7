"""Build the QEMU command line for one test VM (pure logic, no processes).

The VM driver (`harness.machine.vm`) runs what this module builds. Keeping the
argument list separate makes it unit-testable and lets a failing test print
the exact command it ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MACHINES = ("pc", "q35")
# The device under test, as -device names it.
DEVICE = "vmfwupdate"
ACCELS = ("tcg", "kvm")

# isa-debug-exit: the guest writes a value v to this port, QEMU exits (v << 1) | 1.
DEBUG_EXIT_IOBASE = 0xF4


# QEMU's size suffixes (qemu_strtosz), largest first: what `size_text` writes.
SIZE_SUFFIXES = (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))


def size_text(size: int) -> str:
    """A size as a user writes it on QEMU's command line: 4194304 -> "4M", 98304 -> "96K"."""
    if size < 0:
        raise ValueError(f"a size is not negative: {size}")
    for suffix, unit in SIZE_SUFFIXES:
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def device_driver(spec: str) -> str:
    """The driver of a -device argument: "vmfwupdate,rom-resize=off" -> "vmfwupdate"."""
    return spec.split(",", 1)[0]


def device_arg(spec: str, props: Mapping[str, str]) -> str:
    """The -device argument `spec` (a driver, or a driver with properties) with `props` added."""
    for name, value in props.items():
        if not name or any(c in name for c in ",=") or "," in value:
            raise ValueError(f"-device property {name}={value} cannot be written in {spec!r}")
    return ",".join((spec, *(f"{name}={value}" for name, value in props.items())))


@dataclass(frozen=True)
class FwCfgBlob:
    """One `-fw_cfg name=...,file=...` argument."""

    name: str
    path: Path

    def arg(self) -> str:
        if "," in self.name or "," in str(self.path):
            raise ValueError(f"fw_cfg name/path must not contain ',': {self.name} {self.path}")
        return f"name={self.name},file={self.path}"


# How a VM starts its firmware: "bios", the image as -bios (a ROM region); "igvm", QEMU
# started from an IGVM file (VMConfig.igvm), as `vmfwupdate run --boot` and the functional
# tests' boot_kind parameter name them.
BIOS_BOOT = "bios"
IGVM_BOOT = "igvm"
BOOT_KINDS = (BIOS_BOOT, IGVM_BOOT)
# The id of the igvm-cfg object a VM started from an IGVM file gets (VMConfig.igvm).
IGVM_OBJECT = "igvm0"


@dataclass(frozen=True)
class VMConfig:
    """Everything that decides how one VM is started."""

    qemu_bin: Path
    machine: str = "pc"
    accel: str = "tcg"
    # Added to -accel, e.g. ("tb-size=4",) to bound TCG's translation buffer.
    accel_opts: tuple[str, ...] = ()
    bios: Path | None = None
    # Start from this IGVM file instead (-object igvm-cfg, -machine igvm-cfg=; no -bios).
    igvm: Path | None = None
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
        if self.bios is not None and self.igvm is not None:
            raise ValueError("a VM starts from -bios or from an IGVM file, not both")


def optionrom_dir(qemu_bin: Path) -> Path:
    """Where the build step puts kvmvapic.bin and friends, next to the binary."""
    return qemu_bin.parent / "pc-bios" / "optionrom"


def optionrom_for(qemu_bin: Path) -> Path | None:
    """The -L directory of a binary built by the toolkit, or None for another binary."""
    optrom = optionrom_dir(qemu_bin)
    return optrom if (optrom / "kvmvapic.bin").is_file() else None


def fd_wiring(qmp_fd: int, serial_fd: int) -> list[str]:
    """QMP and COM1 on inherited socket fds: how the test driver talks to QEMU."""
    return [
        "-chardev",
        f"socket,id=qmp,fd={qmp_fd}",
        "-mon",
        "chardev=qmp,mode=control",
        "-chardev",
        f"socket,id=ser0,fd={serial_fd}",
        "-serial",
        "chardev:ser0",
    ]


def terminal_wiring(qmp_socket: Path) -> list[str]:
    """COM1 and HMP on this terminal, QMP on a unix socket: `vmfwupdate run`."""
    return ["-serial", "mon:stdio", "-qmp", f"unix:{qmp_socket},server=on,wait=off"]


def build_args(cfg: VMConfig, wiring: list[str], optionrom: Path | None) -> list[str]:
    """Return argv for QEMU; `wiring` connects QMP and the console (`fd_wiring`,
    `terminal_wiring`), `optionrom` is the -L directory (`optionrom_for`) or None."""
    igvm_opts = (f"igvm-cfg={IGVM_OBJECT}",) if cfg.igvm is not None else ()
    machine = ",".join((cfg.machine, *igvm_opts, *cfg.machine_opts))
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
        *wiring,
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
    if cfg.igvm is not None:
        args += ["-object", f"igvm-cfg,id={IGVM_OBJECT},file={cfg.igvm}"]
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


def debug_exit_value(status: int) -> int | None:
    """The low 7 bits of the value a guest wrote to isa-debug-exit for QEMU to exit with
    ``status``, or None when no write gives that status (even, or a signal)."""
    if status <= 0 or not status & 1:
        return None
    return status >> 1
