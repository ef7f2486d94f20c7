"""The device's trace output the toolkit reads: what an applied image's copy took.

QEMU's log trace backend prints one line per event, ``<pid>@<time>:<event> <format>``;
each ABI names its event (`AbiDeclaration.applied_trace`) and both series format it
``addr 0x<hex> size 0x<hex> in <n> us`` (a unit test holds the series to it). An ABI that
takes IGVM images names the event of their checks and their application
(`AbiDeclaration.igvm_trace`), formatted ``addr 0x<hex> size 0x<hex> apply <0|1>:
<status> in <n> us``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.interface.declaration import AbiDeclaration


@dataclass(frozen=True)
class AppliedImage:
    """One applied image as traced: where it came from, its size, the device's copy time."""

    addr: int
    size: int
    seconds: float


def applied_pattern(abi: AbiDeclaration) -> re.Pattern[str]:
    return re.compile(
        rf"\b{re.escape(abi.applied_trace)} addr 0x([0-9a-f]+) size 0x([0-9a-f]+) in (\d+) us"
    )


@dataclass(frozen=True)
class IgvmEvent:
    """One IGVM image checked at a write (`applied` False) or applied at a cold reset."""

    addr: int
    size: int
    applied: bool
    status: str
    seconds: float


def igvm_events(abi: AbiDeclaration, stderr: str) -> list[IgvmEvent]:
    """Every IGVM check and application traced in `stderr`, in order (none for an ABI
    without IGVM images)."""
    if abi.igvm_trace is None:
        return []
    pattern = re.compile(
        rf"\b{re.escape(abi.igvm_trace)} addr 0x([0-9a-f]+) size 0x([0-9a-f]+) "
        r"apply ([01]): (\w+) in (\d+) us"
    )
    return [
        IgvmEvent(int(addr, 16), int(size, 16), apply == "1", status, int(us) / 1_000_000)
        for addr, size, apply, status, us in pattern.findall(stderr)
    ]


def applied_images(abi: AbiDeclaration, stderr: str) -> list[AppliedImage]:
    """Every applied image traced in `stderr` (the event must be enabled), in order."""
    return [
        AppliedImage(int(addr, 16), int(size, 16), int(us) / 1_000_000)
        for addr, size, us in applied_pattern(abi).findall(stderr)
    ]
