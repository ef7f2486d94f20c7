"""The rules of the v7 device as a model: its state, and what writes and cold resets do.

Pure logic, no QEMU, in the order of the interface text: a write is checked
for BAD_WRITE, DISABLED, BAD_CONTROL, BAD_SIZE, BAD_RANGE (image, then
opaque) and stops at the first failure, changing only `status`. What an IGVM
image that passes the size and range rules gets is the say of `igvm_files` (an
`IgvmCheck`, such as the files a hostile guest placed: `v7_igvm_files`); without
it the model knows no IGVM file, and such an image is LOAD_FAIL. A cold reset
applies an armed image (or fails with APPLY_FAIL: its range is no longer RAM, or
an IGVM image no longer passes its checks), or restores the host's firmware when
CTL_HOST_FW is set without an image. A guest started from an IGVM file
(`from_igvm`) has no ROM region: FORMAT_IGVM only. The functional tests and the
hostile run predict what the guest reads back with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

from harness.interface.encoding import U64_MAX
from harness.interface.memory_map import RamMap
from harness.interface.v7 import (
    CAP_ROM_RESIZE,
    CTL_DISABLE,
    CTL_HOST_FW,
    FILE_SIZE,
    FORMAT_IGVM,
    FORMAT_MASK,
    FORMAT_PLATFORM_ROM,
    GRANULE,
    IGVM_MAX_SIZE,
    Status,
)
from harness.interface.v7_struct import Fields

CONTROL_BITS = CTL_DISABLE | CTL_HOST_FW


def wraps(addr: int, size: int) -> bool:
    """Whether [addr, addr + size) goes past 2^64."""
    return addr + size > U64_MAX + 1


class IgvmCheck(Protocol):
    """What the device says of the bytes of an IGVM image in guest RAM, once its size and
    range rules passed: LOAD_FAIL, BAD_LAYOUT or OK (v7 interface, "IGVM images")."""

    def check(self, addr: int, size: int, opaque_addr: int, opaque_size: int) -> Status: ...


class ResetOutcome(Enum):
    """What a cold reset did to the firmware region."""

    NOTHING = "nothing"
    APPLIED = "applied"
    APPLY_FAIL = "apply-fail"
    HOST_FW_RESTORED = "host-fw-restored"


@dataclass
class V7Model:
    """The state in effect of a v7 device (`fields`) and its rules.

    `ram` is guest RAM; `rewritten` are the ranges -device loader writes at
    reset, which an image may not overlap. `igvm`: FORMAT_IGVM is offered
    (QEMU built with IGVM support, as every build profile is). `from_igvm`: the guest
    was started from an IGVM file (no ROM region: `rom_size` 0, no FORMAT_PLATFORM_ROM).
    `igvm_files`: what IGVM images in guest RAM get (None: every one is LOAD_FAIL).
    """

    rom_size: int
    ram: RamMap
    rom_resize: bool = True
    rewritten: tuple[tuple[int, int], ...] = ()
    igvm: bool = True
    igvm_max_size: int = IGVM_MAX_SIZE
    from_igvm: bool = False
    igvm_files: IgvmCheck | None = None
    fields: Fields = field(default_factory=Fields)
    # The firmware running is a one-boot trial the guest has not committed: if it arms
    # another trial that then fails to apply, the restore that was due still happens.
    trial: bool = False

    def __post_init__(self) -> None:
        self.fields = replace(
            self.fields,
            capabilities=self.capabilities,
            fw_rom_size=self.rom_size,
        )

    @property
    def offered_formats(self) -> int:
        rom = 0 if self.from_igvm else FORMAT_PLATFORM_ROM
        return rom | (FORMAT_IGVM if self.igvm else 0)

    @property
    def capabilities(self) -> int:
        resize = self.rom_resize and not self.from_igvm
        return self.offered_formats | (CAP_ROM_RESIZE if resize else 0)

    @property
    def locked(self) -> bool:
        return bool(self.fields.control & CTL_DISABLE)

    @property
    def armed(self) -> bool:
        return bool(self.fields.control & FORMAT_MASK)

    @property
    def armed_igvm(self) -> bool:
        return bool(self.fields.control & FORMAT_IGVM)

    def igvm_status(self, addr: int, size: int, opaque_addr: int, opaque_size: int) -> Status:
        """Checks 3 and 4 of an IGVM image (libigvm's, then the layout)."""
        if self.igvm_files is None:
            return Status.LOAD_FAIL
        return self.igvm_files.check(addr, size, opaque_addr, opaque_size)

    @property
    def restore_due(self) -> bool:
        """CTL_HOST_FW without an image: the next cold reset restores the host's firmware."""
        return bool(self.fields.control & CTL_HOST_FW) and not self.armed

    def check_control(self, w: Fields) -> bool:
        formats = w.control & FORMAT_MASK
        if w.control & ~(FORMAT_MASK | CONTROL_BITS):
            return False
        if formats & (formats - 1) or formats & ~self.offered_formats:
            return False
        return bool(formats) or not (w.fw_image_addr or w.fw_image_size)

    def check_size(self, size: int) -> bool:
        if size == 0 or size % GRANULE or size > self.rom_size:
            return False
        return size == self.rom_size or self.rom_resize

    def check_range(self, addr: int, size: int) -> bool:
        if addr == 0 or wraps(addr, size) or not self.ram.contains(addr, size):
            return False
        return not any(addr < end and start < addr + size for start, end in self.rewritten)

    def verdict(self, data: bytes, offset: int = 0) -> Status:
        """The status of a write of `data` at `offset`, checked in the interface's order."""
        if offset != 0 or len(data) != FILE_SIZE:
            return Status.BAD_WRITE
        if self.locked:
            return Status.DISABLED
        w = Fields.unpack(data)
        if not self.check_control(w):
            return Status.BAD_CONTROL
        if w.control & FORMAT_PLATFORM_ROM:
            if not self.check_size(w.fw_image_size):
                return Status.BAD_SIZE
            if not self.check_range(w.fw_image_addr, w.fw_image_size):
                return Status.BAD_RANGE
        if w.control & FORMAT_IGVM:
            if not 0 < w.fw_image_size <= self.igvm_max_size:
                return Status.BAD_SIZE
            if not self.check_range(w.fw_image_addr, w.fw_image_size):
                return Status.BAD_RANGE
            status = self.igvm_status(
                w.fw_image_addr, w.fw_image_size, w.opaque_addr, w.opaque_size
            )
            if status is not Status.OK:
                return status
        if wraps(w.opaque_addr, w.opaque_size):
            return Status.BAD_RANGE
        return Status.OK

    def write(self, data: bytes, offset: int = 0) -> Status:
        """Apply a guest write the device receives; return the status it leaves."""
        status = self.verdict(data, offset)
        if status is Status.OK:
            w = Fields.unpack(data)
            self.fields = replace(
                self.fields,
                status=status,
                control=w.control,
                fw_image_addr=w.fw_image_addr,
                fw_image_size=w.fw_image_size,
                opaque_addr=w.opaque_addr,
                opaque_size=w.opaque_size,
            )
            if not w.control & CTL_HOST_FW:
                self.trial = False  # a commit
        else:
            self.fields = replace(self.fields, status=status)
        return status

    def reset(self, ram_now: RamMap | None = None) -> ResetOutcome:
        """Apply a cold reset. `ram_now`: guest RAM at the reset, if it changed (unplug)."""
        ram = ram_now or self.ram
        control = self.fields.control
        lock = control & CTL_DISABLE
        status = Status.OK
        due_after = False
        outcome = ResetOutcome.NOTHING
        if self.armed:
            f = self.fields
            addr, size = f.fw_image_addr, f.fw_image_size
            still_valid = not self.armed_igvm or (
                self.igvm_status(addr, size, f.opaque_addr, f.opaque_size) is Status.OK
            )
            if ram.contains(addr, size) and still_valid:
                outcome = ResetOutcome.APPLIED
                due_after = bool(control & CTL_HOST_FW)
            else:
                status = Status.APPLY_FAIL
                outcome = ResetOutcome.HOST_FW_RESTORED if self.trial else ResetOutcome.APPLY_FAIL
        elif control & CTL_HOST_FW:
            outcome = ResetOutcome.HOST_FW_RESTORED
        if outcome is ResetOutcome.HOST_FW_RESTORED:
            lock = 0
        self.trial = due_after
        self.fields = replace(
            self.fields,
            status=status,
            control=lock | (CTL_HOST_FW if due_after else 0),
            fw_image_addr=0,
            fw_image_size=0,
        )
        return outcome
