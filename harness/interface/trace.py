"""The device's trace output the toolkit reads: what an applied image's copy took.

QEMU's log trace backend prints one line per event, ``<pid>@<time>:<event> <format>``;
each ABI names its event (`AbiDeclaration.applied_trace`) and both series format it
``addr 0x<hex> size 0x<hex> in <n> us`` (a unit test holds the series to it).
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


def applied_images(abi: AbiDeclaration, stderr: str) -> list[AppliedImage]:
    """Every applied image traced in `stderr` (the event must be enabled), in order."""
    return [
        AppliedImage(int(addr, 16), int(size, 16), int(us) / 1_000_000)
        for addr, size, us in applied_pattern(abi).findall(stderr)
    ]
