"""The v7 seed set: the device's one file in the fw_cfg directory, and seeds whose writes
leave, in the rules model, the status their names promise."""

from __future__ import annotations

import struct

import pytest
from fuzz_helpers import OTHER_FILES, directory, is_valid_input, transfers

from harness.fuzz import fw_cfg_input as fi
from harness.fuzz import generic_fuzz_input as gfi
from harness.fuzz import seeds, seeds_v6, seeds_v7
from harness.fw_cfg import FwCfgEntry
from harness.interface import v6
from harness.interface.memory_map import RamMap
from harness.interface.v7 import CTL_DISABLE, CTL_HOST_FW, FILE, FILE_SIZE, GRANULE, Status
from harness.interface.v7_rules import V7Model
from harness.interface.v7_struct import Fields
from harness.platform import KIB, LOW_MEMORY_END, MIB, VGA_HOLE
from harness.workdir import SERIES

SELECTOR = 0x2A
# The fuzz machines: -m 128M, SeaBIOS's bios-256k.bin, no -device loader.
RAM = RamMap.of([(0, VGA_HOLE), (LOW_MEMORY_END, 128 * MIB)])
ROM_SIZE = 256 * KIB
# The seeds that write nothing.
READS = {"dir-io", "read-io", "read-dma"}
# The statuses a write can leave (the others are reserved or a reset's), but BAD_LAYOUT,
# which needs a valid IGVM file in guest RAM: the IGVM seeds place those
# (test_fuzz_seeds_v7_igvm.py).
WRITE_STATUSES = {
    Status.OK,
    Status.LOAD_FAIL,
    Status.DISABLED,
    Status.BAD_WRITE,
    Status.BAD_CONTROL,
    Status.BAD_SIZE,
    Status.BAD_RANGE,
}


def files(size: int = FILE_SIZE) -> dict[str, FwCfgEntry]:
    entries = [*OTHER_FILES, (FILE, size, SELECTOR)]
    return seeds_v7.device_files(fi.parse_directory(directory(entries)))


def all_seeds() -> dict[str, bytes]:
    return seeds_v7.seeds(files())


def promised(name: str) -> Status:
    """The status a write seed's name starts with (``bad-size-...``: BAD_SIZE)."""
    for status in Status:
        prefix = status.name.lower().replace("_", "-")
        if name.startswith(prefix + "-"):
            return status
    raise AssertionError(f"seed {name} names no status")


