"""The v6 hostile guest, as pure logic: the seeded operations and the model of the five files.

`OpGenerator` makes a reproducible sequence of agent operations from a seed:
writes of any length and any value to any file (the vmfwupdate files, a
read-only blob, a name that does not exist), reads, resets by every method
and junk command lines. `HostileModel` (a `harness.interface.hostile.HostileWorld`)
predicts, for each operation, what the agent must answer and what every file
must read back, and which firmware boots after a reset. The functional flow
(tests/functional/flows/test_hostile.py) runs the operations against QEMU and
compares; unit tests (tests/unit/test_v6_hostile.py) cover this module alone.

The generator keeps the guest bootable: before a reset it cancels a
pending update whose address and size are not one of the images placed in
guest RAM (copying random RAM would boot garbage that cannot answer).
"""

from __future__ import annotations

from collections import Counter

from harness.guest.protocol import DMA_ERROR, MAX_WRITE_BYTES
from harness.interface.encoding import U64_BYTES, U64_MAX, from_u64_le, u64_le
from harness.interface.hostile import (
    MISSING_FILE,
    NO_SUCH_FILE,
    OK,
    READ_ONLY_FILE,
    Image,
    SeededOps,
    Write,
    find_image,
)
from harness.interface.hostile_guest import ChangedBytes, Guest
from harness.interface.v6 import (
    BIOS_ADDR,
    BIOS_SIZE,
    CAP,
    DISABLE,
    FILE_SIZES,
    GRANULE,
    OPAQUE,
    OPAQUE_SIZE,
)
from harness.interface.v6_rules import DeviceModel

DEVICE_FILES = tuple(FILE_SIZES)
ALL_FILES = (*DEVICE_FILES, READ_ONLY_FILE, MISSING_FILE)
# How often each of ALL_FILES is written: disable rarely, as it latches until a reset.
WRITE_WEIGHTS = (2.0, 10.0, 10.0, 0.5, 3.0, 1.0, 1.0)


class HostileModel:
    """The device model plus what the guest sees: file bytes, the running firmware."""

    def __init__(self, device: DeviceModel, images: tuple[Image, ...], running: str) -> None:
        self.device = device
        self.images = images
        self.running = running
        self.events: Counter[str] = Counter()
        self.changed = ChangedBytes()

    def image_at(self, addr: int, size: int) -> Image | None:
        return find_image(self.images, addr, size, self.changed)

    def flip(self, addr: int, mask: int) -> None:
        self.changed.flip(addr, mask)

    def files(self) -> dict[str, bytes]:
        """What each vmfwupdate file must read back now."""
        d = self.device
        return {
            CAP: u64_le(d.cap),
            BIOS_SIZE: u64_le(d.bios_size),
            BIOS_ADDR: u64_le(d.bios_addr),
            DISABLE: bytes([d.disable]),
            OPAQUE: d.opaque,
        }

    def write(self, name: str, data: bytes) -> str:
        """Apply a guest write; return the outcome the agent must report."""
        if name not in FILE_SIZES:
            return NO_SUCH_FILE if name == MISSING_FILE else DMA_ERROR
        if len(data) > FILE_SIZES[name]:
            return DMA_ERROR  # fw_cfg refuses a DMA write past the end of a file
        if name == OPAQUE:
            self.device.write_opaque(data)
        elif name == DISABLE:
            self.device.write_disable(data[0])
        elif len(data) == U64_BYTES:
            self.device.write(name, from_u64_le(data))
        # A partial u64 write is rejected: the file keeps the accepted value.
        return OK

    def reset(self) -> str:
        """Apply a cold reset; return the identity of the firmware that boots."""
        d = self.device
        pending = (d.bios_addr, d.bios_size) if d.update_pending() else None
        applied = d.reset()
        if applied is not None and pending is not None:
            image = self.image_at(*pending)
            if image is None:
                raise ValueError(f"reset would boot unknown bytes at {pending[0]:#x}")
            self.running = image.identity
        return self.running

    def unsafe_pending(self) -> bool:
        """An armed update that would copy something other than a known image."""
        d = self.device
        return d.update_pending() and self.image_at(d.bios_addr, d.bios_size) is None


class OpGenerator(SeededOps):
    """Seeded v6 operations; they look at the model only to keep the guest bootable."""

    files = ALL_FILES
    weights = WRITE_WEIGHTS

    def __init__(self, seed: int, model: HostileModel) -> None:
        super().__init__(seed)
        self.model = model

    def make_reset_safe(self) -> Write | None:
        return Write(BIOS_ADDR, u64_le(0)) if self.model.unsafe_pending() else None

    def value_bytes(self, name: str) -> bytes:
        rng = self.rng
        if name == BIOS_ADDR:
            d = self.model.device
            value = rng.choice(self.addresses(d.ram, d.region_size, GRANULE, self.model.images))
        elif name == BIOS_SIZE:
            value = rng.choice(
                self.sizes(self.model.device.region_size, GRANULE, self.model.images)
            )
        else:
            value = rng.choice([0, 1, U64_MAX, rng.getrandbits(64)])
        data = u64_le(value)
        roll = rng.random()
        if roll < 0.8:
            return data  # a whole u64
        if roll < 0.9:
            return data[: rng.randrange(1, 8)]  # partial
        return data + rng.randbytes(rng.randrange(1, 16))  # past the end

    def write_data(self, name: str) -> bytes:
        rng = self.rng
        if name in (BIOS_ADDR, BIOS_SIZE, CAP):
            return self.value_bytes(name)
        if name == DISABLE:
            return rng.randbytes(1 if rng.random() < 0.8 else rng.randrange(2, 10))
        if name == OPAQUE:
            length = rng.choice([1, 8, 64, rng.randrange(1, MAX_WRITE_BYTES + 1), OPAQUE_SIZE])
            return rng.randbytes(length)
        return rng.randbytes(rng.randrange(1, 64))

    def junk_forms(self, tail: str) -> list[str]:
        rng = self.rng
        return [
            f"writeq {rng.choice(DEVICE_FILES)} {tail or 'zz'}g",
            f"writeq {rng.choice(DEVICE_FILES)}",
            f"write {rng.choice(DEVICE_FILES)} {'0' * rng.randrange(1, 7, 2)}",
        ]


def start(guest: Guest, seed: int) -> tuple[HostileModel, OpGenerator]:
    """A v6 hostile world on this guest's RAM map and firmware region, and its generator
    (v6 takes ROM images from a -bios guest only)."""
    if guest.igvm_files or guest.from_igvm:
        raise ValueError("the v6 device takes no IGVM files and no guest started from one")
    device = DeviceModel(region_size=guest.region_size, ram=guest.ram)
    model = HostileModel(device, guest.images, guest.running)
    return model, OpGenerator(seed, model)
