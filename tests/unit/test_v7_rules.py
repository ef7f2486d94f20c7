"""The v7 ABI declaration, its structure encoding and its rules model, every status code."""

from __future__ import annotations

import struct

import pytest

from harness.interface import v7
from harness.interface.memory_map import RamMap
from harness.interface.v7 import (
    CAP_ROM_RESIZE,
    CTL_DISABLE,
    CTL_HOST_FW,
    FILE_SIZE,
    FORMAT_IGVM,
    FORMAT_PLATFORM_ROM,
    GRANULE,
    IGVM_MAX_SIZE,
    Status,
)
from harness.interface.v7_rules import ResetOutcome, V7Model, wraps
from harness.interface.v7_struct import FIELD_OFFSETS, Fields
from harness.platform import GIB, KIB, MIB

ROM = FORMAT_PLATFORM_ROM
ROM_SIZE = 256 * KIB
RAM = RamMap.of([(0, 640 * KIB), (MIB, 128 * MIB)])
IMAGE_AT = 16 * MIB
LOADER = (64 * MIB, 64 * MIB + 64 * KIB)


def model(**kwargs: object) -> V7Model:
    return V7Model(rom_size=ROM_SIZE, ram=RAM, rewritten=(LOADER,), **kwargs)  # type: ignore[arg-type]


def guest_write(
    m: V7Model, control: int, addr: int = 0, size: int = 0, oaddr: int = 0, osize: int = 0
) -> Status:
    return m.write(m.fields.with_guest_fields(control, addr, size, oaddr, osize).pack())


def test_layout_is_64_bytes_at_upstream_offsets() -> None:
    assert struct.calcsize(v7.LAYOUT) == FILE_SIZE
    assert FIELD_OFFSETS == {
        "version": 0x00,
        "status": 0x02,
        "padding": 0x04,
        "capabilities": 0x08,
        "control": 0x10,
        "fw_image_addr": 0x18,
        "fw_image_size": 0x20,
        "opaque_addr": 0x28,
        "opaque_size": 0x30,
        "fw_rom_size": 0x38,
    }
    offsets = [struct.calcsize("<" + v7.LAYOUT[1 : i + 1]) for i in range(len(v7.FIELDS))]
    assert offsets[1:] == [offset for _, _, offset in v7.FIELDS][1:]


def test_fields_are_little_endian() -> None:
    data = Fields(control=ROM | CTL_HOST_FW, fw_rom_size=ROM_SIZE).pack()
    assert data[0:2] == b"\x01\x00"
    assert data[0x10:0x18] == (ROM | CTL_HOST_FW).to_bytes(8, "little")
    assert data[0x38:0x40] == ROM_SIZE.to_bytes(8, "little")
    assert Fields.unpack(data) == Fields(control=ROM | CTL_HOST_FW, fw_rom_size=ROM_SIZE)


def test_unpack_wants_the_whole_structure() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Fields.unpack(bytes(32))


def test_bit_values_are_upstreams() -> None:
    assert (FORMAT_IGVM, FORMAT_PLATFORM_ROM) == (1 << 32, 1 << 33)
    assert (CTL_DISABLE, CTL_HOST_FW, CAP_ROM_RESIZE) == (1, 2, 1)
    assert [s.value for s in Status] == list(range(10))


def test_initial_state() -> None:
    m = model()
    assert m.fields == Fields(capabilities=ROM | FORMAT_IGVM | CAP_ROM_RESIZE, fw_rom_size=ROM_SIZE)
    assert model(rom_resize=False).fields.capabilities == ROM | FORMAT_IGVM
    assert model(igvm=False).fields.capabilities == ROM | CAP_ROM_RESIZE


@pytest.mark.parametrize(
    ("data", "offset"),
    [(bytes(32), 0), (bytes(8), 8), (bytes(1), 0), (bytes(64), 8)],
    ids=["half", "u64-at-8", "one-byte", "whole-at-offset"],
)
def test_bad_write(data: bytes, offset: int) -> None:
    m = model()
    guest_write(m, ROM, IMAGE_AT, ROM_SIZE)
    armed = m.fields
    assert m.write(data, offset) is Status.BAD_WRITE
    assert m.fields == Fields(**{**armed.__dict__, "status": Status.BAD_WRITE})


def test_lock_comes_after_bad_write_and_before_everything_else() -> None:
    m = model()
    assert guest_write(m, CTL_DISABLE) is Status.OK
    assert m.write(bytes(8)) is Status.BAD_WRITE
    assert guest_write(m, FORMAT_IGVM) is Status.DISABLED
    assert guest_write(m, 0) is Status.DISABLED
    assert m.fields.control == CTL_DISABLE


