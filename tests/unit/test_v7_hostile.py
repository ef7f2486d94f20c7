"""Unit tests of the v7 hostile-guest model and generator (harness.interface.v7_hostile),
with IGVM files placed in guest RAM (harness.interface.v7_igvm_files) on both boot kinds."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.guest.protocol import DMA_ERROR
from harness.interface import hostile, v7
from harness.interface import v7_hostile as h
from harness.interface.hostile_guest import Guest, Image, PlacedIgvm
from harness.interface.memory_map import RamMap
from harness.interface.v7 import (
    CTL_DISABLE,
    CTL_HOST_FW,
    FILE,
    FORMAT_IGVM,
    FORMAT_PLATFORM_ROM,
    Status,
)
from harness.interface.v7_igvm_files import rom_region_memory
from harness.interface.v7_rules import ResetOutcome
from harness.interface.v7_struct import Fields
from harness.platform import FIRMWARE_TOP, KIB, MIB

RAM = RamMap.of([(0, 0xA0000), (0x100000, 0x10000000)])
REGION = 0x40000
IMAGES = (Image("h64", 0x1000000, 0x10000), Image("h256", 0x1200000, REGION))
HOST = "stage1"
SEEDS = 20
OPS = 1500
LOW_END = 0x100000
# where the checked bytes of these files are (magic, checksum, variable headers)
CHECKED = (0, 20, 0x40)


def wrapped(identity: str, addr: int, image_size: int, file_size: int) -> PlacedIgvm:
    """A file laid out as igvm-wrap lays out an agent image of `image_size` bytes: its
    pages at the top of 4 GiB and its last 128 KiB (or all of it) below 1 MiB."""
    low = min(image_size, 128 * KIB)
    pages = ((LOW_END - low, LOW_END), (FIRMWARE_TOP - image_size, FIRMWARE_TOP))
    return PlacedIgvm(identity, addr, file_size, pages, CHECKED)


G64 = wrapped("g64", 0x1400000, 64 * KIB, 0x4438)
G512 = wrapped("g512", 0x1500000, 512 * KIB, 0x5438)
IGVM_FILES = (G64, G512)
BIOS_GUEST = Guest(RAM, REGION, IMAGES, HOST, IGVM_FILES, rom_region_memory(v7.ABI, REGION, REGION))
# a guest started from the host agent's file: its pages are the firmware's memory
IGVM_GUEST = Guest(
    RAM, 0, IMAGES, HOST, IGVM_FILES, wrapped(HOST, 0, REGION, 0).pages, from_igvm=True
)
GUESTS = {"bios": BIOS_GUEST, "igvm": IGVM_GUEST}


def world(guest: Guest = BIOS_GUEST) -> h.HostileModel:
    return h.start(guest, 0)[0]


def run_ops(seed: int, count: int, model: h.HostileModel | None = None) -> list[str]:
    model = model or world()
    return hostile.run_against_model(model, h.OpGenerator(seed, model), count)


def arm(
    model: h.HostileModel,
    control: int,
    addr: int,
    size: int,
    opaque: tuple[int, int] = (0, 0),
) -> Status:
    """Write the structure with these fields; the status the device leaves."""
    written = model.device.fields.with_guest_fields(control, addr, size, *opaque)
    assert model.write(FILE, written.pack()) == hostile.OK
    return Status(model.device.fields.status)


def test_same_seed_same_operations() -> None:
    assert run_ops(42, 2000) == run_ops(42, 2000)
    assert run_ops(42, 200) != run_ops(43, 200)


def test_generator_covers_every_kind_file_and_status() -> None:
    model = world()
    statuses: set[int] = set()
    gen = h.OpGenerator(1, model)
    for _ in range(5000):
        op = gen.next_op()
        if isinstance(op, hostile.Write):
            model.write(op.name, op.data)
            statuses.add(model.device.fields.status)
        elif isinstance(op, hostile.Reset):
            model.reset()
    ops = run_ops(1, 5000)
    for word in ("write", "read", "reset", "junk", "flip"):
        assert any(d.startswith(word) for d in ops), word
    for name in h.ALL_FILES:
        assert any(f"write {name} " in d for d in ops), name
    wanted = {Status.OK, Status.BAD_WRITE, Status.BAD_CONTROL, Status.BAD_SIZE, Status.BAD_RANGE}
    assert wanted <= statuses, sorted(statuses)


@pytest.mark.parametrize("kind", GUESTS)
def test_igvm_outcomes_each_occur(kind: str) -> None:
    seen: Counter[str] = Counter()
    for seed in range(5):
        model = world(GUESTS[kind])
        run_ops(seed, 3000, model)
        seen += model.events
    arms = {f"igvm arm {s.name}" for s in (Status.OK, Status.LOAD_FAIL, Status.BAD_LAYOUT)}
    arms |= {f"igvm arm {s.name}" for s in (Status.BAD_SIZE, Status.BAD_RANGE)}
    resets = {f"igvm reset {o.value}" for o in (ResetOutcome.APPLIED, ResetOutcome.APPLY_FAIL)}
    assert arms | resets | {"guest flips"} <= set(seen), seen


@pytest.mark.parametrize("kind", GUESTS)
def test_resets_only_boot_known_images_and_locks_end(kind: str) -> None:
    # model.reset() raises if a reset would copy anything but a placed image or file.
    known = {HOST, *(i.identity for i in IMAGES), *(f.identity for f in IGVM_FILES)}
    for seed in range(SEEDS):
        model = world(GUESTS[kind])
        run_ops(seed, OPS, model)
        assert model.running in known


def test_host_firmware_comes_back_after_a_trial() -> None:
    model = world()
    trial = model.device.fields.with_guest_fields(
        FORMAT_PLATFORM_ROM | CTL_HOST_FW | CTL_DISABLE, IMAGES[0].addr, IMAGES[0].size
    )
    assert model.write(FILE, trial.pack()) == hostile.OK
    assert model.reset() == IMAGES[0].identity
    assert model.device.fields.control == CTL_HOST_FW | CTL_DISABLE
    assert model.reset() == HOST
    assert model.device.fields.control == 0


def test_write_outcomes() -> None:
    model = world()
    assert model.write(hostile.MISSING_FILE, b"x") == hostile.NO_SUCH_FILE
    assert model.write(hostile.READ_ONLY_FILE, b"x") == DMA_ERROR
    assert model.write(FILE, bytes(65)) == DMA_ERROR
    assert model.device.fields.status == Status.OK
    assert model.write(FILE, bytes(8)) == hostile.OK
    assert model.device.fields.status == Status.BAD_WRITE
    assert model.files() == {FILE: model.device.fields.pack()}
    assert Fields.unpack(model.files()[FILE]).fw_rom_size == REGION


@pytest.mark.parametrize("kind", GUESTS)
def test_placed_igvm_file_is_armed_and_boots(kind: str) -> None:
    model = world(GUESTS[kind])
    assert arm(model, FORMAT_IGVM, G64.addr, G64.size) is Status.OK
    assert model.reset() == G64.identity
    assert arm(model, FORMAT_IGVM | CTL_HOST_FW, G64.addr, G64.size) is Status.OK
    assert model.reset() == G64.identity
    assert model.reset() == HOST
    assert model.events == Counter({"igvm arm OK": 2, "igvm reset applied": 2})


@pytest.mark.parametrize(
    ("addr", "size", "opaque", "status"),
    [
        (G64.addr, G64.size - 1, (0, 0), Status.LOAD_FAIL),
        (G64.addr, G64.size + 0x1000, (0, 0), Status.LOAD_FAIL),
        (IMAGES[0].addr, IMAGES[0].size, (0, 0), Status.LOAD_FAIL),
        (G64.addr + 0x10, G64.size, (0, 0), Status.LOAD_FAIL),
        (G64.addr, G64.size, (FIRMWARE_TOP - 0x1000, 0x1000), Status.BAD_LAYOUT),
        (G64.addr, G64.size, (LOW_END - 1, 1), Status.BAD_LAYOUT),
        (G64.addr, 0, (0, 0), Status.BAD_SIZE),
        (G64.addr, 128 * MIB + 1, (0, 0), Status.BAD_SIZE),
        (FIRMWARE_TOP - G64.size, G64.size, (0, 0), Status.BAD_RANGE),
    ],
    ids=[
        "truncated",
        "longer",
        "rom-image",
        "off-start",
        "opaque-top-page",
        "opaque-low-page",
        "size-0",
        "over-max",
        "not-ram",
    ],
)
@pytest.mark.parametrize("kind", GUESTS)
def test_igvm_refusals(
    kind: str, addr: int, size: int, opaque: tuple[int, int], status: Status
) -> None:
    model = world(GUESTS[kind])
    before = model.device.fields
    assert arm(model, FORMAT_IGVM, addr, size, opaque) is status
    assert model.device.fields == Fields(**{**before.__dict__, "status": status})


def test_pages_outside_memory_are_bad_layout() -> None:
    # 512 KiB of pages: the ROM region's room holds them, a 256 KiB host IGVM's memory not
    roomy = Guest(
        RAM, 2 * REGION, IMAGES, HOST, IGVM_FILES, rom_region_memory(v7.ABI, 2 * REGION, REGION)
    )
    assert arm(world(roomy), FORMAT_IGVM, G512.addr, G512.size) is Status.OK
    for guest in (BIOS_GUEST, IGVM_GUEST):
        assert arm(world(guest), FORMAT_IGVM, G512.addr, G512.size) is Status.BAD_LAYOUT


@pytest.mark.parametrize("offset", CHECKED)
def test_damaged_file_is_refused_until_repaired(offset: int) -> None:
    model = world()
    model.flip(G64.addr + offset, 0x04)
    assert arm(model, FORMAT_IGVM, G64.addr, G64.size) is Status.LOAD_FAIL
    model.flip(G64.addr + offset, 0x04)
    assert arm(model, FORMAT_IGVM, G64.addr, G64.size) is Status.OK


def test_a_change_the_model_cannot_judge_is_an_error() -> None:
    model = world()
    model.flip(G64.addr + 0x1000, 0xFF)  # page data: what would run is not known
    with pytest.raises(ValueError, match="outside its checked"):
        arm(model, FORMAT_IGVM, G64.addr, G64.size)


@pytest.mark.parametrize("kind", GUESTS)
def test_damage_after_arming_fails_at_the_reset(kind: str) -> None:
    model = world(GUESTS[kind])
    assert arm(model, FORMAT_IGVM, G64.addr, G64.size) is Status.OK
    model.flip(G64.addr, 0xFF)
    assert model.reset() == HOST
    f = model.device.fields
    assert (f.status, f.control, f.fw_image_addr, f.fw_image_size) == (Status.APPLY_FAIL, 0, 0, 0)
    assert model.events["igvm reset apply-fail"] == 1


def test_a_trial_that_arms_a_damaged_trial_returns_to_the_host() -> None:
    model = world()
    assert arm(model, FORMAT_IGVM | CTL_HOST_FW, G64.addr, G64.size) is Status.OK
    assert model.reset() == G64.identity
    assert arm(model, FORMAT_IGVM | CTL_HOST_FW, G64.addr, G64.size) is Status.OK
    model.flip(G64.addr + CHECKED[1], 0x80)
    assert model.reset() == HOST  # the restore that was due happens


def test_a_guest_started_from_igvm_takes_igvm_only() -> None:
    model = world(IGVM_GUEST)
    f = model.device.fields
    assert (f.capabilities, f.fw_rom_size) == (FORMAT_IGVM, 0)
    assert arm(model, FORMAT_PLATFORM_ROM, IMAGES[0].addr, IMAGES[0].size) is Status.BAD_CONTROL


def test_no_damage_while_locked() -> None:
    model = world()
    assert arm(model, CTL_HOST_FW | CTL_DISABLE, 0, 0) is Status.OK
    gen = h.OpGenerator(3, model)
    assert all(gen.guest_change() is None for _ in range(50))
