"""Building blocks shared by the functional tests: payload images, VM starts, flows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.build.agent_image import build_agent
from harness.errors import LaunchError, VMError
from harness.guest.agent_client import AgentClient, Banner
from harness.interface.encoding import crc32
from harness.interface.memory_map import parse_flatview_ram
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, OPAQUE
from harness.interface.v6_rules import DeviceModel
from harness.machine.cmdline import FwCfgBlob, VMConfig
from harness.machine.host import kvm_flavour
from harness.machine.vm import VM

KIB = 1024
MIB = 1024 * KIB
# Largest image worth booting under PVM's KVM (see agent_deadline).
PVM_MAX_IMAGE = 1 * MIB
# Where stage 1 loads the next image: above the agent's own memory (< 0xa0000).
LOAD_ADDR = 0x1000000


class Payloads:
    """Agent images built once per session, keyed by (size, identity)."""

    def __init__(self, out_dir: Path) -> None:
        self._out = out_dir
        self._cache: dict[tuple[int, str], Path] = {}

    def get(self, size: int, identity: str) -> Path:
        key = (size, identity)
        if key not in self._cache:
            # One directory for all images: the builder reuses its objects there.
            image = Path(build_agent(size, identity, self._out))
            if image.stat().st_size != size:
                raise AssertionError(f"build_agent made {image.stat().st_size} bytes, not {size}")
            self._cache[key] = image
        return self._cache[key]


@dataclass
class Booted:
    vm: VM
    banner: Banner
    image: Path

    @property
    def agent(self) -> AgentClient:
        return self.vm.agent


class VMFactory:
    """Start VMs for one test and reap them all at the end."""

    def __init__(self, qemu_bin: Path, log_root: Path, dirs: list[Path]) -> None:
        self.qemu_bin = qemu_bin
        self.log_root = log_root
        self._dirs = dirs
        self._vms: list[VM] = []

    def config(self, machine: str, accel: str, **kw: object) -> VMConfig:
        return VMConfig(qemu_bin=self.qemu_bin, machine=machine, accel=accel, **kw)  # type: ignore[arg-type]

    def new(self, cfg: VMConfig) -> VM:
        log_dir = self.log_root / f"vm{len(self._vms)}"
        self._dirs.append(log_dir)
        vm = VM(cfg, log_dir)
        self._vms.append(vm)
        return vm

    def start(self, cfg: VMConfig) -> VM:
        vm = self.new(cfg)
        vm.launch()
        return vm

    def run_to_exit(self, cfg: VMConfig, timeout: float = 15.0) -> tuple[int, str]:
        """Run a QEMU that must exit by itself; return (status, stderr)."""
        vm = self.new(cfg)
        status = vm.run_to_exit(timeout)
        return status, vm.stderr_text()

    def booter(self, payloads: Payloads, machine: str, accel: str) -> Boot:
        return Boot(self, payloads, machine, accel)

    def close_all(self) -> None:
        errors = []
        for vm in self._vms:
            try:
                vm.shutdown(check=True)
            except VMError as exc:
                errors.append(str(exc))
        if errors:
            raise VMError("; ".join(errors))


class Boot:
    """Callable that boots the agent on the test's machine and accelerator."""

    def __init__(self, vms: VMFactory, payloads: Payloads, machine: str, accel: str) -> None:
        self.vms = vms
        self.payloads = payloads
        self.machine = machine
        self.accel = accel

    def image(self, size: int, identity: str) -> Path:
        return self.payloads.get(size, identity)

    def __call__(
        self,
        size: int = 256 * KIB,
        identity: str = "stage1",
        blobs: dict[str, Path] | None = None,
        devices: tuple[str, ...] = ("vmfwupdate",),
        **kw: object,
    ) -> Booted:
        largest = max([size, *(p.stat().st_size for p in (blobs or {}).values())])
        if self.accel == "kvm" and largest > PVM_MAX_IMAGE and kvm_flavour() == "pvm":
            pytest.skip(
                f"KVM here is PVM (kvm_pvm), which emulates firmware code at ~0.1 MB/s: "
                f"a {largest // MIB} MiB image would take minutes per CRC; TCG covers it"
            )
        image = self.image(size, identity)
        fw_cfg = tuple(FwCfgBlob(name, path) for name, path in (blobs or {}).items())
        cfg = self.vms.config(
            self.machine, self.accel, bios=image, fw_cfg=fw_cfg, devices=devices, **kw
        )
        vm = self.vms.start(cfg)
        vm.agent.timeout = vm.agent.boot_timeout = agent_deadline(self.accel, largest)
        banner = vm.agent.wait_banner()
        check_banner(banner, image, identity)
        return Booted(vm, banner, image)


