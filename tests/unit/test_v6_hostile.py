"""Unit tests of the hostile-guest core (harness.interface.v6_hostile): generator, model, checks."""

from __future__ import annotations

import pytest

from harness.guest.protocol import RESET_METHODS
from harness.interface import hostile
from harness.interface import v6_hostile as h
from harness.interface.encoding import crc32, u64_le
from harness.interface.hostile_guest import Guest
from harness.interface.memory_map import RamMap
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, CAP, DISABLE, OPAQUE
from harness.interface.v6_rules import DeviceModel

RAM = RamMap.of([(0, 0xA0000), (0x100000, 0x10000000)])
REGION = 0x40000
IMAGES = (hostile.Image("h64", 0x1000000, 0x10000), hostile.Image("h256", 0x1200000, REGION))


def world() -> h.HostileModel:
    return h.HostileModel(DeviceModel(region_size=REGION, ram=RAM), IMAGES, "stage1")


def run_ops(seed: int, count: int) -> list[str]:
    """Run the generator against the model alone; return the operations' descriptions."""
    model = world()
    return hostile.run_against_model(model, h.OpGenerator(seed, model), count)


def test_same_seed_same_operations() -> None:
    assert run_ops(42, 2000) == run_ops(42, 2000)
    assert run_ops(42, 200) != run_ops(43, 200)


def test_generator_covers_every_kind_and_file() -> None:
    ops = run_ops(1, 5000)
    for word in ("write", "read", "reset", "junk"):
        assert any(d.startswith(word) for d in ops), word
    for name in h.ALL_FILES:
        assert any(f"write {name} " in d for d in ops), name
    for method in RESET_METHODS:
        assert f"reset {method}" in ops


def test_resets_only_boot_known_images() -> None:
    # model.reset() raises if a reset would copy anything but a placed image.
    for seed in range(20):
        run_ops(seed, 1500)


def test_write_outcomes() -> None:
    model = world()
    before = model.files()
    assert model.write(hostile.MISSING_FILE, b"x") == hostile.NO_SUCH_FILE
    assert model.write(hostile.READ_ONLY_FILE, b"x") == h.DMA_ERROR
    assert model.write(BIOS_ADDR, u64_le(0x1000000) + b"\0") == h.DMA_ERROR
    assert model.write(BIOS_ADDR, u64_le(0x1000000)[:4]) == hostile.OK  # partial: rejected
    assert model.write(CAP, u64_le(0)) == hostile.OK  # read-only: rejected
    assert model.files() == before
    assert model.write(OPAQUE, b"abc") == hostile.OK
    assert model.files()[OPAQUE][:4] == b"abc\0"
    assert model.write(DISABLE, b"\x00") == hostile.OK
    assert model.files()[DISABLE] == b"\x01"
    assert model.write(BIOS_ADDR, u64_le(0x1000000)) == hostile.OK
    assert model.files()[BIOS_ADDR] == u64_le(0), "disabled device accepted bios-addr"


def test_reset_predicts_firmware() -> None:
    model = world()
    assert model.reset() == "stage1"
    model.write(BIOS_SIZE, u64_le(0x10000))
    model.write(BIOS_ADDR, u64_le(0x1000000))
    assert not model.unsafe_pending()
    assert model.reset() == "h64"
    assert model.files()[BIOS_SIZE] == u64_le(0x10000)
    assert model.reset() == "h64"
    model.write(BIOS_ADDR, u64_le(0x1200000))  # h256's address with h64's size
    assert model.unsafe_pending()
    with pytest.raises(ValueError):
        model.reset()


def test_state_mismatches() -> None:
    model = world()
    assert hostile.by_crc(model) == [OPAQUE]
    files = {name: data for name, data in model.files().items() if name != OPAQUE}
    crc = crc32(model.files()[OPAQUE])
    assert hostile.state_mismatches(files, {OPAQUE: crc}, model) == []
    files[BIOS_SIZE] = u64_le(1)
    problems = hostile.state_mismatches(files, {OPAQUE: crc ^ 1}, model)
    assert [BIOS_SIZE in problems[0], OPAQUE in problems[1]] == [True, True]
    assert len(problems) == len([BIOS_SIZE, OPAQUE])


def test_v6_takes_no_igvm_guest_and_a_changed_image_is_unknown() -> None:
    igvm_guest = Guest(RAM, REGION, IMAGES, "stage1", from_igvm=True)
    with pytest.raises(ValueError, match="no IGVM"):
        h.start(igvm_guest, 0)
    model, _ = h.start(Guest(RAM, REGION, IMAGES, "stage1"), 0)
    assert model.image_at(IMAGES[0].addr, IMAGES[0].size) == IMAGES[0]
    model.flip(IMAGES[0].addr + 5, 0x10)
    assert model.image_at(IMAGES[0].addr, IMAGES[0].size) is None
    model.flip(IMAGES[0].addr + 5, 0x10)
    assert model.image_at(IMAGES[0].addr, IMAGES[0].size) == IMAGES[0]
