"""The v7 seed set: fw_cfg I/O and DMA on the one 64-byte structure ``etc/vmfwupdate``.

Reads of the structure, and DMA writes of whole structures (``v7_struct.Fields``) that end
in every status a write can leave (the "Writes" rules of vmfwupdate-v7-interface.md):
accepted updates, trials and restores of the host's firmware, the lock, each rejected
control, size and range, writes that are not one transfer of the whole structure from
offset 0. A write seed's name starts with the status it leaves before the reset that ends
the run (``ok-``, ``disabled-``, ``bad-write-``, ...; tests/unit/test_fuzz_seeds_v7.py
checks them against the rules model, V7Model).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from harness.fuzz.fw_cfg_input import (
    IMAGE_ADDR,
    OUTSIDE_RAM,
    ProbeError,
    directory_io,
    dma_read,
    dma_skip,
    dma_write,
    dma_write_on,
    read_io,
    write_data_port,
)
from harness.fuzz.generic_fuzz_input import join
from harness.fw_cfg import FwCfgEntry
from harness.interface.encoding import U64_MAX
from harness.interface.v7 import (
    CTL_DISABLE,
    CTL_HOST_FW,
    FILE,
    FILE_SIZE,
    FORMAT_IGVM,
    FORMAT_MASK,
    FORMAT_PLATFORM_ROM,
    GRANULE,
    REGION_TOP,
    VERSION,
    Status,
)
from harness.interface.v7_struct import FIELD_OFFSETS, Fields

ROM = FORMAT_PLATFORM_ROM
# The fuzz machines' firmware is SeaBIOS's bios-256k.bin: an image of the whole region.
WHOLE_ROM = 4 * GRANULE
UPDATE_SIZES = (GRANULE, WHOLE_ROM)
# Control bits the interface does not define, all of them.
UNKNOWN_CONTROL = U64_MAX & ~(FORMAT_MASK | CTL_DISABLE | CTL_HOST_FW)
# A ROM region ends at REGION_TOP, so no region is that big.
TOO_BIG = REGION_TOP
# Half a granule below 2^64: a granule there wraps.
WRAPPING_ADDR = U64_MAX + 1 - GRANULE // 2


def device_files(directory: Iterable[FwCfgEntry]) -> dict[str, FwCfgEntry]:
    """The device's one file, by its name; it must be there, FILE_SIZE bytes."""
    found = [f for f in directory if f.name == FILE]
    if not found:
        raise ProbeError(f"the fw_cfg directory has no {FILE}")
    if found[0].size != FILE_SIZE:
        raise ProbeError(f"{FILE} is {found[0].size} bytes, not {FILE_SIZE} (the v7 structure)")
    return {FILE: found[0]}


def named(status: Status, what: str) -> str:
    """A write seed's name: the status it leaves, then what it does."""
    return f"{status.name.lower().replace('_', '-')}-{what}"


def guest(control: int, image_size: int = 0) -> Fields:
    """A structure as a guest writes it: `control` and an image of `image_size` bytes at
    IMAGE_ADDR (none for 0)."""
    return Fields().with_guest_fields(control, IMAGE_ADDR if image_size else 0, image_size)


def structure_writes() -> list[tuple[Status, str, tuple[Fields, ...]]]:
    """(the status left, what the seed does, the whole structures it writes in turn).

    A lock lasts until a host-firmware restore, across the cold reset that ends each input,
    and generic-fuzz runs every input in the same machine: a seed that locked for good
    would leave every later write DISABLED. So each lock comes with a restore due
    (CTL_HOST_FW): at the reset that ends the input, or, for a locked trial, at the one
    after it."""
    update = guest(ROM, GRANULE)
    disable, host_fw, cancel = guest(CTL_DISABLE | CTL_HOST_FW), guest(CTL_HOST_FW), guest(0)
    locked_trial = replace(update, control=ROM | CTL_DISABLE | CTL_HOST_FW)
    ok = Status.OK
    return [
        *((ok, f"update-{size:#x}", (guest(ROM, size),)) for size in UPDATE_SIZES),
        (ok, "bad-version-ignored", (replace(update, version=VERSION + 1),)),
        (
            ok,
            "opaque-outside-ram",
            (replace(update, opaque_addr=OUTSIDE_RAM, opaque_size=GRANULE),),
        ),
        (ok, "disable-until-restore", (disable,)),
        (ok, "host-fw-trial", (replace(update, control=ROM | CTL_HOST_FW),)),
        (ok, "host-fw-restore", (host_fw,)),
        # what a firmware on trial does after its boot: clear CTL_HOST_FW, cancelling the restore
        (ok, "host-fw-commit", (host_fw, cancel)),
        (ok, "update-then-disable-on-trial", (update, locked_trial)),
        (ok, "update-then-cancel", (update, cancel)),
        (Status.DISABLED, "update-after-disable", (disable, update)),
        *(
            (Status.BAD_CONTROL, what, (replace(update, control=control),))
            for what, control in (
                ("unknown-bits", ROM | UNKNOWN_CONTROL),
                ("two-formats", ROM | FORMAT_IGVM),
                ("image-without-format", 0),
            )
        ),
        # the bytes of the ROM image seed are no IGVM file (every build profile has IGVM)
        (Status.LOAD_FAIL, "igvm-not-a-file", (replace(update, control=FORMAT_IGVM),)),
        *(
            (Status.BAD_SIZE, what, (replace(update, fw_image_size=size),))
            for what, size in (
                ("not-granule-multiple", GRANULE + GRANULE // 2),
                ("zero-with-format", 0),
                ("too-big", TOO_BIG),
            )
        ),
        *(
            (Status.BAD_RANGE, what, (replace(update, fw_image_addr=addr),))
            for what, addr in (
                ("image-at-zero", 0),
                ("image-outside-ram", OUTSIDE_RAM),
                ("image-wraps", WRAPPING_ADDR),
            )
        ),
        (
            Status.BAD_RANGE,
            "opaque-wraps",
            (replace(cancel, opaque_addr=WRAPPING_ADDR, opaque_size=GRANULE),),
        ),
    ]


def other_writes(file: FwCfgEntry) -> dict[str, list[bytes]]:
    """Writes that are not one DMA transfer of the whole structure from offset 0."""
    packed = guest(ROM, GRANULE).pack()
    half = FILE_SIZE // 2
    start = FIELD_OFFSETS["control"]  # the first field a guest writes
    return {
        named(Status.BAD_WRITE, "short"): dma_write(file, packed[:half]),
        named(Status.BAD_WRITE, "at-offset"): (
            dma_write(file, packed[:half]) + dma_write_on(packed[half:])
        ),
        named(Status.BAD_WRITE, "after-skip"): dma_skip(file, start) + dma_write_on(packed[start:]),
        named(Status.OK, "data-port-write-ignored"): write_data_port(file),
    }


def seeds(files: dict[str, FwCfgEntry]) -> dict[str, bytes]:
    """Named seed inputs: reads of the structure, then writes named by their status."""
    file = files[FILE]
    out: dict[str, list[bytes]] = {
        "dir-io": directory_io(),
        "read-io": read_io(file, FILE_SIZE),
        "read-dma": dma_read(file),
    }
    for status, what, structures in structure_writes():
        out[named(status, what)] = [c for f in structures for c in dma_write(file, f.pack())]
    out.update(other_writes(file))
    return {name: join(commands) for name, commands in out.items()}