@pytest.mark.parametrize(
    ("control", "addr", "size"),
    [
        (1 << 2, 0, 0),
        (ROM | 1 << 31, IMAGE_AT, ROM_SIZE),
        (1 << 63, IMAGE_AT, ROM_SIZE),
        (ROM | FORMAT_IGVM, IMAGE_AT, ROM_SIZE),
        (0, IMAGE_AT, 0),
        (CTL_HOST_FW, 0, ROM_SIZE),
        (ROM | FORMAT_IGVM, 0, 0),
    ],
)
def test_bad_control(control: int, addr: int, size: int) -> None:
    assert guest_write(model(), control, addr, size) is Status.BAD_CONTROL


def test_igvm_not_offered_without_igvm_support() -> None:
    assert guest_write(model(igvm=False), FORMAT_IGVM, IMAGE_AT, ROM_SIZE) is Status.BAD_CONTROL


@pytest.mark.parametrize(
    ("addr", "size", "status"),
    [
        (IMAGE_AT, 0, Status.BAD_SIZE),
        (IMAGE_AT, IGVM_MAX_SIZE + 1, Status.BAD_SIZE),
        (0, 4 * KIB, Status.BAD_RANGE),
        (LOADER[0], 4 * KIB, Status.BAD_RANGE),
        (IMAGE_AT, 4 * KIB + 3, Status.LOAD_FAIL),
    ],
    ids=["zero", "over-max", "address-0", "loader", "not-igvm"],
)
def test_igvm_checks_in_order(addr: int, size: int, status: Status) -> None:
    m = model()
    assert guest_write(m, FORMAT_IGVM, addr, size) is status
    assert m.fields.control == 0


@pytest.mark.parametrize("size", [0, 4 * KIB, GRANULE + 1, ROM_SIZE + GRANULE, 1 << 63], ids=str)
def test_bad_size(size: int) -> None:
    assert guest_write(model(), ROM, IMAGE_AT, size) is Status.BAD_SIZE


def test_smaller_image_needs_rom_resize() -> None:
    assert guest_write(model(rom_resize=False), ROM, IMAGE_AT, GRANULE) is Status.BAD_SIZE
    assert guest_write(model(rom_resize=False), ROM, IMAGE_AT, ROM_SIZE) is Status.OK
    assert guest_write(model(), ROM, IMAGE_AT, GRANULE) is Status.OK


@pytest.mark.parametrize(
    "addr",
    [
        0,
        (1 << 64) - GRANULE,
        4 * GIB - ROM_SIZE,
        128 * MIB - GRANULE,
        LOADER[0],
        LOADER[1] - 1,
        LOADER[0] - 128 * KIB + 1,
    ],
    ids=["zero", "wraps", "rom", "past-ram-end", "loader-start", "loader-end", "into-loader"],
)
def test_bad_range(addr: int) -> None:
    assert guest_write(model(), ROM, addr, 128 * KIB) is Status.BAD_RANGE


def test_size_is_checked_before_range() -> None:
    assert guest_write(model(), ROM, 0, 4 * KIB) is Status.BAD_SIZE


@pytest.mark.parametrize(
    ("oaddr", "osize", "status"),
    [
        ((1 << 64) - 0x100, 0x200, Status.BAD_RANGE),
        (2, (1 << 64) - 1, Status.BAD_RANGE),
        ((1 << 64) - 0x1000, 0x1000, Status.OK),
        (1 << 44, 3, Status.OK),
        (0, 0x12345, Status.OK),
    ],
)
def test_opaque_range(oaddr: int, osize: int, status: Status) -> None:
    assert guest_write(model(), 0, 0, 0, oaddr, osize) is status


def test_rejected_write_changes_only_status() -> None:
    m = model()
    guest_write(m, ROM | CTL_HOST_FW, IMAGE_AT, ROM_SIZE, 0x5000, 0x10)
    before = m.fields
    assert guest_write(m, ROM, 0, ROM_SIZE) is Status.BAD_RANGE
    assert m.fields == Fields(**{**before.__dict__, "status": Status.BAD_RANGE})


def test_read_only_fields_of_a_write_are_ignored() -> None:
    m = model()
    data = Fields(
        version=7, status=5, padding=9, capabilities=~0 & ((1 << 64) - 1), fw_rom_size=16 * MIB
    ).pack()
    assert m.write(data) is Status.OK
    assert m.fields == model().fields


