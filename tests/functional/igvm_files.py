"""IGVM files in the functional tests: firmware wrapped by the pinned igvm-wrap, QEMU started
from such a file, and what the host reads of a VM to compare two of them.

`IgvmFiles` (the session fixture `igvm_files`) wraps Debian's SeaBIOS and OVMF and the
agent images with ``harness.build.igvm_images.wrap``: each worker keeps its files under
``<payload-dir>/<worker>/igvm/``, named by input, options and tool version, reused between
runs like the agent images. `start_from_igvm` starts QEMU with ``-object igvm-cfg`` and
``-machine igvm-cfg=`` (no -bios), as QEMU's own launch from that file. `pages` and
`registers` return what the host reads (QMP ``pmemsave``, HMP ``info registers``); the tests
compare.

The host firmware that arms an update is started two ways (`BOOT_KINDS`, a test parameter
like machine and accelerator): the agent as -bios, or the agent wrapped as IGVM and QEMU
started from that file (`IgvmBooter`). A host started from an IGVM file has no ROM region:
`fw_rom_size` 0, only FORMAT_IGVM offered, no room (`rom-max-size`).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from checks import image_facts, load
from vms import Booted, Booter, Payloads, VMFactory

from harness.build import igvm
from harness.build.igvm_images import Inspection, Wrap, inspect, wrap
from harness.build.igvm_payloads import Payload
from harness.guest.protocol import LOAD_ADDR
from harness.interface.abis import abi as abi_declaration
from harness.interface.hostile_guest import PlacedIgvm
from harness.interface.igvm_file import FixedHeader
from harness.interface.trace import IgvmEvent, igvm_events
from harness.interface.v7 import ABI as V7_ABI
from harness.interface.v7 import CTL_HOST_FW, FORMAT_IGVM, Status
from harness.interface.v7_device import V7Device
from harness.interface.v7_struct import Fields
from harness.machine.cmdline import BIOS_BOOT, BOOT_KINDS, IGVM_BOOT
from harness.machine.vm import VM
from harness.workdir import find_repo_root

# QEMU's option that turns on the trace of every IGVM check (`igvm_checks` reads it).
IGVM_TRACE = ("-trace", str(V7_ABI.igvm_trace))
# How the host (the agent that arms the update) is started: "bios", the agent as the -bios
# ROM; "igvm", the agent wrapped by igvm-wrap and QEMU started from that file
# (-object igvm-cfg, -machine igvm-cfg=, no -bios).
BIOS, IGVM = BIOS_BOOT, IGVM_BOOT
# Why a flow that gives the device room for a larger ROM does not run on the "igvm" kind.
NO_ROM_REGION = (
    "a guest started from an IGVM file has no ROM region: fw_rom_size 0, no "
    "FORMAT_PLATFORM_ROM, and a rom-max-size other than 0 is refused at realize "
    "(v7 interface, section 'IGVM images')"
)


class IgvmFiles:
    """IGVM files made from firmware images, kept in `out_dir` (one directory per worker)."""

    def __init__(self, out_dir: Path, payloads: Payloads) -> None:
        self.out_dir = out_dir
        self.payloads = payloads
        self.layout = igvm.Layout.for_repo(find_repo_root())

    def wrap(self, image: Path, kind: Wrap = Wrap.PLAIN) -> Path:
        return wrap(image, self.out_dir, kind, layout=self.layout)

    def agent(self, size: int, identity: str, kind: Wrap = Wrap.PLAIN) -> Path:
        """The agent image of `size` bytes and `identity`, wrapped."""
        return self.wrap(self.payloads.get(size, identity), kind)

    def payload(self, payload: Payload) -> Path:
        """A payload of chosen pages (`harness.build.igvm_payloads`), wrapped."""
        return self.wrap(payload.write(self.out_dir / "payloads"))

    @functools.cache  # noqa: B019 (one instance per session)
    def inspect(self, path: Path) -> Inspection:
        return inspect(path, layout=self.layout)

    def native_pages(self, path: Path) -> tuple[tuple[int, int], ...]:
        """The page ranges [start, end) a native launch of the file `path` writes."""
        return tuple((r.gpa, r.end) for r in self.inspect(path).native_pages())

    def placed(self, identity: str, path: Path, addr: int) -> PlacedIgvm:
        """What a model knows of the file `path` once placed in guest RAM at `addr`: its
        size, its native pages (igvm-inspect's), the bytes libigvm's checks cover."""
        data = path.read_bytes()
        checked = FixedHeader.unpack(data).refused_if_changed
        return PlacedIgvm(identity, addr, len(data), self.native_pages(path), checked)


class IgvmBooter(Booter):
    """Boots the agent wrapped as an IGVM file (`files`), QEMU started from that file: the
    agent's pages at the top of 4 GiB as igvm-wrap puts them, no -bios. `Booted.image` is
    the raw agent (what its banner's CRC is compared with), `Booted.igvm` the file; with
    `copy_to`, QEMU is started from a copy there (a test may delete or overwrite it)."""

    def __init__(
        self,
        vms: VMFactory,
        payloads: Payloads,
        machine: str,
        accel: str,
        abi: str,
        files: IgvmFiles,
    ) -> None:
        super().__init__(vms, payloads, machine, accel, abi)
        self.files = files
        self.copy_to: Path | None = None

    def __call__(self, *args: object, rom_max_size: int | None = None, **kw: object) -> Booted:
        if rom_max_size is not None:
            pytest.skip(NO_ROM_REGION)
        return super().__call__(*args, **kw)  # type: ignore[arg-type]

    def firmware(self, image: Path, kw: dict[str, object]) -> tuple[Path | None, dict[str, object]]:
        path = self.files.wrap(image)
        if self.copy_to is not None:
            self.copy_to.parent.mkdir(parents=True, exist_ok=True)
            self.copy_to.write_bytes(path.read_bytes())
            path = self.copy_to
        return path, {**kw, "igvm": path}


def host_booter(
    vms: VMFactory,
    payloads: Payloads,
    machine: str,
    accel: str,
    abi: str,
    boot_kind: str,
    files: IgvmFiles,
) -> Booter:
    """Boots the host agent the way `boot_kind` (one of BOOT_KINDS) says."""
    if boot_kind == BIOS:
        return vms.booter(payloads, machine, accel, abi)
    if boot_kind == IGVM:
        if not abi_declaration(abi).igvm_guests:
            pytest.skip(
                f"the {abi} device is offered to no guest started from an IGVM file "
                "(its ABI declaration: igvm_guests)"
            )
        return IgvmBooter(vms, payloads, machine, accel, abi, files)
    raise ValueError(f"boot kind {boot_kind!r}: not one of {BOOT_KINDS}")


def start_from_igvm(
    vms: VMFactory,
    machine: str,
    accel: str,
    path: Path,
    *,
    paused: bool = False,
    extra_args: tuple[str, ...] = (),
) -> VM:
    """QEMU started from the IGVM file `path` (no -bios, no device); with `paused`, stopped
    before the first instruction (-S)."""
    cfg = vms.config(
        machine, accel, igvm=path, extra_args=(*(("-S",) if paused else ()), *extra_args)
    )
    return vms.start(cfg)


def pages(vm: VM, inspection: Inspection, out_dir: Path) -> dict[int, bytes]:
    """Every page range a native launch of the inspected file writes, as `vm` holds it now
    (QMP pmemsave into `out_dir`): first address -> the range's bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dumps = {}
    for r in inspection.native_pages():
        path = out_dir / f"pages-{r.gpa:x}-{r.count}.bin"
        vm.qmp.cmd("pmemsave", {"val": r.gpa, "size": r.size, "filename": str(path)})
        dumps[r.gpa] = path.read_bytes()
    return dumps


def registers(vm: VM) -> list[str]:
    """vCPU 0's registers as HMP ``info registers`` prints them, one line each (the CPU#
    title left out)."""
    out = vm.qmp.hmp("info registers")
    return [
        line.rstrip() for line in out.splitlines() if line.strip() and not line.startswith("CPU#")
    ]


def register(lines: list[str], name: str) -> int:
    """The value of register `name` (``CR0``, ``EIP``) in `registers`' lines."""
    for line in lines:
        m = re.search(rf"(?:^|\s){re.escape(name)}=([0-9a-f]+)", line)
        if m:
            return int(m[1], 16)
    raise KeyError(f"{name} not in the registers: {lines}")


def entry_address(lines: list[str]) -> int:
    """Where vCPU 0 runs next: the base of CS (``CS =<selector> <base> ...``) plus EIP."""
    for line in lines:
        m = re.match(r"CS =[0-9a-f]+ ([0-9a-f]+) ", line)
        if m:
            return int(m[1], 16) + register(lines, "EIP")
    raise KeyError(f"no CS in the registers: {lines}")


def igvm_checks(b: Booted) -> list[IgvmEvent]:
    """The IGVM checks (at writes) and applications (at resets) the device has traced so
    far, in order: the host must be started with `IGVM_TRACE`."""
    return igvm_events(V7_ABI, b.vm.stderr_text())


def v7_device(b: Booted) -> V7Device:
    """The v7 view of a booted host (IGVM images are a v7 format)."""
    device = b.device
    assert isinstance(device, V7Device), f"the {b.abi} device takes no IGVM images"
    return device


def assert_igvm_armed(
    b: Booted, blob: str, file: Path, *, trial: bool = False, addr: int = LOAD_ADDR
) -> Fields:
    """Load `blob` (which holds the IGVM file `file`) at `addr` and arm it with FORMAT_IGVM
    (and CTL_HOST_FW for a `trial`): asserts that the guest loaded exactly `file` and that
    the device took it (status OK, the fields as written). Returns the read-back."""
    loaded = load(b.agent, blob, addr)
    assert loaded == image_facts(file, addr), f"load {blob}: {loaded}"
    armed = v7_device(b).arm_igvm(addr, loaded.size, trial=trial)
    want = (Status.OK, FORMAT_IGVM | (CTL_HOST_FW if trial else 0), addr, loaded.size)
    got = (Status(armed.status), armed.control, armed.fw_image_addr, armed.fw_image_size)
    assert got == want, f"arming the IGVM file {file.name}: {armed}"
    return armed
