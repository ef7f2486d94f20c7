"""Starting VMs for the functional tests: agent images, the per-test VM factory, booting.

`Booter` starts QEMU with the agent and waits for its banner; it returns what
booted (`Booted`: the VM, the banner, the image, the device view of the
test's ABI) and asserts nothing: the tests compare the banner with the image
(`checks.assert_runs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.build.agent_image import build_agent
from harness.errors import VMError
from harness.guest.agent_client import AgentClient, Banner
from harness.interface.abis import abi as abi_declaration
from harness.interface.declaration import RomRoom
from harness.interface.device import DeviceView
from harness.interface.views import device_view
from harness.machine.cmdline import (
    DEVICE,
    FwCfgBlob,
    VMConfig,
    device_arg,
    device_driver,
    size_text,
)
from harness.machine.host import kvm_flavour
from harness.machine.vm import VM
from harness.platform import KIB, MIB

# Largest image worth booting under PVM's KVM (see agent_deadline).
PVM_MAX_IMAGE = 1 * MIB
# The agent image a test boots unless it says otherwise.
DEFAULT_IMAGE_SIZE = 256 * KIB
STAGE1 = "stage1"


def rom_room(abi: str) -> RomRoom:
    """The room ABI `abi` declares for a firmware larger than the host's ROM; a test that
    needs it is skipped, with the reason, on an ABI without one (v6)."""
    room = abi_declaration(abi).rom_room
    if room is None:
        pytest.skip(
            f"the {abi} device has no room for a firmware larger than the host's -bios ROM "
            f"(its ABI declaration has no rom_room: no such -device property)"
        )
    return room


def with_room(abi: str, devices: tuple[str, ...], rom_max_size: int) -> tuple[str, ...]:
    """`devices` with the room property of ABI `abi` set to `rom_max_size` on the device
    under test, written as a user would ("4M"); skips where the ABI has no room."""
    room = rom_room(abi)
    if DEVICE not in map(device_driver, devices):
        raise ValueError(f"no -device {DEVICE} in {devices} to give {room.property}")
    prop = {room.property: size_text(rom_max_size)}
    return tuple(device_arg(d, prop) if device_driver(d) == DEVICE else d for d in devices)


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
    """A VM that booted an agent image: its first banner and the device view of its ABI."""

    vm: VM
    banner: Banner
    image: Path
    identity: str
    abi: str
    # The IGVM file QEMU was started from (boot kind "igvm"), None for a -bios host.
    igvm: Path | None = None

    @property
    def agent(self) -> AgentClient:
        return self.vm.agent

    @property
    def device(self) -> DeviceView:
        return device_view(self.abi, self.vm.agent)


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

    def booter(self, payloads: Payloads, machine: str, accel: str, abi: str) -> Booter:
        return Booter(self, payloads, machine, accel, abi)

    def close_all(self) -> None:
        errors = []
        for vm in self._vms:
            try:
                vm.shutdown(check=True)
            except VMError as exc:
                errors.append(str(exc))
        if errors:
            raise VMError("; ".join(errors))


class Booter:
    """Callable that boots the agent on the test's machine, accelerator and device ABI."""

    def __init__(
        self, vms: VMFactory, payloads: Payloads, machine: str, accel: str, abi: str
    ) -> None:
        self.vms = vms
        self.payloads = payloads
        self.machine = machine
        self.accel = accel
        self.abi = abi

    def image(self, size: int, identity: str) -> Path:
        return self.payloads.get(size, identity)

    def __call__(
        self,
        size: int = DEFAULT_IMAGE_SIZE,
        identity: str = STAGE1,
        blobs: dict[str, Path] | None = None,
        devices: tuple[str, ...] = (DEVICE,),
        rom_max_size: int | None = None,
        **kw: object,
    ) -> Booted:
        """Boot the agent of `size` bytes; `rom_max_size`: with that much room for firmware
        (the ABI's room property on the device; the test is skipped on an ABI without)."""
        if rom_max_size is not None:
            devices = with_room(self.abi, devices, rom_max_size)
        largest = max([size, *(p.stat().st_size for p in (blobs or {}).values())])
        if self.accel == "kvm" and largest > PVM_MAX_IMAGE and kvm_flavour() == "pvm":
            pytest.skip(
                f"KVM here is PVM (kvm_pvm), which emulates firmware code at ~1 us per "
                f"instruction: the agent's CRC takes about 4 s per MiB of data, here "
                f"{largest // MIB} MiB; TCG covers it"
            )
        image = self.image(size, identity)
        fw_cfg = tuple(FwCfgBlob(name, path) for name, path in (blobs or {}).items())
        started_from, firmware = self.firmware(image, kw)
        cfg = self.vms.config(self.machine, self.accel, fw_cfg=fw_cfg, devices=devices, **firmware)
        vm = self.vms.start(cfg)
        vm.agent.timeout = vm.agent.boot_timeout = agent_deadline(self.accel, largest)
        return Booted(vm, vm.agent.wait_banner(), image, identity, self.abi, started_from)

    def firmware(self, image: Path, kw: dict[str, object]) -> tuple[Path | None, dict[str, object]]:
        """How QEMU starts the agent `image`: the IGVM file it is started from (None here)
        and the VMConfig fields `kw` with the firmware's: here `image` as -bios."""
        return None, {**kw, "bios": image}


def agent_deadline(accel: str, largest: int) -> float:
    """Seconds to allow for an agent reply or boot that touches `largest` bytes.

    The agent CRCs its ROM at boot and loaded images on `load`. Under TCG that
    runs at hundreds of MB/s; under a KVM that emulates legacy-mode code (as
    the PVM flavour on cloud VMs does, about 1 us per instruction) it is the
    slow part: about 0.25 MB/s of data, 8 MB/s of zero padding (the agent
    skips zero runs with `repe scasl`, harness/agent/crc32.c): an agent image
    boots there in under a second up to 2 MiB, 4 s at 16 MiB, but other data
    is slow. The deadline allows for data.
    """
    per_64k = 1.5 if accel == "kvm" else 0.05
    return 15.0 + per_64k * (largest / (64 * KIB))
