"""IGVM checks: what the device's checks of an IGVM image cost, in time and in QEMU's host
memory, by the file's size and by its number of directives.

The files are made by the pinned igvm-wrap from payloads (`harness.build.igvm_payloads`):
random pages giving files of about 1, 10 and 100 MiB (the "size" series), and empty pages
giving files of 10, 1,000, 4,128 and 100,000 page directives in a few KiB to ~3 MiB (the
"directives" series). Every payload ends in a reset-vector stub that halts the guest.

The host: the 256 KiB agent as -bios, 512 MiB of RAM, the device with the largest ROM room
of its ABI (16 MiB), `igvm-max-size` at its default (128 MiB). igvm-wrap puts the pages at
the top of 4 GiB, so only a payload of up to 16 MiB (4,096 pages: 4,128 directives) fits
there; a larger one (the 100 MiB file, the 100,000 directives) fits no guest here.

For each file and repetition one VM: the agent loads the file from fw_cfg into RAM, then

1. refused: it is armed with the opaque range over its first page at the top of 4 GiB.
   The device allocates and reads the whole file, libigvm parses all of it, the device
   checks the directives in order up to that page (the 6th or 33rd) and refuses it with
   BAD_LAYOUT: the cost of the read and of libigvm's parse. A file whose directives the
   device counts over igvm-max-size (4 KiB each: the 100,000) is refused before the parse,
   BAD_SIZE: the cost of the read and of the count;
2. checked (the files whose pages fit): armed as it is, every directive checked: OK;
3. at the reset (the same files): QMP ``system_reset``; the device reads and checks the
   file again and then applies it (a second pass over the same bytes), OK in its trace.

Time is the device's own, from the `vmfwupdate_igvm` trace event. Memory is QEMU's VmRSS
and VmHWM (`harness.machine.process_memory`), the peak set back to the resident set before
each step: "peak RSS rise" is the peak during the step over the resident set before it,
"RSS kept" the resident set after it over the one before. At the reset the peak also holds
the ROM room that the apply zero-fills and writes (16 MiB of guest memory).

Each figure's ratio is to the same figure of the next smaller file of its series: growth
in proportion to the file shows as the ratio of the two files (10x for 10 MiB / 1 MiB), a
fixed cost as less.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.stats import BYTES, SECONDS, Figure
from bench.target import Target
from harness.build import igvm, igvm_images, igvm_payloads
from harness.build.agent_image import build_agent
from harness.build.igvm_images import PAGE_SIZE
from harness.guest.protocol import LOAD_ADDR
from harness.interface.device import IgvmArming
from harness.interface.igvm_file import held_size
from harness.interface.trace import IgvmEvent, igvm_events
from harness.interface.v7 import IGVM_MAX_SIZE
from harness.interface.views import device_view
from harness.machine.cmdline import DEVICE, FwCfgBlob, VMConfig, device_arg, size_text
from harness.machine.process_memory import memory, reset_peak
from harness.machine.vm import VM
from harness.platform import FIRMWARE_TOP, KIB, MIB

GROUP = "igvm"
BLOB = "opt/bench/igvm"
HOST_IMAGE = 256 * KIB
MEMORY = "512M"
OK = "OK"
REFUSED = "BAD_LAYOUT"
# A file whose directives the device counts over igvm-max-size (4 KiB each) before the
# parse: refused without it (v7 patch 7).
REFUSED_UNPARSED = "BAD_SIZE"
RESET_DEADLINE = 60.0
AGENT_TIMEOUT = 60.0
REFUSED_STEP = "refused at its first top page"
UNPARSED_STEP = "refused before the parse (directives counted)"
CHECK_STEP = "write-time check"
RESET_STEP = "check and apply at reset"
TIME = "time"
PEAK = "peak RSS rise"
KEPT = "RSS kept"


@dataclass(frozen=True)
class IgvmFile:
    """One measured file: its label, its series, the payload it wraps, the file."""

    label: str
    series: str
    payload: igvm_payloads.Payload
    path: Path
    directives: int

    def fits(self, room: int) -> bool:
        """Whether its pages fit the host's ROM room (else only the refused path runs)."""
        return self.payload.size <= room

    def refusal(self) -> tuple[str, str]:
        """How the device refuses it armed with the opaque range over a page: the status
        and the step's name. Over igvm-max-size by its directives, before the parse."""
        if held_size(self.path.read_bytes()) > IGVM_MAX_SIZE:
            return REFUSED_UNPARSED, UNPARSED_STEP
        return REFUSED, REFUSED_STEP


