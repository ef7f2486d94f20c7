"""The v7 seeds of the IGVM path: valid IGVM files placed in guest RAM, armed with
FORMAT_IGVM, and the files and fields the device refuses.

generic-fuzz puts bytes into guest memory only when a device reads it by DMA, from its
patterns (`fw_cfg_input.dma`), at most `MAX_DMA_FILL` bytes per read. The device reads an
IGVM image twice, whole: at the write that arms it and at the cold reset that ends the
input. `placed` puts a file of any size at IMAGE_ADDR: for each 64 KiB chunk after the
first, a write of FORMAT_IGVM with that chunk as the image (LOAD_FAIL: no IGVM file starts
there) makes the device read, and so fill, that chunk; the last write arms the whole file
with its first chunk as the pattern of the device's read, and the patterns are cleared
after it, so that the reset reads the file as it was placed. Each seed is named by
the status of that last write (`seeds_v7.named`), as the v7 seeds are.

The files (`IgvmSeedFiles`, made by `harness.workflows.fuzz_igvm_files`) are igvm-wrap's:
the agent, SeaBIOS and OVMF wrapped, and what igvm-wrap cannot make by editing its output's headers
(`harness.interface.igvm_headers`): required memory, parameter areas, and pages or VP
contexts the device refuses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from harness.fuzz.fw_cfg_input import IMAGE_ADDR, OUTSIDE_RAM, dma_write
from harness.fuzz.generic_fuzz_input import MAX_DMA_FILL, clear_dma_patterns, join
from harness.fuzz.seeds_v7 import named
from harness.fw_cfg import FwCfgEntry
from harness.interface import igvm_headers as ih
from harness.interface.igvm_file import FixedHeader
from harness.interface.v7 import CTL_HOST_FW, FILE, FORMAT_IGVM, IGVM_MAX_SIZE, Status
from harness.interface.v7_struct import Fields
from harness.platform import KIB

# A page of the agent's IGVM file (igvm-wrap puts its reset vector page there).
AGENT_TOP_PAGE = 0xFFFF0000
PAGE = 0x1000
# The longest seed fuzzed: SeaBIOS's (~196 KB) fits, OVMF's (~1.6 MB) does not: with it,
# -max_len 1.6 MB made mutants of ~1 MB and halved the executions per second.
LONGEST = 256 * KIB
# Guest RAM for the parameter area and the required memory (above any image here).
PARAMETER_GPA = 0x4000000
REQUIRED_GPA = 0x5000000


@dataclass(frozen=True)
class IgvmSeedFiles:
    """The IGVM files the seeds place: igvm-wrap's output for each input and option."""

    agent: bytes  # the agent: normal and zero pages, no VP context
    agent_vp_context: bytes  # igvm-wrap --flat32
    agent_native_and_snp: bytes  # igvm-wrap --native --snp: two platforms
    agent_snp_only: bytes  # igvm-wrap --no-native --snp
    seabios: bytes
    seabios_vp_context: bytes
    ovmf: bytes  # 2 MiB of pages: more than the fuzz machines' 256 KiB ROM region


@dataclass(frozen=True)
class Arm:
    """The last write of a seed: the file placed at IMAGE_ADDR, and the fields written."""

    image: bytes
    fields: Fields
    # what the device's read at the reset finds in the first chunk instead (None: the same)
    at_reset: bytes | None = None


def arming(image: bytes, size: int | None = None, **extra: int) -> Arm:
    """FORMAT_IGVM with the whole `image` (or `size` bytes of it) at IMAGE_ADDR."""
    fields = Fields().with_guest_fields(
        FORMAT_IGVM | extra.pop("control", 0),
        extra.pop("addr", IMAGE_ADDR),
        len(image) if size is None else size,
        extra.pop("opaque_addr", 0),
        extra.pop("opaque_size", 0),
    )
    if extra:
        raise TypeError(f"unknown fields {sorted(extra)}")
    return Arm(image, fields)


def chunks(image: bytes) -> list[bytes]:
    return [image[n : n + MAX_DMA_FILL] for n in range(0, len(image), MAX_DMA_FILL)]


def placed(file: FwCfgEntry, arm: Arm) -> list[bytes]:
    """Commands that put `arm.image` at IMAGE_ADDR and then write `arm.fields`.

    The device's read at that write fills the first chunk; then the patterns are cleared,
    so that its read at the reset fills nothing and finds the file as placed (or, with
    `arm.at_reset`, that pattern fills the first chunk again: the guest changed the bytes
    after arming them)."""
    parts = chunks(arm.image)
    commands = []
    for number, chunk in enumerate(parts[1:], 1):
        fill = Fields().with_guest_fields(
            FORMAT_IGVM, IMAGE_ADDR + number * MAX_DMA_FILL, len(chunk)
        )
        commands += dma_write(file, fill.pack(), device_reads=(chunk,))
    if arm.at_reset is not None:
        return commands + dma_write(file, arm.fields.pack(), device_reads=(parts[0], arm.at_reset))
    return [
        *commands,
        *dma_write(file, arm.fields.pack(), device_reads=parts[:1]),
        clear_dma_patterns(),
    ]