def test_wraps_is_past_two_to_the_64() -> None:
    assert not wraps((1 << 64) - 16, 16)
    assert wraps((1 << 64) - 16, 17)
    assert not wraps(5, 0)


def test_reset_applies_then_keeps() -> None:
    m = model()
    guest_write(m, ROM, IMAGE_AT, ROM_SIZE, 0x5000, 0x10)
    assert m.reset() is ResetOutcome.APPLIED
    assert (m.fields.control, m.fields.fw_image_addr, m.fields.fw_image_size) == (0, 0, 0)
    assert (m.fields.opaque_addr, m.fields.opaque_size) == (0x5000, 0x10)
    assert m.reset() is ResetOutcome.NOTHING


def test_trial_then_restore() -> None:
    m = model()
    guest_write(m, ROM | CTL_HOST_FW, IMAGE_AT, ROM_SIZE)
    assert m.reset() is ResetOutcome.APPLIED
    assert m.fields.control == CTL_HOST_FW
    assert m.restore_due
    assert m.reset() is ResetOutcome.HOST_FW_RESTORED
    assert m.fields.control == 0


def test_trial_commit() -> None:
    m = model()
    guest_write(m, ROM | CTL_HOST_FW, IMAGE_AT, ROM_SIZE)
    m.reset()
    assert guest_write(m, 0) is Status.OK
    assert m.reset() is ResetOutcome.NOTHING


def test_locked_trial_always_restores_and_releases_the_lock() -> None:
    m = model()
    guest_write(m, ROM | CTL_HOST_FW | CTL_DISABLE, IMAGE_AT, ROM_SIZE)
    assert m.reset() is ResetOutcome.APPLIED
    assert m.fields.control == CTL_HOST_FW | CTL_DISABLE
    assert guest_write(m, 0) is Status.DISABLED
    assert m.reset() is ResetOutcome.HOST_FW_RESTORED
    assert m.fields.control == 0
    assert guest_write(m, 0) is Status.OK


def test_lock_survives_resets() -> None:
    m = model()
    guest_write(m, ROM | CTL_DISABLE, IMAGE_AT, ROM_SIZE)
    assert m.reset() is ResetOutcome.APPLIED
    assert m.reset() is ResetOutcome.NOTHING
    assert m.fields.control == CTL_DISABLE
    assert guest_write(m, CTL_HOST_FW) is Status.DISABLED


def test_apply_fail_when_ram_is_gone_makes_no_restore_due() -> None:
    m = model()
    guest_write(m, ROM | CTL_HOST_FW, IMAGE_AT, ROM_SIZE)
    assert m.reset(RamMap.of([(MIB, 8 * MIB)])) is ResetOutcome.APPLY_FAIL
    assert m.fields.status == Status.APPLY_FAIL
    assert m.fields.control == 0
    assert m.reset() is ResetOutcome.NOTHING
    assert m.fields.status == Status.OK


def test_failed_trial_armed_from_a_trial_restores_the_host_firmware() -> None:
    m = model()
    guest_write(m, ROM | CTL_HOST_FW, IMAGE_AT, ROM_SIZE)
    assert m.reset() is ResetOutcome.APPLIED  # on trial now
    guest_write(m, ROM | CTL_HOST_FW, IMAGE_AT, ROM_SIZE)
    assert m.reset(RamMap.of([(MIB, 8 * MIB)])) is ResetOutcome.HOST_FW_RESTORED
    assert (m.fields.status, m.fields.control) == (Status.APPLY_FAIL, 0)
    assert m.reset() is ResetOutcome.NOTHING


def test_committed_trial_stays_when_the_next_image_fails() -> None:
    m = model()
    guest_write(m, ROM | CTL_HOST_FW, IMAGE_AT, ROM_SIZE)
    assert m.reset() is ResetOutcome.APPLIED
    guest_write(m, ROM, IMAGE_AT, ROM_SIZE)  # no CTL_HOST_FW: a commit
    assert m.reset(RamMap.of([(MIB, 8 * MIB)])) is ResetOutcome.APPLY_FAIL
    assert (m.fields.status, m.fields.control) == (Status.APPLY_FAIL, 0)


def test_restore_without_image() -> None:
    m = model()
    assert guest_write(m, CTL_HOST_FW) is Status.OK
    assert m.fields.control == CTL_HOST_FW
    assert m.reset() is ResetOutcome.HOST_FW_RESTORED
