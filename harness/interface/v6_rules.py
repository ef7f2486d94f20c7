"""The rules of the v6 device as a model: its accepted state and how writes and resets change it.

Pure logic, no QEMU: the functional tests predict with it what the guest must
read back after each write, and it is unit-tested on its own. The facts it
applies (granule, file names, the opaque size) come from `harness.interface.v6`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.interface import v6
from harness.interface.memory_map import RamMap


@dataclass
class DeviceModel:
    """The accepted state of a vmfwupdate device and its write/reset rules."""

    region_size: int
    ram: RamMap
    resize: bool = True
    bios_size: int = 0
    bios_addr: int = 0
    disable: int = 0
    opaque: bytes = field(default=bytes(v6.OPAQUE_SIZE))
    applied_size: int = 0

    def __post_init__(self) -> None:
        if self.bios_size == 0:
            self.bios_size = self.region_size
        if self.applied_size == 0:
            self.applied_size = self.region_size

    @property
    def cap(self) -> int:
        return v6.CAP_BIOS_RESIZE if self.resize else 0

    def size_ok(self, value: int) -> bool:
        return 0 < value <= self.region_size and value % v6.GRANULE == 0

    def write_cap(self, value: int) -> bool:
        return False

    def write_bios_size(self, value: int) -> bool:
        if self.disable or not self.resize or not self.size_ok(value):
            return False
        if self.bios_addr and not self.ram.contains(self.bios_addr, value):
            return False
        self.bios_size = value
        return True

    def write_bios_addr(self, value: int) -> bool:
        if self.disable:
            return False
        if value != 0 and not self.ram.contains(value, self.bios_size):
            return False
        self.bios_addr = value
        return True

    def write_disable(self, value: int) -> bool:
        if self.disable:
            return False
        self.disable = 1
        return True

    def write_opaque(self, data: bytes) -> bool:
        self.opaque = data + self.opaque[len(data) :]
        return True

    def write(self, name: str, value: int) -> bool:
        """Dispatch a numeric write by fw_cfg file name; return whether it is accepted."""
        handlers = {
            v6.CAP: self.write_cap,
            v6.BIOS_SIZE: self.write_bios_size,
            v6.BIOS_ADDR: self.write_bios_addr,
            v6.DISABLE: self.write_disable,
        }
        return handlers[name](value)

    def value(self, name: str) -> int:
        values = {
            v6.CAP: self.cap,
            v6.BIOS_SIZE: self.bios_size,
            v6.BIOS_ADDR: self.bios_addr,
            v6.DISABLE: self.disable,
        }
        return values[name]

    def update_pending(self) -> bool:
        return not self.disable and self.bios_addr != 0

    def reset(self) -> int | None:
        """Apply a cold reset; return the size of the image copied, or None."""
        applied: int | None = None
        if self.update_pending() and self.ram.contains(self.bios_addr, self.bios_size):
            applied = self.bios_size
            self.applied_size = applied
        self.bios_addr = 0
        self.disable = 0
        self.bios_size = self.applied_size
        return applied
