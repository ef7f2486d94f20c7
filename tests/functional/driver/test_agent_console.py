"""The agent's console from the host: malformed input gets an ERR line, never a hang."""

from __future__ import annotations

import pytest
from vms import STAGE1, Booter

from harness.guest.agent_client import Reply
from harness.guest.pci import CONFIG_ADDRESS, CONFIG_DATA, VENDOR_ID, PciAddress, PciConfig
from harness.guest.protocol import COMMANDS, MAX_LINE
from harness.interface.v6 import BIOS_ADDR, FILE_PREFIX
from harness.machine.console import ConsoleTimeout

HOST_BRIDGE = PciAddress(0, 0)
CASES = [
    ("bogus", "unknown-command"),
    ("readq", "bad-argument"),
    (f"readq {FILE_PREFIX}no-such", "no-such-file"),
    ("mread 0x100000 zz", "bad-argument"),
    (f"writeq {BIOS_ADDR}", "bad-argument"),
    ("reset sideways", "bad-argument"),
    ("in 0x80", "bad-argument"),
    ("in 0x10000 b", "bad-argument"),
    ("in 0x80 q", "bad-argument"),
    ("out 0x80 b 0x100", "bad-argument"),
    ("out 0x80 w", "bad-argument"),
    ("x" * (MAX_LINE + 700), "line-too-long"),
]


@pytest.mark.core
def test_malformed_commands_get_errors(boot: Booter) -> None:
    b = boot()
    a = b.agent
    for line, reason in CASES:
        reply = a.command(line)
        assert not reply.ok, f"{line[:40]!r} was accepted: OK {reply.text}"
        assert reply.text.split(" ", 1)[0] == reason, f"{line[:40]!r} -> ERR {reply.text}"
    # Control bytes and a bare line end: an error for the first, nothing for the second.
    a.console.send_raw(b"\xff\x1b[A\x07\r\n")
    assert not a.read_reply("raw bytes", a.timeout).ok
    a.console.send_raw(b"\n")
    # Still serving: the next reply is info's, not a leftover.
    assert a.info().identity == STAGE1


@pytest.mark.core
def test_nul_byte_gets_error(boot: Booter) -> None:
    b = boot()
    b.agent.console.send_raw(b"\x00bogus\n")
    try:
        reply: Reply | None = b.agent.read_reply("NUL line", 1.0)
    except ConsoleTimeout:
        reply = None
    # Never a hang: whatever happened, the agent still serves.
    assert b.agent.info().identity == STAGE1
    assert reply is not None, "no reply at all to a line with a NUL byte"
    assert not reply.ok


@pytest.mark.core
def test_help_lists_every_command(boot: Booter) -> None:
    usages = boot().agent.help()
    assert usages == list(COMMANDS.values())
    assert "read <name>" in usages
    assert "help" in usages


@pytest.mark.core
def test_port_io_reads_pci_config(boot: Booter) -> None:
    """`out`/`in` through PCI configuration mechanism #1: the host bridge's IDs as QEMU has them."""
    b = boot()
    ids = PciConfig(b.agent, HOST_BRIDGE).read(VENDOR_ID)
    bridge = next(
        d
        for bus in b.vm.qmp.cmd("query-pci")
        for d in bus["devices"]
        if (d["bus"], d["slot"]) == (0, 0)
    )
    assert ids == bridge["id"]["device"] << 16 | bridge["id"]["vendor"], f"read {ids:#010x}"
    # Byte and word widths: the same IDs, a part at a time.
    b.agent.port_out(CONFIG_ADDRESS, 4, HOST_BRIDGE.config_address(VENDOR_ID))
    assert b.agent.port_in(CONFIG_DATA, 2) == bridge["id"]["vendor"]
    assert b.agent.port_in(CONFIG_DATA + 2, 2) == bridge["id"]["device"]
    assert b.agent.port_in(CONFIG_DATA, 1) == bridge["id"]["vendor"] & 0xFF
