"""Unit tests of the v7 hostile-guest model and generator (harness.interface.v7_hostile)."""

from __future__ import annotations

from harness.guest.protocol import DMA_ERROR
from harness.interface import hostile
from harness.interface import v7_hostile as h
from harness.interface.memory_map import RamMap
from harness.interface.v7 import CTL_DISABLE, CTL_HOST_FW, FILE, FORMAT_PLATFORM_ROM, Status
from harness.interface.v7_rules import V7Model
from harness.interface.v7_struct import Fields

RAM = RamMap.of([(0, 0xA0000), (0x100000, 0x10000000)])
REGION = 0x40000
IMAGES = (hostile.Image("h64", 0x1000000, 0x10000), hostile.Image("h256", 0x1200000, REGION))
HOST = "stage1"
SEEDS = 20
OPS = 1500


def world() -> h.HostileModel:
    return h.HostileModel(V7Model(rom_size=REGION, ram=RAM), IMAGES, HOST)


def run_ops(seed: int, count: int, model: h.HostileModel | None = None) -> list[str]:
    model = model or world()
    return hostile.run_against_model(model, h.OpGenerator(seed, model), count)


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
    for word in ("write", "read", "reset", "junk"):
        assert any(d.startswith(word) for d in ops), word
    for name in h.ALL_FILES:
        assert any(f"write {name} " in d for d in ops), name
    wanted = {Status.OK, Status.BAD_WRITE, Status.BAD_CONTROL, Status.BAD_SIZE, Status.BAD_RANGE}
    assert wanted <= statuses, sorted(statuses)


def test_resets_only_boot_known_images_and_locks_end() -> None:
    # model.reset() raises if a reset would copy anything but a placed image.
    for seed in range(SEEDS):
        model = world()
        run_ops(seed, OPS, model)
        assert model.running in (HOST, *(i.identity for i in IMAGES))


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
