"""The v7 view of the device: the flows' verbs over etc/vmfwupdate, through the agent.

Every verb reads the structure, changes the guest's fields and writes the
whole structure back in one DMA transfer, as a guest tool does, and returns
what it reads back afterwards. The opaque range is guest memory: the view
keeps the flows' opaque bytes at `OPAQUE_AREA` and points the structure at it.
"""

from __future__ import annotations

from harness.guest.agent_client import AgentClient
from harness.interface import v7
from harness.interface.declaration import AbiDeclaration
from harness.interface.device import Capabilities, DeviceState
from harness.interface.v7_struct import Fields
from harness.platform import MIB

# Guest RAM for the opaque bytes: above the agent's memory, below the images (harness
# LOAD_ADDR, 16 MiB).
OPAQUE_AREA = 8 * MIB


class V7Device:
    """`DeviceView` of the v7 ABI, plus its own verbs (`write`, `trial`, `arm_igvm`,
    `restore_host_fw`). `state` counts an image of either format as armed."""

    abi: AbiDeclaration = v7.ABI

    def __init__(self, agent: AgentClient) -> None:
        self.agent = agent

    def read(self) -> Fields:
        """The structure as the guest reads it."""
        return Fields.unpack(self.agent.read(v7.FILE))

    def write(self, fields: Fields) -> Fields:
        """Write `fields` (the whole structure) and return what reads back."""
        self.agent.write(v7.FILE, fields.pack())
        return self.read()

    def set(
        self,
        control: int,
        image_addr: int = 0,
        image_size: int = 0,
        *,
        keep_opaque: bool = True,
    ) -> Fields:
        """Write control and the image fields as a guest tool does; return the read-back."""
        now = self.read()
        opaque = (now.opaque_addr, now.opaque_size) if keep_opaque else (0, 0)
        return self.write(now.with_guest_fields(control, image_addr, image_size, *opaque))

    def capabilities(self) -> Capabilities:
        return Capabilities(resize=bool(self.read().capabilities & v7.CAP_ROM_RESIZE))

    def region_size(self) -> int:
        """fw_rom_size: the host's ROM, or the room given with `rom-max-size`."""
        return self.read().fw_rom_size

    def state(self) -> DeviceState:
        f = self.read()
        armed = bool(f.control & v7.FORMAT_MASK)
        return DeviceState(
            armed_addr=f.fw_image_addr if armed else 0,
            armed_size=f.fw_image_size if armed else 0,
            image_size=None,
            disabled=bool(f.control & v7.CTL_DISABLE),
        )

    def arm(self, addr: int, size: int) -> DeviceState:
        self.set(v7.FORMAT_PLATFORM_ROM, addr, size)
        return self.state()

    def arm_igvm(
        self,
        addr: int,
        size: int,
        *,
        trial: bool = False,
        opaque: tuple[int, int] | None = None,
    ) -> Fields:
        """Arm the IGVM file of `size` bytes at `addr` (FORMAT_IGVM; for one boot with
        `trial`, CTL_HOST_FW), with the opaque range (address, size) `opaque` or the one
        in effect; the read-back, whose status says whether it was taken."""
        control = v7.FORMAT_IGVM | (v7.CTL_HOST_FW if trial else 0)
        if opaque is None:
            return self.set(control, addr, size)
        return self.write(self.read().with_guest_fields(control, addr, size, *opaque))

    def trial(self, addr: int, size: int) -> Fields:
        """Arm the image for one boot (CTL_HOST_FW); the read-back."""
        return self.set(v7.FORMAT_PLATFORM_ROM | v7.CTL_HOST_FW, addr, size)

    def restore_host_fw(self) -> Fields:
        """Ask for the host's firmware at the next cold reset (CTL_HOST_FW, no image)."""
        return self.set(v7.CTL_HOST_FW)

    def commit(self) -> Fields:
        """Keep the firmware on trial: write a control without CTL_HOST_FW."""
        return self.set(0)

    def cancel(self) -> DeviceState:
        self.set(0)
        return self.state()

    def disable(self) -> DeviceState:
        now = self.read()
        self.set(now.control | v7.CTL_DISABLE, now.fw_image_addr, now.fw_image_size)
        return self.state()

    def write_opaque(self, data: bytes) -> None:
        self.agent.mwrite(OPAQUE_AREA, data)
        now = self.read()
        self.write(
            now.with_guest_fields(
                now.control, now.fw_image_addr, now.fw_image_size, OPAQUE_AREA, len(data)
            )
        )

    def read_opaque(self, length: int) -> bytes:
        f = self.read()
        return self.agent.mread(f.opaque_addr, min(length, f.opaque_size))