def agent_deadline(accel: str, largest: int) -> float:
    """Seconds to allow for an agent reply or boot that touches `largest` bytes.

    The agent CRCs its ROM at boot and loaded images on `load`. Under TCG that
    runs at hundreds of MB/s; under a KVM that emulates legacy-mode code (as
    the PVM flavour on cloud VMs does, about 0.1 MB/s) it is the slow part.
    """
    per_64k = 1.5 if accel == "kvm" else 0.05
    return 15.0 + per_64k * (largest / (64 * KIB))


def check_banner(banner: Banner, image: Path, identity: str) -> None:
    """The running firmware is `image`: identity, placement and CRC32 all agree."""
    data = image.read_bytes()
    assert banner.identity == identity, f"booted {banner.identity!r}, expected {identity!r}"
    assert banner.rom_size == len(data), f"rom-size {banner.rom_size:#x} != {len(data):#x}"
    assert banner.rom_base == (1 << 32) - len(data), f"rom-base {banner.rom_base:#x}"
    assert banner.crc32 == crc32(data), (
        f"guest CRC32 of its ROM {banner.crc32:#010x} != host CRC32 of {image.name} "
        f"{crc32(data):#010x}"
    )


def device_model(vm: VM, region_size: int, resize: bool = True) -> DeviceModel:
    """A model of the device with the guest RAM map QEMU itself reports."""
    ram = parse_flatview_ram(vm.qmp.hmp("info mtree -f"))
    return DeviceModel(region_size=region_size, ram=ram, resize=resize)


def stage_update(agent: AgentClient, blob: str, image: Path, addr: int = LOAD_ADDR) -> None:
    """From inside the guest: load `blob` into RAM and arm an update of its size."""
    size, crc = agent.load(blob, addr)
    data = image.read_bytes()
    assert size == len(data), f"load {blob}: {size} bytes, file has {len(data)}"
    assert crc == crc32(data), f"load {blob}: guest CRC {crc:#x} != host {crc32(data):#x}"
    if agent.readq(BIOS_SIZE) != size:
        agent.writeq(BIOS_SIZE, size)
        assert agent.readq(BIOS_SIZE) == size, "bios-size write not accepted"
    agent.writeq(BIOS_ADDR, addr)
    assert agent.readq(BIOS_ADDR) == addr, "bios-addr write not accepted"


def nonce(tag: str) -> bytes:
    """Random bytes for the opaque page, tagged for the transcript."""
    return tag.encode()[:16].ljust(16, b"-") + os.urandom(48)


def write_opaque(agent: AgentClient, data: bytes) -> None:
    agent.write(OPAQUE, data)


RESET_METHODS = ("cf9", "kbd", "triple", "qmp")


def reset(vm: VM, method: str) -> Banner:
    """Reset by `method` (guest: cf9/kbd/triple, host: qmp); check QMP's RESET event.

    Returns the banner of the firmware that boots next.
    """
    mark = vm.qmp.mark()
    if method == "qmp":
        vm.qmp.cmd("system_reset")
        banner = vm.agent.wait_banner()
    else:
        banner = vm.agent.reset(method)
    event = vm.qmp.wait_event("RESET", mark)
    assert event["data"]["guest"] is (method != "qmp"), f"RESET event: {event}"
    return banner


def assert_alive(vm: VM) -> None:
    status = vm.qmp.cmd("query-status")
    assert status["status"] == "running", f"VM not running: {status}"


__all__ = [
    "MIB",
    "RESET_METHODS",
    "Boot",
    "Booted",
    "LaunchError",
    "Payloads",
    "VMFactory",
    "assert_alive",
    "check_banner",
    "device_model",
    "nonce",
    "reset",
    "stage_update",
    "write_opaque",
]
