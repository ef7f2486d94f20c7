"""The agent client over a scripted console: the unit tests' stand-in for a VM's COM1."""

from __future__ import annotations

import re

from harness.guest.agent_client import AgentClient


class ScriptedConsole:
    """Replays a fixed list of lines and records what was sent (a test double of I/O only)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        self.sent: list[str] = []

    def readline(self, timeout: float, what: str = "a line") -> str:
        if not self.lines:
            raise TimeoutError(what)
        return self.lines.pop(0)

    def wait_line(self, regex: str, timeout: float, what: str | None = None) -> re.Match[str]:
        while True:
            m = re.fullmatch(regex, self.readline(timeout))
            if m:
                return m

    def send_line(self, text: str) -> None:
        self.sent.append(text)

    def send_raw(self, data: bytes) -> None:
        self.sent.append(data.decode("latin-1"))


def client(lines: list[str]) -> tuple[AgentClient, ScriptedConsole]:
    """A client whose console replays `lines`, and that console."""
    con = ScriptedConsole(lines)
    return AgentClient(con), con
