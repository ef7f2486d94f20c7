"""Room for a bigger firmware (issue 24): the declaration of v7's `rom-max-size` and its
rules (harness.interface.declaration.RomRoom), and the v7 view, rules model and hostile
model taking images up to the region's size the device reports (fw_rom_size), not the
host's -bios size."""

from __future__ import annotations

import pytest

from harness.guest.protocol import LOAD_ADDR
from harness.interface import hostile, v6, v7
from harness.interface import v7_hostile as h
from harness.interface.abis import ABIS
from harness.interface.declaration import RomRoom, RoomRule
from harness.interface.hostile_guest import Guest
from harness.interface.memory_map import RamMap
from harness.interface.v7 import FORMAT_PLATFORM_ROM, GRANULE, Status
from harness.interface.v7_device import V7Device
from harness.interface.v7_rules import V7Model
from harness.interface.v7_struct import Fields
from harness.platform import KIB, MIB

ROOM = v7.ROM_ROOM
SEABIOS_SIZED = 256 * KIB
OVMF_SIZED = 2 * MIB
RAM = RamMap.of([(0, 0xA0000), (0x100000, 0x10000000)])
SEEDS = 10
OPS = 2000


def test_v7_declares_the_property_and_its_limits_once() -> None:
    assert v7.ABI.rom_room is ROOM
    assert (ROOM.property, ROOM.granule, ROOM.limit) == (
        v7.ROM_MAX_SIZE_PROPERTY,
        v7.GRANULE,
        v7.ROM_MAX_SIZE_LIMIT,
    )
    assert ROOM.property == "rom-max-size"
    assert (ROOM.granule, ROOM.limit) == (64 * KIB, 16 * MIB)


def test_v6_has_no_room() -> None:
    # The five-file interface has no such property: its flows skip on this fact.
    assert v6.ABI.rom_room is None
    assert [a.name for a in ABIS.values() if a.rom_room is not None] == [v7.NAME]


@pytest.mark.parametrize(
    ("value", "host_rom", "resize", "rules"),
    [
        (0, SEABIOS_SIZED, True, ()),  # the default: the host ROM's own size
        (0, SEABIOS_SIZED, False, ()),
        (SEABIOS_SIZED, SEABIOS_SIZED, True, ()),  # equal: adds nothing
        (SEABIOS_SIZED, SEABIOS_SIZED, False, ()),  # equal needs no resize
        (4 * MIB, SEABIOS_SIZED, True, ()),
        (16 * MIB, SEABIOS_SIZED, True, ()),  # the limit itself
        (96 * KIB, 64 * KIB, True, (RoomRule.NOT_A_MULTIPLE,)),
        (32 * MIB, SEABIOS_SIZED, True, (RoomRule.OVER_THE_LIMIT,)),
        (16 * MIB + GRANULE, SEABIOS_SIZED, True, (RoomRule.OVER_THE_LIMIT,)),
        (128 * KIB, SEABIOS_SIZED, True, (RoomRule.BELOW_HOST_ROM,)),
        (4 * MIB, SEABIOS_SIZED, False, (RoomRule.WITHOUT_RESIZE,)),
        # several at once, in the interface text's order
        (96 * KIB, SEABIOS_SIZED, True, (RoomRule.NOT_A_MULTIPLE, RoomRule.BELOW_HOST_ROM)),
        (
            32 * MIB + KIB,
            SEABIOS_SIZED,
            False,
            (RoomRule.NOT_A_MULTIPLE, RoomRule.OVER_THE_LIMIT, RoomRule.WITHOUT_RESIZE),
        ),
    ],
)
def test_refusals(value: int, host_rom: int, resize: bool, rules: tuple[RoomRule, ...]) -> None:
    assert ROOM.refusals(value, host_rom, resize) == rules


