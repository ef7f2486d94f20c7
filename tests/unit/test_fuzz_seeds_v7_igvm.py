"""The v7 IGVM seeds (harness/fuzz/seeds_v7_igvm.py): valid inputs, a file of any size put
at IMAGE_ADDR verbatim by generic-fuzz's DMA patterns (64 KiB at most per device read, a
model of generic_fuzz.c's fuzz_dma_read_cb below), found again by the read at the reset,
and names that promise what the v7 rules model says, as far as it goes: it knows no IGVM
file, so an image that passes the size and range rules is LOAD_FAIL there (its stand-in for
"libigvm decides"); the files' own refusals are in the files (a bad checksum, a truncated
size, an edited page). docs/fuzzing.md shows the device's own statuses for every seed."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from igvm_synthetic import igvm
from test_fuzz_seeds_v7 import (
    RAM,
    READS,
    ROM_SIZE,
    SELECTOR,
    WRITE_STATUSES,
    all_seeds,
    files,
    promised,
)

from harness.fuzz import fw_cfg_input as fi
from harness.fuzz import generic_fuzz_input as gfi
from harness.fuzz import seeds, seeds_v7_igvm
from harness.fuzz.libfuzzer import Limits
from harness.fuzz.seeds_v7_igvm import Arm, IgvmSeedFiles
from harness.interface import igvm_headers as ih
from harness.interface.igvm_file import FixedHeader
from harness.interface.v7 import FORMAT_IGVM, FORMAT_MASK, IGVM_MAX_SIZE, Status
from harness.interface.v7_rules import V7Model
from harness.interface.v7_struct import Fields
from harness.workflows.fuzz import fitting

# Stand-ins for igvm-wrap's files: small ones, and ones of several 64 KiB chunks.
FILES = IgvmSeedFiles(
    agent=igvm(4),
    agent_vp_context=igvm(5, vp_context=True),
    agent_native_and_snp=igvm(6),
    agent_snp_only=igvm(3),
    seabios=igvm(40),
    seabios_vp_context=igvm(41, vp_context=True),
    ovmf=igvm(80),
)
OVMF_SEED = "bad-layout-igvm-ovmf-outside-rom"


def igvm_seeds() -> dict[str, bytes]:
    return seeds_v7_igvm.seeds(files(), FILES)


def arms() -> dict[str, Arm]:
    return {seeds_v7_igvm.named(s, what): arm for s, what, arm in seeds_v7_igvm.arms(FILES)}


@dataclass
class GuestMemory:
    """Guest RAM as generic-fuzz fills it when the device reads it (fuzz_dma_read_cb)."""

    bytes_at: dict[int, int] = field(default_factory=dict)
    patterns: list[bytes] = field(default_factory=list)
    next_pattern: int = 0

    def device_reads(self, addr: int, size: int) -> bytes:
        if self.patterns:
            pattern = self.patterns[self.next_pattern]
            self.next_pattern = (self.next_pattern + 1) % len(self.patterns)
            for n in range(min(size, gfi.MAX_DMA_FILL)):
                self.bytes_at[addr + n] = pattern[n % len(pattern)]
        return bytes(self.bytes_at.get(addr + n, 0) for n in range(size))


@dataclass
class Run:
    """What the device read of its image at each IGVM write and at the reset, and the model."""

    model: V7Model
    write_reads: list[bytes]
    reset_read: bytes | None


def run(data: bytes) -> Run:
    """Replays an input on the rules model, with the device's image reads filled from the
    input's patterns: fw_cfg reads the descriptor and the data, then a FORMAT_IGVM write
    that passes the size and range rules reads its image; an armed image is read again at
    the reset that ends the input."""
    memory = GuestMemory()
    model = V7Model(rom_size=ROM_SIZE, ram=RAM)
    reads = []
    for command in gfi.split(data):
        op = command[0] % len(gfi.Op)
        if op == gfi.Op.CLEAR_DMA_PATTERNS:
            memory.patterns, memory.next_pattern = [], 0
        elif op == gfi.Op.ADD_DMA_PATTERN:
            memory.patterns.append(command[3:])
        elif op == gfi.Op.OUT and struct.unpack_from("<BBH", command, 1)[1:] == (fi.REGION_DMA, 4):
            descriptor = memory.device_reads(fi.DESC_ADDR, 16)
            control, length, address = struct.unpack(">IIQ", descriptor)
            assert control >> 16 == SELECTOR and control & fi.DMA_WRITE
            payload = memory.device_reads(address, length)
            status = model.write(payload)
            written = Fields.unpack(payload)
            if written.control & FORMAT_IGVM and status is Status.LOAD_FAIL:
                reads.append(memory.device_reads(written.fw_image_addr, written.fw_image_size))
    armed = model.fields
    reset_read = None
    if model.armed and armed.control & FORMAT_MASK == FORMAT_IGVM:
        reset_read = memory.device_reads(armed.fw_image_addr, armed.fw_image_size)
    return Run(model, reads, reset_read)


def test_every_igvm_seed_is_valid_input_and_fits_the_seed_set() -> None:
    found = igvm_seeds()
    limits, kept = fitting(Limits(), found, seeds.seed_set("v7").longest)
    assert set(found) - set(kept) == {OVMF_SEED}
    for name, data in kept.items():
        assert gfi.join(gfi.split(data)) == data, name
        assert len(data) <= limits.max_len <= seeds_v7_igvm.LONGEST, name


def test_the_device_reads_the_placed_file_at_the_write_and_at_the_reset() -> None:
    wanted = arms()
    for name, data in igvm_seeds().items():
        arm = wanted[name]
        result = run(data)
        if result.model.fields.status in (Status.BAD_SIZE, Status.BAD_RANGE):
            continue
        size = arm.fields.fw_image_size
        assert result.write_reads[-1] == arm.image[:size], name
        chunks = len(seeds_v7_igvm.chunks(arm.image))
        assert len(result.write_reads) == chunks, name
        if result.model.armed:
            expected = arm.image if arm.at_reset is None else arm.at_reset
            assert result.reset_read == expected[:size], name


def test_the_big_files_take_several_chunks() -> None:
    found = arms()
    for name in ("ok-igvm-seabios", OVMF_SEED):
        image = found[name].image
        parts = seeds_v7_igvm.chunks(image)
        assert len(parts) == -(-len(image) // gfi.MAX_DMA_FILL) > 1, name
        assert b"".join(parts) == image, name


def test_names_promise_what_the_rules_model_says_before_libigvm() -> None:
    for name, data in igvm_seeds().items():
        status = run(data).model.fields.status
        if promised(name) in (Status.BAD_SIZE, Status.BAD_RANGE):
            assert status is promised(name), name
        else:
            assert status is Status.LOAD_FAIL, name


def test_the_files_refuse_as_their_names_say() -> None:
    found = arms()
    assert found["load-fail-igvm-truncated"].fields.fw_image_size == len(FILES.agent) - 1
    bad = found["load-fail-igvm-bad-checksum"].image
    good = ih.IgvmFile.parse(bad).pack()  # packing writes the right checksum again
    assert FixedHeader.unpack(bad).checksum != FixedHeader.unpack(good).checksum
    first = ih.IgvmFile.parse(found["bad-layout-igvm-page-over-image"].image).of_type(
        ih.VHT_PAGE_DATA
    )[0]
    over = ih.IgvmFile.parse(found["bad-layout-igvm-page-over-image"].image).headers[first]
    assert ih.page_data(over)[0] == fi.IMAGE_ADDR
    opaque = found["bad-layout-igvm-page-over-opaque"].fields
    assert (opaque.opaque_addr, opaque.opaque_size) == (seeds_v7_igvm.AGENT_TOP_PAGE, 0x1000)
    assert found["bad-size-igvm-over-max-size"].fields.fw_image_size == IGVM_MAX_SIZE + 1


def test_with_the_v7_seeds_every_status_a_write_can_leave() -> None:
    names = set(all_seeds()) - READS | set(igvm_seeds())
    assert {promised(name) for name in names} == WRITE_STATUSES | {Status.BAD_LAYOUT}
