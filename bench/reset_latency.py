"""Reset latency: plain reset vs reset that applies an update, next to a host memcpy.

For each image size one VM boots the guest agent as -bios (so both kinds of
reset end with the agent CRC-ing a ROM of the same size), and alternates:

- plain: QMP ``system_reset`` with nothing armed, until the agent's banner;
- update: the agent loads an image of the same size from fw_cfg into RAM and
  arms it (not timed), then QMP ``system_reset`` until the new banner.

The device's own copy time comes from its ``vmfwupdate_update_applied``
trace event ("in N us"), and the floor is a ``memmove`` of the same size on
the host (ctypes, between buffers already faulted in).
"""

from __future__ import annotations

import ctypes
import re
import time
from pathlib import Path

from bench.stats import Figure
from harness.build.agent_image import build_agent
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE
from harness.machine.cmdline import FwCfgBlob, VMConfig
from harness.machine.vm import VM

KIB = 1024
SIZES = (64 * KIB, 256 * KIB, 1024 * KIB, 4096 * KIB, 16384 * KIB)
LOAD_ADDR = 0x1000000
BLOB = "opt/bench/next"
APPLIED_RE = re.compile(r"vmfwupdate_update_applied .*size 0x([0-9a-f]+) in (\d+) us")


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


def arm(vm: VM, size: int) -> None:
    got, _crc = vm.agent.load(BLOB, LOAD_ADDR)
    if got != size:
        raise RuntimeError(f"agent loaded {got} bytes of {BLOB}, expected {size}")
    vm.agent.writeq(BIOS_SIZE, size)
    vm.agent.writeq(BIOS_ADDR, LOAD_ADDR)


def device_copy_times(stderr: str, size: int) -> list[float]:
    return [
        int(us) * 1e-6 for hexsize, us in APPLIED_RE.findall(stderr) if int(hexsize, 16) == size
    ]


def measure_size(qemu: Path, work: Path, size: int, reps: int) -> list[Figure]:
    images = work / "images"
    first = build_agent(size, "benchA", images)
    second = build_agent(size, "benchB", images)
    cfg = VMConfig(
        qemu_bin=qemu,
        bios=first,
        memory="256M",
        fw_cfg=(FwCfgBlob(BLOB, second),),
        devices=("vmfwupdate",),
        extra_args=("-trace", "vmfwupdate_update_applied"),
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
            arm(vm, size)
            update.samples.append(reset_to_banner(vm))
    copy = Figure("reset", f"device copy {label}", device_copy_times(vm.stderr_text(), size))
    copy.note = "vmfwupdate_update_applied trace event"
    floor = Figure("reset", f"host memcpy {label}", host_memcpy(size, reps))
    copy.baseline = floor.name
    return [plain, update, copy, floor]


def run(qemu: Path, work: Path, reps: int) -> list[Figure]:
    figures: list[Figure] = []
    for size in SIZES:
        figures += measure_size(qemu, work, size, reps)
    return figures
