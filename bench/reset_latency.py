"""Reset latency: plain reset vs reset that applies an update, next to a host memcpy.

For each image size one VM of the series boots the guest agent as -bios (so both kinds
of reset end with the agent CRC-ing a ROM of the same size), and alternates:

- plain: QMP ``system_reset`` with nothing armed, until the agent's banner;
- update: the agent loads an image of the same size from fw_cfg into RAM and the
  series' device view arms it (not timed), then QMP ``system_reset`` until the new banner.

The device's own copy time comes from its applied-image trace event (each ABI names
it), and the floor is a ``memmove`` of the same size on the host (ctypes, between
buffers already faulted in).
"""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

from bench.stats import Figure
from bench.target import Target
from harness.build.agent_image import build_agent
from harness.guest.protocol import LOAD_ADDR
from harness.interface.trace import applied_images
from harness.interface.views import device_view
from harness.machine.cmdline import DEVICE, FwCfgBlob, VMConfig
from harness.machine.vm import VM
from harness.platform import KIB

BLOB = "opt/bench/next"


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


def measure_size(target: Target, work: Path, size: int, reps: int) -> list[Figure]:
    images = work / "images"
    first = build_agent(size, "benchA", images)
    second = build_agent(size, "benchB", images)
    cfg = VMConfig(
        qemu_bin=target.qemu,
        bios=first,
        memory="256M",
        fw_cfg=(FwCfgBlob(BLOB, second),),
        devices=(DEVICE,),
        extra_args=("-trace", target.abi.applied_trace),
    )
    label = f"{size // KIB} KiB"
    plain = Figure("reset", f"plain reset {label}")
    update = Figure("reset", f"reset with update {label}")
    with VM(cfg, work / "vm" / label.replace(" ", "")) as vm:
        vm.launch()
        vm.agent.timeout = vm.agent.boot_timeout = 60.0
        vm.agent.wait_banner()
        for _ in range(reps):
            plain.samples.append(reset_to_banner(vm))
            arm(vm, target.series, size)
            update.samples.append(reset_to_banner(vm))
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
    return [plain, update, copy, floor]


def run(target: Target, work: Path, sizes: tuple[int, ...], reps: int) -> list[Figure]:
    figures: list[Figure] = []
    for size in sizes:
        figures += measure_size(target, work, size, reps)
    return figures
