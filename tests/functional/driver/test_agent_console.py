"""The agent's console from the host: malformed input gets an ERR line, never a hang."""

from __future__ import annotations

import pytest
from vms import STAGE1, Booter

from harness.guest.agent_client import Reply
from harness.guest.protocol import COMMANDS, MAX_LINE
from harness.interface.v6 import BIOS_ADDR, FILE_PREFIX
from harness.machine.console import ConsoleTimeout

CASES = [
    ("bogus", "unknown-command"),
    ("readq", "bad-argument"),
    (f"readq {FILE_PREFIX}no-such", "no-such-file"),
    ("mread 0x100000 zz", "bad-argument"),
    (f"writeq {BIOS_ADDR}", "bad-argument"),
    ("reset sideways", "bad-argument"),
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