def edited_pages(image: bytes, **fields: int) -> bytes:
    """`image` with its first page data header changed (gpa=, data_type=)."""
    parsed = ih.IgvmFile.parse(image)
    first = parsed.of_type(ih.VHT_PAGE_DATA)[0]
    return parsed.with_header(first, ih.with_page_data(parsed.headers[first], **fields)).pack()


def vp_context_for(image: bytes, vp_index: int) -> bytes:
    parsed = ih.IgvmFile.parse(image)
    first = parsed.of_type(ih.VHT_VP_CONTEXT)[0]
    return parsed.with_header(first, ih.with_vp_index(parsed.headers[first], vp_index)).pack()


def with_directives(image: bytes, *headers: ih.Header) -> bytes:
    return ih.IgvmFile.parse(image).appended(*headers).pack()


def with_parameters(image: bytes, *kinds: int) -> bytes:
    """`image` with a zero-filled parameter area holding parameters of `kinds`, inserted
    at PARAMETER_GPA."""
    params = [ih.parameter(kind, 0, 8 * n) for n, kind in enumerate(kinds)]
    area = ih.parameter_area(0, PAGE)
    return with_directives(image, area, *params, ih.parameter_insert(0, PARAMETER_GPA))


def bad_checksum(image: bytes) -> bytes:
    at = FixedHeader.unpack(image).checksummed_byte
    return image[:at] + bytes([image[at] ^ 0xFF]) + image[at + 1 :]


def arms(f: IgvmSeedFiles) -> Iterator[tuple[Status, str, Arm]]:
    """(the status of the last write, what the seed does, that write)."""
    ok, load_fail, layout = Status.OK, Status.LOAD_FAIL, Status.BAD_LAYOUT
    agent = f.agent
    yield ok, "igvm-agent", arming(agent)
    yield ok, "igvm-agent-trial", arming(agent, control=CTL_HOST_FW)
    changed = replace(arming(agent), at_reset=bad_checksum(agent))
    yield ok, "igvm-agent-changed-before-reset", changed
    yield ok, "igvm-agent-vp-context", arming(f.agent_vp_context)
    yield ok, "igvm-agent-native-and-snp", arming(f.agent_native_and_snp)
    required = ih.required_memory(REQUIRED_GPA, MAX_DMA_FILL)
    yield ok, "igvm-agent-required-memory", arming(with_directives(agent, required))
    vp_env = (ih.VHT_VP_COUNT_PARAMETER, ih.VHT_ENVIRONMENT_INFO_PARAMETER)
    yield ok, "igvm-agent-parameters", arming(with_parameters(agent, *vp_env))
    yield ok, "igvm-agent-memory-map", arming(with_parameters(agent, ih.VHT_MEMORY_MAP))
    yield ok, "igvm-seabios", arming(f.seabios)
    yield ok, "igvm-seabios-vp-context", arming(f.seabios_vp_context)
    yield load_fail, "igvm-snp-only", arming(f.agent_snp_only)
    yield load_fail, "igvm-bad-checksum", arming(bad_checksum(agent))
    yield load_fail, "igvm-truncated", arming(agent, len(agent) - 1)
    yield layout, "igvm-ovmf-outside-rom", arming(f.ovmf)
    yield layout, "igvm-page-outside-ram", arming(edited_pages(agent, gpa=OUTSIDE_RAM))
    yield layout, "igvm-page-over-image", arming(edited_pages(agent, gpa=IMAGE_ADDR))
    over_page = {"opaque_addr": AGENT_TOP_PAGE, "opaque_size": PAGE}
    yield layout, "igvm-page-over-opaque", arming(agent, **over_page)
    secrets = edited_pages(agent, data_type=ih.PAGE_DATA_TYPE_SECRETS)
    yield layout, "igvm-secrets-page", arming(secrets)
    yield layout, "igvm-vp-context-vcpu1", arming(vp_context_for(f.agent_vp_context, 1))
    outside = ih.required_memory(OUTSIDE_RAM, MAX_DMA_FILL)
    yield layout, "igvm-required-memory-outside-ram", arming(with_directives(agent, outside))
    yield Status.BAD_SIZE, "igvm-over-max-size", arming(agent, IGVM_MAX_SIZE + 1)
    yield Status.BAD_RANGE, "igvm-outside-ram", arming(agent, addr=OUTSIDE_RAM)


def seeds(files: Mapping[str, FwCfgEntry], igvm: IgvmSeedFiles) -> dict[str, bytes]:
    """Named IGVM seed inputs for the device's file."""
    file = files[FILE]
    return {named(status, what): join(placed(file, arm)) for status, what, arm in arms(igvm)}
