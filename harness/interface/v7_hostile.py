"""A hostile guest against the v7 ABI: its model (`HostileModel`) and seeded operations.

The operations are the ABI-neutral ones of `harness.interface.hostile`; the
writes to etc/vmfwupdate are structures with any control bits, image and
opaque fields, and any length (a short one is BAD_WRITE, a long one fw_cfg's
own DMA error). The model is `V7Model` plus the firmware that runs, and the
IGVM files the test placed in guest RAM (`v7_igvm_files`).

IGVM images are armed as often as ROM images (on a guest started from an
IGVM file, which has no ROM region, they are the only format offered): the
placed files as they are (`OK`, or `BAD_LAYOUT` where a page has no memory
or lies over the opaque range), shorter or longer than the file, a ROM image
or other bytes that are no IGVM file (`LOAD_FAIL`), any size and address
(`BAD_SIZE`, `BAD_RANGE`). The guest also flips bits of a placed file's
checked bytes (its fixed header, checksum, variable headers) and flips them
back: arming the damaged file is `LOAD_FAIL`, and a file damaged after it was
armed fails at the reset (`APPLY_FAIL`, the firmware unchanged).

The generator keeps the guest bootable and the run useful: before a reset it
cancels an armed ROM image that is not one placed in guest RAM (an IGVM image
the device took is a placed file); it locks the interface only together with
CTL_HOST_FW (the lock then ends with the next restore of the host's firmware),
never together with an unknown image, and damages no file while locked (an
armed trial that then fails to apply would keep the lock for good).
"""

from __future__ import annotations

from collections import Counter

from harness.guest.protocol import DMA_ERROR
from harness.interface.encoding import U64_MAX
from harness.interface.hostile import (
    MISSING_FILE,
    NO_SUCH_FILE,
    OK,
    READ_ONLY_FILE,
    Flip,
    SeededOps,
    Write,
    find_image,
)
from harness.interface.hostile_guest import ChangedBytes, Guest, Image, PlacedIgvm
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
from harness.interface.v7_igvm_files import IgvmGuestFiles
from harness.interface.v7_rules import ResetOutcome, V7Model
from harness.interface.v7_struct import Fields

ALL_FILES = (FILE, READ_ONLY_FILE, MISSING_FILE)
WRITE_WEIGHTS = (10.0, 1.0, 1.0)
ROM = FORMAT_PLATFORM_ROM
# How often the guest flips bits of a placed IGVM file; how often such a flip hits the
# armed file (APPLY_FAIL if the reset comes before the next write), else undoes earlier
# damage (so that files are not left broken for good).
CHANGE_RATE = 0.03
ARMED_SHARE = 0.9
REPAIR_SHARE = 0.6


class HostileModel:
    """The v7 device model plus what the guest sees: the structure, the running firmware;
    `events` counts what IGVM images met (armed or refused by status, applied or not)."""

    def __init__(
        self, device: V7Model, images: tuple[Image, ...], running: str, igvm: IgvmGuestFiles
    ) -> None:
        self.device = device
        self.images = images
        self.running = running
        self.host_identity = running
        self.igvm = igvm
        self.events: Counter[str] = Counter()

    @property
    def changed(self) -> ChangedBytes:
        return self.igvm.changed

    def image_at(self, addr: int, size: int) -> Image | None:
        return find_image(self.images, addr, size, self.changed)

    def files(self) -> dict[str, bytes]:
        return {FILE: self.device.fields.pack()}

    def write(self, name: str, data: bytes) -> str:
        if name != FILE:
            return NO_SUCH_FILE if name == MISSING_FILE else DMA_ERROR
        if len(data) > FILE_SIZE:
            return DMA_ERROR  # fw_cfg refuses a DMA write past the end of a file
        status = self.device.write(data)
        if len(data) == FILE_SIZE and Fields.unpack(data).control & FORMAT_IGVM:
            self.events[f"igvm arm {status.name}"] += 1
        return OK

    def reset(self) -> str:
        d = self.device
        armed = (d.fields.fw_image_addr, d.fields.fw_image_size) if d.armed else None
        igvm = d.armed_igvm
        outcome = d.reset()
        if igvm:
            self.events[f"igvm reset {outcome.value}"] += 1
        if outcome is ResetOutcome.APPLIED and armed is not None:
            self.running = self.identity_at(armed[0], armed[1], igvm)
        elif outcome is ResetOutcome.HOST_FW_RESTORED:
            self.running = self.host_identity
        return self.running

    def identity_at(self, addr: int, size: int, igvm: bool) -> str:
        """The firmware an applied image at (addr, size) boots."""
        found = self.igvm.file_at(addr, size) if igvm else self.image_at(addr, size)
        if found is None:
            raise ValueError(f"reset would boot unknown bytes at {addr:#x}")
        return found.identity

    def flip(self, addr: int, mask: int) -> None:
        self.changed.flip(addr, mask)
        self.events["guest flips"] += 1

    def unsafe_armed(self) -> bool:
        """An armed ROM image that is not one of the placed images (an IGVM image the
        device took is a placed file; if its bytes changed since, the reset refuses it)."""
        d = self.device
        if not d.armed or d.armed_igvm:
            return False
        return self.image_at(d.fields.fw_image_addr, d.fields.fw_image_size) is None