@dataclass(frozen=True)
class StepCost:
    """One traced check: the device's status and time, QEMU's memory around it."""

    status: str
    seconds: float
    peak_rise: int
    kept: int


def make_file(
    label: str, series: str, payload: igvm_payloads.Payload, work: Path, layout: igvm.Layout
) -> IgvmFile:
    """`payload` wrapped by igvm-wrap; the directive count is what igvm-inspect reads."""
    path = igvm_images.wrap(payload.write(work / "payloads"), work / "igvm", layout=layout)
    inspection = igvm_images.inspect(path, layout=layout)
    directives = sum(r.count for r in inspection.native_pages())
    if directives != payload.directives:
        raise RuntimeError(
            f"{path.name}: igvm-inspect reads {directives} page directives, "
            f"expected {payload.directives} for {payload}"
        )
    return IgvmFile(label, series, payload, path, directives)


def files(
    work: Path, layout: igvm.Layout, sizes: tuple[int, ...], counts: tuple[int, ...]
) -> list[IgvmFile]:
    made = [
        make_file(f"{size // MIB} MiB file", "size", igvm_payloads.for_file_size(size),
                  work, layout)
        for size in sizes
    ]  # fmt: skip
    made += [
        make_file(f"{count:,} directives", "directives", igvm_payloads.for_directives(count),
                  work, layout)
        for count in counts
    ]  # fmt: skip
    return made


def traced_events(vm: VM, target: Target, count: int, deadline: float) -> list[IgvmEvent]:
    """The first `count` IGVM events in QEMU's stderr, waiting up to `deadline` for them."""
    end = time.monotonic() + deadline
    while True:
        events = igvm_events(target.abi, vm.stderr_text())
        if len(events) >= count or time.monotonic() > end:
            return events
        time.sleep(0.01)


def step(vm: VM, target: Target, action: Callable[[], object], deadline: float) -> StepCost:
    """Run `action`, which makes the device check an IGVM image once; what it cost."""
    seen = len(igvm_events(target.abi, vm.stderr_text()))
    before = reset_peak(vm.pid)
    action()
    events = traced_events(vm, target, seen + 1, deadline)
    after = memory(vm.pid)
    if len(events) != seen + 1:
        raise RuntimeError(
            f"{len(events) - seen} {target.abi.igvm_trace} events for one check "
            f"(QEMU stderr: {vm.logs.stderr})"
        )
    event = events[seen]
    return StepCost(event.status, event.seconds, after.peak - before.rss, after.rss - before.rss)


def expect(cost: StepCost, status: str, what: str) -> StepCost:
    if cost.status != status:
        raise RuntimeError(f"{what}: the device traced {cost.status}, expected {status}")
    return cost


