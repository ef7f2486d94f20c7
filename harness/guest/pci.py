"""PCI configuration space from inside the guest: configuration mechanism #1 through the
agent's port I/O (`in`/`out` at 0xcf8/0xcfc).

The agent is the machine's firmware and assigns no BAR itself; a test that wants
a device's memory mapped programs the BAR and the command register here, as a
BIOS would, and checks the result from the host (QMP `query-pci`).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.guest.agent_client import AgentClient

# Mechanism #1: a dword address (enable bit, bus, device, function, register) at
# CONFIG_ADDRESS selects the register that CONFIG_DATA then reads or writes.
CONFIG_ADDRESS = 0xCF8
CONFIG_DATA = 0xCFC
CONFIG_ENABLE = 1 << 31
DWORD = 4
BUSES = 256
DEVICES = 32
FUNCTIONS = 8
REGISTERS = 256
# The type 0 header: identity, the command register (the low half of its dword; the high
# half is the status register, whose bits a 1 clears) with its memory-space enable bit,
# the BARs.
VENDOR_ID = 0x00
COMMAND = 0x04
COMMAND_MASK = 0xFFFF
COMMAND_MEMORY = 1 << 1
BAR0 = 0x10
BARS = 6
# The low bits of a memory BAR (type, prefetchable) and its address part.
BAR_MEMORY_FLAGS = 0xF


@dataclass(frozen=True)
class PciAddress:
    """A PCI function: bus, device (slot) and function number."""

    bus: int
    device: int
    function: int = 0

    def __post_init__(self) -> None:
        if not (
            0 <= self.bus < BUSES and 0 <= self.device < DEVICES and 0 <= self.function < FUNCTIONS
        ):
            raise ValueError(f"no PCI function {self.bus:#x}:{self.device:#x}.{self.function}")

    def config_address(self, register: int) -> int:
        """The CONFIG_ADDRESS value that selects dword `register` of this function."""
        if not 0 <= register < REGISTERS or register % DWORD:
            raise ValueError(f"configuration register {register:#x}: a dword below {REGISTERS:#x}")
        return CONFIG_ENABLE | self.bus << 16 | self.device << 11 | self.function << 8 | register


def bar_register(bar: int) -> int:
    """The configuration register of BAR `bar` (0..5)."""
    if not 0 <= bar < BARS:
        raise ValueError(f"BAR {bar}: a type 0 header has BARs 0..{BARS - 1}")
    return BAR0 + DWORD * bar


class PciConfig:
    """Configuration space of one PCI function, as the guest reads and writes it."""

    def __init__(self, agent: AgentClient, address: PciAddress) -> None:
        self.agent = agent
        self.address = address

    def read(self, register: int) -> int:
        """The dword at `register`."""
        self.agent.port_out(CONFIG_ADDRESS, DWORD, self.address.config_address(register))
        return self.agent.port_in(CONFIG_DATA, DWORD)

    def write(self, register: int, value: int) -> None:
        """Write dword `value` to `register`."""
        self.agent.port_out(CONFIG_ADDRESS, DWORD, self.address.config_address(register))
        self.agent.port_out(CONFIG_DATA, DWORD, value)

    def map_memory_bar(self, bar: int, addr: int) -> int:
        """Put 32-bit memory BAR `bar` at `addr` and enable memory decoding, as firmware does;
        return the BAR as the guest reads it back (the address and the BAR's flag bits)."""
        if addr & BAR_MEMORY_FLAGS or not 0 <= addr < 1 << 32:
            raise ValueError(f"a 32-bit memory BAR cannot be at {addr:#x}")
        self.write(bar_register(bar), addr)
        self.write(COMMAND, self.read(COMMAND) & COMMAND_MASK | COMMAND_MEMORY)
        return self.read(bar_register(bar))
