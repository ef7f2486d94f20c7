"""The device as the flows see it, whatever its ABI: a view with the same verbs for every ABI.

A view (`harness.interface.v6_device.V6Device`, later a v7 one) turns these
verbs into the ABI's fw_cfg accesses through the guest agent, the way
libqos's fw_cfg API hides its transport. Flows never name a fw_cfg file.
Every verb that writes returns the state in effect afterwards, read back
from the device, so the test asserts what the write did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from harness.interface.declaration import AbiDeclaration


@dataclass(frozen=True)
class Capabilities:
    """What the device offers: `resize`, whether an image may be smaller than the region."""

    resize: bool


@dataclass(frozen=True)
class DeviceState:
    """The state in effect, as the guest reads it back.

    `armed_addr`/`armed_size`: the image armed for the next cold reset (addr 0: none);
    `image_size`: the size of the firmware in effect, where the ABI reports it;
    `disabled`: the interface is locked.
    """

    armed_addr: int
    armed_size: int
    image_size: int | None
    disabled: bool

    @property
    def armed(self) -> tuple[int, int] | None:
        """(address, size) of the armed image, or None."""
        return (self.armed_addr, self.armed_size) if self.armed_addr else None


class DeviceView(Protocol):
    """The verbs the ABI-neutral flows use."""

    abi: AbiDeclaration

    def capabilities(self) -> Capabilities: ...

    def state(self) -> DeviceState: ...

    def region_size(self) -> int | None:
        """The firmware region's size as the device reports it (the largest image it takes),
        or None where the ABI does not report it (v6: the region is the -bios image's size)."""
        ...

    def arm(self, addr: int, size: int) -> DeviceState:
        """Arm the image of `size` bytes the guest placed at `addr` for the next cold reset."""
        ...

    def cancel(self) -> DeviceState:
        """Arm nothing."""
        ...

    def disable(self) -> DeviceState:
        """Lock the interface."""
        ...

    def write_opaque(self, data: bytes) -> None:
        """Put `data` at the start of the opaque memory the device keeps across resets."""
        ...

    def read_opaque(self, length: int) -> bytes:
        """The first `length` bytes of the opaque memory."""
        ...


class ArmedReadBack(Protocol):
    """What a view that arms IGVM images reads back: at least the status of the write."""

    @property
    def status(self) -> int: ...


@runtime_checkable
class IgvmArming(Protocol):
    """A view whose ABI takes IGVM images (`AbiDeclaration.igvm_trace` names their event)."""

    def arm_igvm(
        self,
        addr: int,
        size: int,
        *,
        trial: bool = False,
        opaque: tuple[int, int] | None = None,
    ) -> ArmedReadBack: ...
