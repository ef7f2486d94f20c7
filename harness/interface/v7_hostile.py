"""A hostile guest against the v7 ABI: its model (`HostileModel`) and seeded operations.

The operations are the ABI-neutral ones of `harness.interface.hostile`; the
writes to etc/vmfwupdate are structures with any control bits, image and
opaque fields, and any length (a short one is BAD_WRITE, a long one fw_cfg's
own DMA error). The model is `V7Model` plus the firmware that runs.

The generator keeps the guest bootable and the run useful: before a reset it
cancels an armed image that is not one placed in guest RAM; it locks the
interface only together with CTL_HOST_FW (the lock then ends with the next
restore of the host's firmware), and never together with an unknown image.
"""

from __future__ import annotations

from harness.guest.protocol import DMA_ERROR
from harness.interface.encoding import U64_MAX
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
from harness.interface.memory_map import RamMap
from harness.interface.v7 import (
    CTL_DISABLE,
    CTL_HOST_FW,
    FILE,
    FILE_SIZE,
    FORMAT_IGVM,
    FORMAT_PLATFORM_ROM,
    GRANULE,
    Status,
)
from harness.interface.v7_rules import ResetOutcome, V7Model
from harness.interface.v7_struct import Fields

ALL_FILES = (FILE, READ_ONLY_FILE, MISSING_FILE)
WRITE_WEIGHTS = (10.0, 1.0, 1.0)
ROM = FORMAT_PLATFORM_ROM


class HostileModel:
    """The v7 device model plus what the guest sees: the structure, the running firmware."""

    def __init__(self, device: V7Model, images: tuple[Image, ...], running: str) -> None:
        self.device = device
        self.images = images
        self.running = running
        self.host_identity = running

    def image_at(self, addr: int, size: int) -> Image | None:
        return find_image(self.images, addr, size)

    def files(self) -> dict[str, bytes]:
        return {FILE: self.device.fields.pack()}

    def write(self, name: str, data: bytes) -> str:
        if name != FILE:
            return NO_SUCH_FILE if name == MISSING_FILE else DMA_ERROR
        if len(data) > FILE_SIZE:
            return DMA_ERROR  # fw_cfg refuses a DMA write past the end of a file
        self.device.write(data)
        return OK

    def reset(self) -> str:
        d = self.device
        armed = (d.fields.fw_image_addr, d.fields.fw_image_size) if d.armed else None
        outcome = d.reset()
        if outcome is ResetOutcome.APPLIED and armed is not None:
            image = self.image_at(*armed)
            if image is None:
                raise ValueError(f"reset would boot unknown bytes at {armed[0]:#x}")
            self.running = image.identity
        elif outcome is ResetOutcome.HOST_FW_RESTORED:
            self.running = self.host_identity
        return self.running

    def unsafe_armed(self) -> bool:
        """An armed image that is not one of the placed images."""
        f = self.device.fields
        return self.device.armed and self.image_at(f.fw_image_addr, f.fw_image_size) is None


class OpGenerator(SeededOps):
    """Seeded v7 operations; they look at the model only to keep the guest bootable."""

    files = ALL_FILES
    weights = WRITE_WEIGHTS

    def __init__(self, seed: int, model: HostileModel) -> None:
        super().__init__(seed)
        self.model = model

    def make_reset_safe(self) -> Write | None:
        if not self.model.unsafe_armed():
            return None
        return Write(FILE, self.model.device.fields.with_guest_fields(0).pack())

    def control(self) -> int:
        rng = self.rng
        return rng.choice(
            [
                0,
                ROM,
                ROM,
                ROM | CTL_HOST_FW,
                CTL_HOST_FW,
                ROM | CTL_HOST_FW | CTL_DISABLE,
                CTL_HOST_FW | CTL_DISABLE,
                FORMAT_IGVM,
                ROM | FORMAT_IGVM,
                1 << rng.randrange(2, 64),
                rng.getrandbits(64),
            ]
        )

    def structure(self) -> Fields:
        rng = self.rng
        control = self.control()
        if control & ROM or rng.random() < 0.1:
            d, images = self.model.device, self.model.images
            addr = rng.choice(self.addresses(d.ram, d.rom_size, GRANULE, images))
            size = rng.choice(self.sizes(d.rom_size, GRANULE, images))
        else:
            addr = size = 0
        opaque = rng.choice(
            [(0, 0), (0x5000, 0x100), (U64_MAX - 0xFF, 0x200), (rng.getrandbits(64), 1)]
        )
        written = Fields(
            version=rng.getrandbits(16),
            status=rng.getrandbits(16),
            padding=rng.getrandbits(32) if rng.random() < 0.2 else 0,
            capabilities=rng.getrandbits(64) if rng.random() < 0.2 else 0,
            control=control,
            fw_image_addr=addr,
            fw_image_size=size,
            opaque_addr=opaque[0],
            opaque_size=opaque[1],
            fw_rom_size=rng.getrandbits(64) if rng.random() < 0.2 else 0,
        )
        if control & CTL_DISABLE and self.locks_unknown(written):
            written = written.with_guest_fields(
                control & ~CTL_DISABLE, addr, size, opaque[0], opaque[1]
            )
        return written

    def locks_unknown(self, written: Fields) -> bool:
        """Whether the write would lock the interface with an image the guest cannot boot."""
        if self.model.device.verdict(written.pack()) is not Status.OK:
            return False
        if not written.control & ROM:
            return False
        return self.model.image_at(written.fw_image_addr, written.fw_image_size) is None

    def write_data(self, name: str) -> bytes:
        rng = self.rng
        if name != FILE:
            return rng.randbytes(rng.randrange(1, 64))
        data = self.structure().pack()
        roll = rng.random()
        if roll < 0.85:
            return data
        if roll < 0.95:
            return data[: rng.randrange(1, FILE_SIZE)]  # BAD_WRITE
        return data + rng.randbytes(rng.randrange(1, 16))  # past the end: fw_cfg's error

    def junk_forms(self, tail: str) -> list[str]:
        rng = self.rng
        return [f"write {FILE} {'0' * rng.randrange(1, 7, 2)}", f"write {FILE} {tail}g"]


def start(
    ram: RamMap, region_size: int, images: tuple[Image, ...], running: str, seed: int
) -> tuple[HostileModel, OpGenerator]:
    """A v7 hostile world on this RAM map and ROM region, and its generator."""
    model = HostileModel(V7Model(rom_size=region_size, ram=ram), images, running)
    return model, OpGenerator(seed, model)
