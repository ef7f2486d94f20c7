"""A hostile guest, the part every device ABI shares: the operations and how results compare.

The operations are what the guest agent can do to fw_cfg files (write any
bytes to any name, read, reset by a method, send a junk line) and to its own
RAM (flip the bits of a byte of a file it placed there). Each ABI has a
module that knows its files (`v6_hostile.py`): a model (`HostileWorld`) that
predicts what every operation answers, what every device file reads back and
which firmware boots after a reset, and a seeded generator (`OpSource`). The
functional flow (tests/functional/flows/test_hostile.py) runs the operations
against QEMU through the registry `WORLDS` and compares.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from harness.guest.protocol import RESET_METHODS
from harness.interface.encoding import U64_MAX, crc32
from harness.interface.hostile_guest import ChangedBytes, Guest, Image
from harness.interface.memory_map import RamMap
from harness.platform import FIRMWARE_TOP, VGA_HOLE

# A blob every hostile VM has on fw_cfg (read-only) and a name none has.
READ_ONLY_FILE = "opt/vmfwtest/hostile-ro"
MISSING_FILE = "opt/vmfwtest/no-such-file"
# Files larger than this are compared by their CRC32 (the guest loads them into RAM).
COMPARED_BY_CRC_ABOVE = 64

# Outcomes of a write as the agent reports them (besides its own error words).
OK = "ok"
NO_SUCH_FILE = "no-such-file"


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


@dataclass(frozen=True)
class Flip:
    """The guest inverts the bits `mask` of its RAM byte at `addr` (read, xor, write)."""

    addr: int
    mask: int

    def describe(self) -> str:
        return f"flip {self.addr:#x} ^ {self.mask:#04x}"


Op = Write | Read | Reset | Junk | Flip


class HostileWorld(Protocol):
    """One ABI's model of the device as a hostile guest sees it."""

    images: tuple[Image, ...]
    running: str
    # what happened, by name, for the run's summary (IGVM images armed, refused, applied)
    events: Counter[str]

    def files(self) -> dict[str, bytes]:
        """What each device file must read back now."""
        ...

    def write(self, name: str, data: bytes) -> str:
        """Apply a guest write; the outcome the agent must report."""
        ...

    def reset(self) -> str:
        """Apply a cold reset; the identity of the firmware that boots."""
        ...

    def flip(self, addr: int, mask: int) -> None:
        """Apply a guest's change of its own RAM (a placed image is then not that image)."""
        ...


class OpSource(Protocol):
    def next_op(self) -> Op: ...


def run_against_model(model: HostileWorld, ops: OpSource, count: int) -> list[str]:
    """Run `count` operations against the model alone (no QEMU); their descriptions."""
    described = []
    for _ in range(count):
        op = ops.next_op()
        described.append(op.describe())
        if isinstance(op, Write):
            model.write(op.name, op.data)
        elif isinstance(op, Reset):
            model.reset()
        elif isinstance(op, Flip):
            model.flip(op.addr, op.mask)
    return described


def find_image(
    images: tuple[Image, ...], addr: int, size: int, changed: ChangedBytes | None = None
) -> Image | None:
    """The placed image at exactly (addr, size), if any (and, with `changed`, if the guest
    left its bytes as placed)."""
    image = next((i for i in images if i.addr == addr and i.size == size), None)
    if image is not None and changed is not None and changed.within(addr, size):
        return None
    return image


class SeededOps:
    """The seeded part every ABI's generator shares: the mix of operations, the addresses
    and sizes worth trying, junk lines. An ABI's generator says what it writes
    (`write_data`), which write makes a reset safe (`make_reset_safe`) and its junk forms."""

    files: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()

    def __init__(self, seed: int, reset_rate: float = 0.03, change_rate: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.reset_rate = reset_rate
        self.change_rate = change_rate

    def make_reset_safe(self) -> Write | None:
        """A write to do before a reset that would boot unknown bytes, else None."""
        raise NotImplementedError

    def guest_change(self) -> Flip | None:
        """A change of the guest's own RAM worth making now (an ABI's generator that makes
        them says which), else None."""
        return None

    def write_data(self, name: str) -> bytes:
        raise NotImplementedError

    def junk_forms(self, tail: str) -> list[str]:
        """Malformed command lines about this ABI's files."""
        raise NotImplementedError

    def addresses(
        self, ram: RamMap, region: int, granule: int, images: tuple[Image, ...]
    ) -> list[int]:
        rng = self.rng
        ram_top = ram.end_of_low_ram()
        return [
            0,
            *(img.addr for img in images),
            rng.randrange(0x100000, ram_top) & ~0xFFF,
            rng.randrange(0, ram_top),
            rng.randrange(0, VGA_HOLE),
            VGA_HOLE - granule,
            ram_top - granule,
            ram_top - 0x1000,
            ram_top,
            0xFEC00000,
            0xFED00000,
            FIRMWARE_TOP - region,
            FIRMWARE_TOP,
            1 << 40,
            U64_MAX - 0xFFF,
            U64_MAX,
            rng.getrandbits(64),
        ]

    def sizes(self, region: int, granule: int, images: tuple[Image, ...]) -> list[int]:
        rng = self.rng
        return [
            *(img.size for img in images),
            rng.randrange(1, region // granule + 1) * granule,
            0,
            region + granule,
            granule + 1,
            granule // 2,
            U64_MAX,
            rng.getrandbits(64),
        ]

    def junk(self) -> str:
        rng = self.rng
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ./-_xX"
        word = rng.choice(["xyzzy", "readz", "writeqq", "loadx", "w"])
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        forms = [f"{word} {tail}", f"read {'a' * rng.randrange(1, 200)}", *self.junk_forms(tail)]
        return rng.choice(forms)

    def next_op(self) -> Op:
        rng = self.rng
        roll = rng.random()
        if roll < self.reset_rate:
            return self.make_reset_safe() or Reset(rng.choice(RESET_METHODS))
        if roll < self.reset_rate + self.change_rate:
            change = self.guest_change()
            if change is not None:
                return change
        if roll < 0.6:
            name = rng.choices(self.files, weights=self.weights, k=1)[0]
            return Write(name, self.write_data(name))
        if roll < 0.9:
            return Read(rng.choice(self.files))
        return Junk(self.junk())


# (the guest as set up, seed) -> model and generator
Start = Callable[[Guest, int], tuple[HostileWorld, OpSource]]


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
