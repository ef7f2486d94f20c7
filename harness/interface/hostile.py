"""A hostile guest, the part every device ABI shares: the operations and how results compare.

The operations are what the guest agent can do to fw_cfg files (write any
bytes to any name, read, reset by a method, send a junk line). Each ABI has a
module that knows its files (`v6_hostile.py`): a model (`HostileWorld`) that
predicts what every operation answers, what every device file reads back and
which firmware boots after a reset, and a seeded generator (`OpSource`). The
functional flow (tests/functional/flows/test_hostile.py) runs the operations
against QEMU through the registry `WORLDS` and compares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from harness.interface.encoding import crc32
from harness.interface.memory_map import RamMap

# A blob every hostile VM has on fw_cfg (read-only) and a name none has.
READ_ONLY_FILE = "opt/vmfwtest/hostile-ro"
MISSING_FILE = "opt/vmfwtest/no-such-file"
# Files larger than this are compared by their CRC32 (the guest loads them into RAM).
COMPARED_BY_CRC_ABOVE = 64

# Outcomes of a write as the agent reports them (besides its own error words).
OK = "ok"
NO_SUCH_FILE = "no-such-file"


@dataclass(frozen=True)
class Image:
    """A firmware image the test placed in guest RAM at `addr`."""

    identity: str
    addr: int
    size: int


@dataclass(frozen=True)
class Write:
    name: str
    data: bytes

    def describe(self) -> str:
        shown = self.data.hex() if len(self.data) <= 16 else f"{self.data[:8].hex()}..."
        return f"write {self.name} {len(self.data)} bytes {shown}"


@dataclass(frozen=True)
class Read:
    name: str

    def describe(self) -> str:
        return f"read {self.name}"


@dataclass(frozen=True)
class Reset:
    method: str

    def describe(self) -> str:
        return f"reset {self.method}"


@dataclass(frozen=True)
class Junk:
    """A command line the agent must refuse with ERR (and survive)."""

    line: str

    def describe(self) -> str:
        return f"junk {self.line[:60]!r}"


Op = Write | Read | Reset | Junk


class HostileWorld(Protocol):
    """One ABI's model of the device as a hostile guest sees it."""

    images: tuple[Image, ...]
    running: str

    def files(self) -> dict[str, bytes]:
        """What each device file must read back now."""
        ...

    def write(self, name: str, data: bytes) -> str:
        """Apply a guest write; the outcome the agent must report."""
        ...

    def reset(self) -> str:
        """Apply a cold reset; the identity of the firmware that boots."""
        ...


class OpSource(Protocol):
    def next_op(self) -> Op: ...


# (RAM map, region size, images in RAM, running identity, seed) -> model and generator
Start = Callable[[RamMap, int, tuple[Image, ...], str, int], tuple[HostileWorld, OpSource]]


def expected_read(model: HostileWorld, name: str) -> bytes | None:
    """What `read name` returns, or None if the agent answers ERR no-such-file."""
    if name == MISSING_FILE:
        return None
    if name == READ_ONLY_FILE:
        raise ValueError("the read-only blob's bytes are the test's, not the model's")
    return model.files()[name]


def by_crc(model: HostileWorld) -> list[str]:
    """The device files the guest compares by CRC32 instead of reading them."""
    return [name for name, data in model.files().items() if len(data) > COMPARED_BY_CRC_ABOVE]


def state_mismatches(
    read: Mapping[str, bytes], crcs: Mapping[str, int], model: HostileWorld
) -> list[str]:
    """Mismatches between what the guest read (large files as a CRC32) and the model."""
    want = model.files()
    problems = [
        f"{name}: read {got[:16].hex()} want {want[name][:16].hex()}"
        for name, got in read.items()
        if got != want[name]
    ]
    problems += [
        f"{name}: crc32 {crc:#010x} want {crc32(want[name]):#010x}"
        for name, crc in crcs.items()
        if crc != crc32(want[name])
    ]
    return problems