def device_writes(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, bytes) of the writes the device receives, as fw_cfg delivers DMA: a select
    starts the file at offset 0, every transfer goes on where the last one stopped."""
    offset = 0
    found = []
    for control, length, _, payload in transfers(data):
        if control & fi.DMA_SELECT:
            assert control >> 16 == SELECTOR
            offset = 0
        assert offset + length <= FILE_SIZE, "a transfer past the end of the file"
        if control & fi.DMA_WRITE:
            assert payload is not None and len(payload) == length
            found.append((offset, payload))
        offset += length
    return found


def run_model(data: bytes) -> V7Model:
    model = V7Model(rom_size=ROM_SIZE, ram=RAM)
    for offset, payload in device_writes(data):
        model.write(payload, offset)
    return model


def test_device_files_finds_the_structure() -> None:
    assert files() == {FILE: FwCfgEntry(FILE, FILE_SIZE, SELECTOR)}


def test_missing_or_wrong_size_file_is_an_error() -> None:
    v6_files = [(f.name, f.size, 0x22 + n) for n, f in enumerate(v6.FILES)]
    with pytest.raises(fi.ProbeError, match=f"no {FILE}$"):
        seeds_v7.device_files(fi.parse_directory(directory([*OTHER_FILES, *v6_files])))
    with pytest.raises(fi.ProbeError, match=f"{FILE} is {FILE_SIZE + 8} bytes"):
        files(FILE_SIZE + 8)


def test_every_seed_is_valid_input_within_max_len() -> None:
    for name, data in all_seeds().items():
        assert is_valid_input(data), name


def test_reads_read_the_whole_structure() -> None:
    found = all_seeds()
    [(control, length, _, payload)] = transfers(found["read-dma"])
    assert control == (SELECTOR << 16) | fi.DMA_SELECT | fi.DMA_READ
    assert (length, payload) == (FILE_SIZE, None)
    commands = gfi.split(found["read-io"])
    assert commands[0] == fi.select(SELECTOR)
    assert commands[1:] == fi.read_data(FILE_SIZE)
    assert not device_writes(found["dir-io"])


def test_every_write_seed_leaves_the_status_its_name_promises() -> None:
    for name, data in all_seeds().items():
        if name in READS:
            continue
        model = run_model(data)
        assert model.fields.status == promised(name), name


def test_whole_structure_writes_unpack_as_fields() -> None:
    for name, data in all_seeds().items():
        for offset, payload in device_writes(data):
            if offset == 0 and len(payload) == FILE_SIZE:
                assert Fields.unpack(payload).pack() == payload, name
            else:
                assert promised(name) is Status.BAD_WRITE, name


def test_the_seeds_cover_every_status_a_write_can_leave() -> None:
    names = set(all_seeds()) - READS
    assert {promised(name) for name in names} == WRITE_STATUSES


def test_updates_arm_their_image_and_later_writes_keep_or_cancel_it() -> None:
    found = all_seeds()
    for size in seeds_v7.UPDATE_SIZES:
        fields = run_model(found[f"ok-update-{size:#x}"]).fields
        assert (fields.fw_image_addr, fields.fw_image_size) == (fi.IMAGE_ADDR, size)
    locked = run_model(found["ok-update-then-disable-on-trial"])
    assert locked.armed and locked.locked and locked.fields.control & CTL_HOST_FW
    assert not run_model(found["ok-update-then-cancel"]).armed
    assert not run_model(found["disabled-update-after-disable"]).armed


def test_host_firmware_seeds() -> None:
    found = all_seeds()
    trial = run_model(found["ok-host-fw-trial"])
    assert trial.armed and trial.fields.control & CTL_HOST_FW
    assert run_model(found["ok-host-fw-restore"]).restore_due
    assert not run_model(found["ok-host-fw-commit"]).restore_due
    assert run_model(found["ok-disable-until-restore"]).fields.control == CTL_DISABLE | CTL_HOST_FW


def test_bad_size_seeds_are_not_granule_multiples_or_beyond_the_rom() -> None:
    found = all_seeds()
    [(_, payload)] = device_writes(found["bad-size-not-granule-multiple"])
    assert Fields.unpack(payload).fw_image_size % GRANULE
    [(_, payload)] = device_writes(found["bad-size-too-big"])
    assert Fields.unpack(payload).fw_image_size > ROM_SIZE


def test_data_port_write_reaches_no_file() -> None:
    data = all_seeds()["ok-data-port-write-ignored"]
    assert not transfers(data)
    select_command, write = gfi.split(data)
    assert select_command == fi.select(SELECTOR)
    size, region, offset, value = struct.unpack("<BBHI", write[1:9])
    assert (size, region, offset, value) == (gfi.PioSize.BYTE, fi.REGION_CTL, 1, fi.DATA_PORT_VALUE)


def test_partial_writes_are_short_at_an_offset_or_after_a_skip() -> None:
    found = all_seeds()
    half = FILE_SIZE // 2
    assert [(o, len(p)) for o, p in device_writes(found["bad-write-short"])] == [(0, half)]
    at_offset = device_writes(found["bad-write-at-offset"])
    assert [(o, len(p)) for o, p in at_offset] == [(0, half), (half, half)]
    [(skipped, payload)] = device_writes(found["bad-write-after-skip"])
    assert skipped > 0 and skipped + len(payload) == FILE_SIZE


def test_each_series_has_a_seed_set() -> None:
    assert set(seeds.SEED_SETS) == set(SERIES)
    assert seeds.seed_set(v6.NAME).seeds is seeds_v6.seeds
    with pytest.raises(ValueError, match="no fuzz seeds for ABI 'v5'"):
        seeds.seed_set("v5")


def test_no_seed_locks_the_device_for_later_inputs() -> None:
    """generic-fuzz runs every input in one machine and a lock outlasts a cold reset: each
    locking seed has a restore due, which releases the lock at most one input later."""
    locking = []
    for name, data in all_seeds().items():
        model = run_model(data)
        if model.locked:
            locking.append(name)
        model.reset()  # the reset that ends the input
        model.reset()  # the one that ends the next input, which writes nothing then
        assert not model.locked, name
    assert sorted(locking) == [
        "disabled-update-after-disable",
        "ok-disable-until-restore",
        "ok-update-then-disable-on-trial",
    ]