def test_region_size_is_the_room_or_the_host_rom() -> None:
    assert ROOM.region_size(0, SEABIOS_SIZED) == SEABIOS_SIZED
    assert ROOM.region_size(SEABIOS_SIZED, SEABIOS_SIZED) == SEABIOS_SIZED
    assert ROOM.region_size(4 * MIB, SEABIOS_SIZED) == 4 * MIB
    with pytest.raises(ValueError, match=r"rom-max-size=0x20000 .*smaller than the host's ROM"):
        ROOM.region_size(128 * KIB, SEABIOS_SIZED)
    with pytest.raises(ValueError, match="resize property off"):
        ROOM.region_size(4 * MIB, SEABIOS_SIZED, resize=False)


def test_room_of_another_abi_uses_its_own_facts() -> None:
    room = RomRoom(property="x-room", granule=4 * KIB, limit=64 * KIB)
    assert room.refusals(8 * KIB, 4 * KIB) == ()
    assert room.refusals(6 * KIB, 4 * KIB) == (RoomRule.NOT_A_MULTIPLE,)
    assert room.refusals(128 * KIB, 4 * KIB) == (RoomRule.OVER_THE_LIMIT,)


def room_model(room: int = 4 * MIB, host_rom: int = SEABIOS_SIZED) -> V7Model:
    """The device of a SeaBIOS-sized host started with `room`: fw_rom_size is the room."""
    return V7Model(rom_size=ROOM.region_size(room, host_rom), ram=RAM)


def arm(model: V7Model, size: int) -> Status:
    return model.write(Fields().with_guest_fields(FORMAT_PLATFORM_ROM, LOAD_ADDR, size).pack())


@pytest.mark.parametrize("size", [OVMF_SIZED, 4 * MIB, SEABIOS_SIZED, 64 * KIB])
def test_model_with_room_takes_images_up_to_the_room(size: int) -> None:
    model = room_model()
    assert model.fields.fw_rom_size == 4 * MIB
    assert arm(model, size) is Status.OK


def test_model_with_room_refuses_larger_images_and_without_resize_smaller_ones() -> None:
    assert arm(room_model(), 4 * MIB + GRANULE) is Status.BAD_SIZE
    assert arm(room_model(room=0), OVMF_SIZED) is Status.BAD_SIZE  # no room: BAD_SIZE
    # With rom-resize=off a room is refused at realize; equal to the host ROM it is not.
    size = ROOM.region_size(SEABIOS_SIZED, SEABIOS_SIZED, resize=False)
    no_resize = V7Model(rom_size=size, ram=RAM, rom_resize=False)
    assert arm(no_resize, SEABIOS_SIZED) is Status.OK


class ModelAgent:
    """An agent whose etc/vmfwupdate is a V7Model: what the view reads and writes."""

    def __init__(self, model: V7Model) -> None:
        self.model = model

    def read(self, name: str) -> bytes:
        assert name == v7.FILE
        return self.model.fields.pack()

    def write(self, name: str, data: bytes) -> None:
        assert name == v7.FILE
        self.model.write(data)


def test_view_reads_the_region_size_from_the_device_and_arms_into_the_room() -> None:
    view = V7Device(ModelAgent(room_model()))  # type: ignore[arg-type]
    assert view.region_size() == 4 * MIB
    assert view.arm(LOAD_ADDR, OVMF_SIZED).armed == (LOAD_ADDR, OVMF_SIZED)
    assert view.trial(LOAD_ADDR, 4 * MIB).status == Status.OK


def test_hostile_model_with_room_arms_and_boots_images_larger_than_the_host() -> None:
    room = 2 * SEABIOS_SIZED
    images = (
        hostile.Image("h64", 0x1000000, 64 * KIB),
        hostile.Image("h256", 0x1200000, SEABIOS_SIZED),
        hostile.Image("h512", 0x1300000, room),
    )
    booted: set[str] = set()
    for seed in range(SEEDS):
        guest = Guest(RAM, room_model(room).rom_size, images, "stage1")
        model, ops = h.start(guest, seed)
        for _ in range(OPS):
            op = ops.next_op()
            if isinstance(op, hostile.Write):
                model.write(op.name, op.data)
            elif isinstance(op, hostile.Reset):
                booted.add(model.reset())
    assert "h512" in booted, "no image of the room's size was ever booted"
