"""The v6 view of the device: the flows' verbs over the five fw_cfg files, through the agent."""

from __future__ import annotations

from harness.errors import AgentError
from harness.guest.agent_client import AgentClient
from harness.guest.protocol import DMA_ERROR
from harness.interface import v6
from harness.interface.declaration import AbiDeclaration
from harness.interface.device import Capabilities, DeviceState

ACCEPTED = "accepted"


class V6Device:
    """`DeviceView` of the v6 ABI. `write` is the one raw write the layout tests use."""

    abi: AbiDeclaration = v6.ABI

    def __init__(self, agent: AgentClient) -> None:
        self.agent = agent

    def write(self, name: str, value: int) -> str:
        """Write `value` to file `name` (a u64, or the disable byte); the agent's outcome.

        The device rejects a write by keeping its value, which the caller reads
        back; fw_cfg itself may refuse the DMA write: DMA_ERROR. Any other
        agent error is raised.
        """
        try:
            if name == v6.DISABLE:
                self.agent.writeb(name, value)
            else:
                self.agent.writeq(name, value)
        except AgentError as exc:
            if exc.reason != DMA_ERROR:
                raise
            return DMA_ERROR
        return ACCEPTED

    def files(self) -> dict[str, int]:
        """The numeric files as the guest reads them."""
        values = {name: self.agent.readq(name) for name in v6.U64_FILES}
        values[v6.DISABLE] = self.agent.read(v6.DISABLE)[0]
        return values

    def capabilities(self) -> Capabilities:
        return Capabilities(resize=bool(self.agent.readq(v6.CAP) & v6.CAP_BIOS_RESIZE))

    def region_size(self) -> None:
        """v6 does not report it: bios-size is the size of the image in effect."""
        return None

    def state(self) -> DeviceState:
        files = self.files()
        return DeviceState(
            armed_addr=files[v6.BIOS_ADDR],
            armed_size=files[v6.BIOS_SIZE],
            image_size=files[v6.BIOS_SIZE],
            disabled=bool(files[v6.DISABLE]),
        )

    def arm(self, addr: int, size: int) -> DeviceState:
        if self.agent.readq(v6.BIOS_SIZE) != size:
            self.write(v6.BIOS_SIZE, size)
        self.write(v6.BIOS_ADDR, addr)
        return self.state()

    def cancel(self) -> DeviceState:
        self.write(v6.BIOS_ADDR, 0)
        return self.state()

    def disable(self) -> DeviceState:
        self.write(v6.DISABLE, 1)
        return self.state()

    def write_opaque(self, data: bytes) -> None:
        self.agent.write(v6.OPAQUE, data)

    def read_opaque(self, length: int) -> bytes:
        return self.agent.read(v6.OPAQUE)[:length]
