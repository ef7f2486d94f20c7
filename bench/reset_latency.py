"""Reset latency: plain reset vs reset that applies an update, next to a host memcpy.

For each image size one VM of the series boots the guest agent as -bios (so both kinds
of reset end with the agent CRC-ing a ROM of the same size), and alternates:

- plain: QMP ``system_reset`` with nothing armed, until the agent's banner;
- update: the agent loads an image of the same size from fw_cfg into RAM and the
  series' device view arms it (not timed), then QMP ``system_reset`` until the new banner.

The device's own copy time comes from its applied-image trace event (each ABI names
it), and the floor is a ``memmove`` of the same size on the host (ctypes, between
buffers already faulted in).

A series that takes IGVM images (its ABI names an IGVM trace event) is also measured
with the same second agent wrapped by the pinned igvm-wrap: the reset that applies it
next to the reset that applies the ROM image of the same bytes (ratio), the device's
own time to check and apply it next to its ROM copy, and what the checks at the write
that arms it cost (from the same trace event).
"""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

from bench.stats import Figure
from bench.target import Target
from harness.build import igvm, igvm_images
from harness.build.agent_image import build_agent
from harness.guest.protocol import LOAD_ADDR
from harness.interface.device import IgvmArming
from harness.interface.trace import IgvmEvent, applied_images, igvm_events
from harness.interface.views import device_view
from harness.machine.cmdline import DEVICE, FwCfgBlob, VMConfig
from harness.machine.vm import VM
from harness.platform import KIB

BLOB = "opt/bench/next"
IGVM_BLOB = "opt/bench/next-igvm"


def host_memcpy(size: int, reps: int) -> list[float]:
    """memmove of `size` bytes between buffers whose pages are already mapped (a warm-up
    copy faults them in), as the guest RAM and ROM the device copies between are."""
    src = ctypes.create_string_buffer(b"\x5a" * size, size)
    dst = ctypes.create_string_buffer(size)
    ctypes.memmove(dst, src, size)
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        ctypes.memmove(dst, src, size)
        samples.append(time.perf_counter() - start)
    return samples


def reset_to_banner(vm: VM) -> float:
    start = time.perf_counter()
    vm.qmp.cmd("system_reset")
    vm.agent.wait_banner()
    return time.perf_counter() - start


def arm(vm: VM, series: str, size: int) -> None:
    """Load the next image into RAM and arm it through the series' device view."""
    got, _crc = vm.agent.load(BLOB, LOAD_ADDR)
    if got != size:
        raise RuntimeError(f"agent loaded {got} bytes of {BLOB}, expected {size}")
    state = device_view(series, vm.agent).arm(LOAD_ADDR, size)
    if state.armed != (LOAD_ADDR, size):
        raise RuntimeError(f"{series}: arming {size:#x} at {LOAD_ADDR:#x} left {state}")


def arm_igvm(vm: VM, series: str, size: int) -> None:
    """Load the wrapped next image into RAM and arm it as an IGVM image."""
    got, _crc = vm.agent.load(IGVM_BLOB, LOAD_ADDR)
    if got != size:
        raise RuntimeError(f"agent loaded {got} bytes of {IGVM_BLOB}, expected {size}")
    view = device_view(series, vm.agent)
    if not isinstance(view, IgvmArming):
        raise RuntimeError(f"{series}: its device view cannot arm IGVM images")
    status = view.arm_igvm(LOAD_ADDR, size).status
    if status != 0:
        raise RuntimeError(f"{series}: arming the IGVM file of {size:#x} bytes: {status!r}")


def igvm_figures(
    target: Target, label: str, events: list[IgvmEvent], reps: int, size: int
) -> list[Figure]:
    """The device's IGVM figures from its trace: the checks at the write, the application."""
    checks = [e.seconds for e in events if not e.applied and e.status == "OK"]
    applies = [e.seconds for e in events if e.applied and e.status == "OK"]
    if len(checks) != reps or len(applies) != reps:
        raise RuntimeError(
            f"{target.series}: {len(checks)} checks and {len(applies)} applications of the "
            f"IGVM image of {size:#x} bytes traced for {reps} updates"
        )
    check = Figure("reset", f"device IGVM write-time checks {label}", checks)
    check.note = f"{target.abi.igvm_trace} trace event, apply 0"
    apply = Figure("reset", f"device IGVM apply {label}", applies)
    apply.note = f"{target.abi.igvm_trace} trace event, apply 1: the checks again, then pages"
    apply.baseline = f"device copy {label}"
    return [check, apply]


def measure_size(target: Target, work: Path, size: int, reps: int) -> list[Figure]:
    images = work / "images"
    first = build_agent(size, "benchA", images)
    second = build_agent(size, "benchB", images)
    blobs = [FwCfgBlob(BLOB, second)]
    traces = ["-trace", target.abi.applied_trace]
    wrapped = None
    if target.abi.igvm_trace:
        layout = igvm.Layout.for_repo(target.workdir.repo)
        wrapped = igvm_images.wrap(second, images / "igvm", layout=layout)
        blobs.append(FwCfgBlob(IGVM_BLOB, wrapped))
        traces += ["-trace", target.abi.igvm_trace]
    cfg = VMConfig(
        qemu_bin=target.qemu,
        bios=first,
        memory="256M",
        fw_cfg=tuple(blobs),
        devices=(DEVICE,),
        extra_args=tuple(traces),
    )
    label = f"{size // KIB} KiB"
    plain = Figure("reset", f"plain reset {label}")
    update = Figure("reset", f"reset with update {label}")
    igvm_update = Figure("reset", f"reset with IGVM update {label}")
    igvm_update.baseline = update.name
    with VM(cfg, work / "vm" / label.replace(" ", "")) as vm:
        vm.launch()
        vm.agent.timeout = vm.agent.boot_timeout = 60.0
        vm.agent.wait_banner()
        for _ in range(reps):
            plain.samples.append(reset_to_banner(vm))
            arm(vm, target.series, size)
            update.samples.append(reset_to_banner(vm))
            if wrapped:
                arm_igvm(vm, target.series, wrapped.stat().st_size)
                igvm_update.samples.append(reset_to_banner(vm))
    copies = [a.seconds for a in applied_images(target.abi, vm.stderr_text()) if a.size == size]
    if len(copies) != reps:
        raise RuntimeError(
            f"{target.series}: {len(copies)} {target.abi.applied_trace} events for "
            f"{reps} updates of {label} (QEMU stderr: {vm.logs.stderr})"
        )
    copy = Figure("reset", f"device copy {label}", copies)
    copy.note = f"{target.abi.applied_trace} trace event"
    floor = Figure("reset", f"host memcpy {label}", host_memcpy(size, reps))
    copy.baseline = floor.name
    figures = [plain, update, copy, floor]
    if wrapped:
        igvm_update.note = f"the second agent wrapped by igvm-wrap ({wrapped.stat().st_size} B)"
        events = igvm_events(target.abi, vm.stderr_text())
        figures += [igvm_update, *igvm_figures(target, label, events, reps, size)]
    return figures


def run(target: Target, work: Path, sizes: tuple[int, ...], reps: int) -> list[Figure]:
    figures: list[Figure] = []
    for size in sizes:
        figures += measure_size(target, work, size, reps)
    return figures
