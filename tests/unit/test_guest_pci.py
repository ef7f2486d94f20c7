"""PCI configuration mechanism #1 through the agent (harness.guest.pci), over a scripted console."""

from __future__ import annotations

import pytest
from agent_helpers import client

from harness.guest.pci import BAR0, PciAddress, PciConfig, bar_register


@pytest.mark.parametrize(
    ("function", "register", "want"),
    [
        (PciAddress(0, 0), 0, 0x80000000),
        (PciAddress(0, 5), BAR0, 0x80002810),
        (PciAddress(0xFF, 31, 7), 0xFC, 0x80FFFFFC),
    ],
)
def test_config_address_encodes_bus_device_function_register(
    function: PciAddress, register: int, want: int
) -> None:
    assert function.config_address(register) == want


@pytest.mark.parametrize(("device", "register"), [(32, 0), (0, 2), (0, 0x100), (0, -4)])
def test_config_address_refuses(device: int, register: int) -> None:
    with pytest.raises(ValueError):
        PciAddress(0, device).config_address(register)


def test_bar_registers() -> None:
    assert [bar_register(n) for n in range(6)] == [0x10, 0x14, 0x18, 0x1C, 0x20, 0x24]
    with pytest.raises(ValueError):
        bar_register(6)


BAR_ADDR = 0xE0000000
PREFETCHABLE = 0x8


def test_map_memory_bar_writes_the_bar_then_enables_memory_decoding() -> None:
    # Replies: BAR write (2 x OK), command read (OK, status bit 4 set, I/O on), command
    # write (2 x OK), BAR read back (OK, OK 0x...8: prefetchable).
    c, con = client(["OK", "OK", "OK", "OK 0x00100001", "OK", "OK", "OK", "OK 0xe0000008"])
    assert PciConfig(c, PciAddress(0, 5)).map_memory_bar(0, BAR_ADDR) == BAR_ADDR | PREFETCHABLE
    assert con.sent == [
        "out 0xcf8 l 0x80002810",
        "out 0xcfc l 0xe0000000",
        "out 0xcf8 l 0x80002804",
        "in 0xcfc l",
        "out 0xcf8 l 0x80002804",
        # The status half is written as 0: its bits are cleared by writing 1.
        "out 0xcfc l 0x3",
        "out 0xcf8 l 0x80002810",
        "in 0xcfc l",
    ]


@pytest.mark.parametrize("addr", [0xE0000004, 1 << 32, -16])
def test_map_memory_bar_refuses_what_a_32_bit_bar_cannot_hold(addr: int) -> None:
    c, con = client([])
    with pytest.raises(ValueError):
        PciConfig(c, PciAddress(0, 5)).map_memory_bar(0, addr)
    assert con.sent == []