def measure_once(
    target: Target, host: Path, room: int, file: IgvmFile, log_dir: Path
) -> dict[str, StepCost]:
    """One VM: the file loaded, refused, checked and applied at a reset (if it fits)."""
    assert target.abi.igvm_trace is not None and target.abi.rom_room is not None
    room_arg = device_arg(DEVICE, {target.abi.rom_room.property: size_text(room)})
    cfg = VMConfig(
        qemu_bin=target.qemu,
        bios=host,
        memory=MEMORY,
        fw_cfg=(FwCfgBlob(BLOB, file.path),),
        devices=(room_arg,),
        extra_args=("-trace", target.abi.igvm_trace),
    )
    size = file.path.stat().st_size
    first_top_page = (FIRMWARE_TOP - file.payload.size, PAGE_SIZE)
    costs: dict[str, StepCost] = {}
    with VM(cfg, log_dir) as vm:
        vm.launch()
        vm.agent.timeout = vm.agent.boot_timeout = AGENT_TIMEOUT
        vm.agent.wait_banner()
        got, _crc = vm.agent.load(BLOB, LOAD_ADDR)
        if got != size:
            raise RuntimeError(f"the agent loaded {got} bytes of {file.path}, not {size}")
        view = device_view(target.series, vm.agent)
        if not isinstance(view, IgvmArming):
            raise RuntimeError(f"{target.series}: its device view cannot arm IGVM images")

        def refuse() -> object:
            return view.arm_igvm(LOAD_ADDR, size, opaque=first_top_page)

        # The first check in a process pays once for what later ones reuse (the heap grown,
        # libigvm's first use): one refused write first, not measured.
        what = f"{file.label} with the opaque range over its first top page"
        status, refused_step = file.refusal()
        expect(step(vm, target, refuse, 0), status, what)
        costs[refused_step] = expect(step(vm, target, refuse, 0), status, what)
        if file.fits(room):
            costs[CHECK_STEP] = expect(
                step(vm, target, lambda: view.arm_igvm(LOAD_ADDR, size, opaque=(0, 0)), 0),
                OK,
                f"arming {file.label}",
            )
            costs[RESET_STEP] = expect(
                step(vm, target, lambda: vm.qmp.cmd("system_reset"), RESET_DEADLINE),
                OK,
                f"the reset that applies {file.label}",
            )
    return costs


def figures_of(
    file: IgvmFile, samples: list[dict[str, StepCost]], smaller: IgvmFile | None
) -> list[Figure]:
    """The figures of one file from its repetitions; each compared with `smaller`'s."""
    out = []
    note = f"{file.path.stat().st_size:,} B, {file.directives:,} directives"
    for name in (REFUSED_STEP, UNPARSED_STEP, CHECK_STEP, RESET_STEP):
        costs = [s[name] for s in samples if name in s]
        if not costs:
            continue
        quantities: list[tuple[str, list[float], str]] = [
            (TIME, [c.seconds for c in costs], SECONDS),
            (PEAK, [float(c.peak_rise) for c in costs], BYTES),
        ]
        if name != RESET_STEP:  # the reset also writes guest ROM: its RSS is not the check's
            quantities.append((KEPT, [float(c.kept) for c in costs], BYTES))
        for quantity, values, unit in quantities:
            fig = Figure(GROUP, f"{file.label}: {name}, {quantity}", values, note=note, unit=unit)
            if smaller is not None and quantity != KEPT:
                fig.baseline = f"{smaller.label}: {name}, {quantity}"
            out.append(fig)
    return out


def run(
    target: Target, work: Path, sizes: tuple[int, ...], counts: tuple[int, ...], reps: int
) -> list[Figure]:
    """Every file `reps` times, one VM each; [] for a series that takes no IGVM images."""
    if target.abi.igvm_trace is None or target.abi.rom_room is None:
        return []
    layout = igvm.Layout.for_repo(target.workdir.repo)
    host = build_agent(HOST_IMAGE, "igvmhost", work / "images")
    room = target.abi.rom_room.limit
    measured = files(work, layout, sizes, counts)
    figures: list[Figure] = []
    previous: dict[str, IgvmFile] = {}
    for file in measured:
        samples = [
            measure_once(target, host, room, file, work / "vm" / f"{file.path.stem}-{rep}")
            for rep in range(reps)
        ]
        figures += figures_of(file, samples, previous.get(file.series))
        previous[file.series] = file
    return figures