class OpGenerator(SeededOps):
    """Seeded v7 operations; they look at the model only to keep the guest bootable."""

    files = ALL_FILES
    weights = WRITE_WEIGHTS

    def __init__(self, seed: int, model: HostileModel) -> None:
        super().__init__(seed, change_rate=CHANGE_RATE if model.igvm.files else 0.0)
        self.model = model

    def make_reset_safe(self) -> Write | None:
        if not self.model.unsafe_armed():
            return None
        return Write(FILE, self.model.device.fields.with_guest_fields(0).pack())

    def guest_change(self) -> Flip | None:
        """Damage the armed IGVM file (so that the reset refuses it) or another placed one
        (a bit of a checked byte), or undo such damage; never while locked."""
        rng, model = self.rng, self.model
        if model.device.locked or not model.igvm.files:
            return None
        armed = self.armed_file()
        damaged = sorted(model.changed.masks.items())
        if armed is not None and rng.random() < ARMED_SHARE:
            target = armed
        elif damaged and rng.random() < REPAIR_SHARE:
            addr, mask = rng.choice(damaged)
            return Flip(addr, mask)
        else:
            target = rng.choice(model.igvm.files)
        mask = rng.choice([0xFF, 1 << rng.randrange(8)])
        return Flip(target.addr + rng.choice(target.checked), mask)

    def armed_file(self) -> PlacedIgvm | None:
        """The IGVM file armed now, if one is."""
        f = self.model.device.fields
        if not self.model.device.armed_igvm:
            return None
        return self.model.igvm.file_at(f.fw_image_addr, f.fw_image_size)

    def span(self) -> int:
        """The largest image size worth trying: the region, else the largest placed."""
        d = self.model.device
        return d.rom_size or max((i.size for i in self.model.images), default=GRANULE)

    def random_range(self) -> tuple[int, int]:
        d, images, span = self.model.device, self.model.images, self.span()
        addr = self.rng.choice(self.addresses(d.ram, span, GRANULE, images))
        return addr, self.rng.choice(self.sizes(span, GRANULE, images))

    def igvm_range(self) -> tuple[int, int]:
        """An IGVM image's address and size: mostly a placed file, as it is or cut short
        or longer; a ROM image (no IGVM file); any range."""
        rng, files, images = self.rng, self.model.igvm.files, self.model.images
        roll = rng.random()
        if files and roll < 0.55:
            placed = rng.choice(files)
            return placed.addr, placed.size
        if files and roll < 0.7:
            placed = rng.choice(files)
            return placed.addr, placed.size + rng.choice([-1, 1]) * rng.randrange(1, 0x2000)
        if images and roll < 0.8:
            image = rng.choice(images)
            return image.addr, image.size
        return self.random_range()

    def control(self) -> int:
        """Control bits: mostly an offered format (on trial or not), the lock rarely (every
        write is DISABLED until the restore that ends it), any other bits."""
        rng = self.rng
        offered = [f for f in (ROM, FORMAT_IGVM) if self.model.device.offered_formats & f]
        image = rng.choice(offered)
        other = FORMAT_IGVM if image == ROM else ROM
        weighted = {
            0: 1.0,
            image: 3.0,
            image | CTL_HOST_FW: 2.0,
            CTL_HOST_FW: 1.0,
            image | CTL_HOST_FW | CTL_DISABLE: 0.5,
            CTL_HOST_FW | CTL_DISABLE: 0.25,
            other: 1.0,
            ROM | FORMAT_IGVM: 0.5,
            1 << rng.randrange(2, 64): 1.0,
            rng.getrandbits(64): 1.0,
        }
        return rng.choices(list(weighted), weights=list(weighted.values()), k=1)[0]

    def opaque(self) -> tuple[int, int]:
        rng = self.rng
        choices = [(0, 0), (0x5000, 0x100), (U64_MAX - 0xFF, 0x200), (rng.getrandbits(64), 1)]
        if self.model.igvm.files:
            start, _ = rng.choice(rng.choice(self.model.igvm.files).pages)
            choices.append((start + rng.randrange(0, 0x1000), 0x10))  # over a page
        return rng.choice(choices)

    def structure(self) -> Fields:
        rng = self.rng
        control = self.control()
        if control & ROM:
            addr, size = self.random_range()
        elif control & FORMAT_IGVM:
            addr, size = self.igvm_range()
        elif rng.random() < 0.1:
            addr, size = self.random_range()
        else:
            addr = size = 0
        opaque = self.opaque()
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
        """Whether the write would lock the interface with an image the guest cannot boot
        (an IGVM image the device takes is a placed file)."""
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


def start(guest: Guest, seed: int) -> tuple[HostileModel, OpGenerator]:
    """A v7 hostile world on this guest (its RAM map, ROM region, placed images and IGVM
    files), and its generator."""
    igvm = IgvmGuestFiles.placed(guest.igvm_files, guest.ram, guest.firmware_memory, ChangedBytes())
    device = V7Model(
        rom_size=guest.region_size, ram=guest.ram, from_igvm=guest.from_igvm, igvm_files=igvm
    )
    model = HostileModel(device, guest.images, guest.running, igvm)
    return model, OpGenerator(seed, model)
