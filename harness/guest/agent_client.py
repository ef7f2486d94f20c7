"""Host-side client of the guest agent's console protocol (harness/agent/PROTOCOL.md).

The protocol's limits and formats are `harness.guest.protocol`'s.

Parsing is in plain functions (unit-tested); `AgentClient` sends commands
over a `Console` and turns replies into Python values, raising `AgentError`
with the agent's reason on an `ERR` status line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from harness.errors import AgentError, ProtocolViolation
from harness.fw_cfg import FwCfgEntry
from harness.guest.protocol import (
    BANNER_MAGIC,
    BANNER_PATTERN,
    GUEST_RESET_METHODS,
    HELP_LINE,
    MAX_WRITE_BYTES,
    PORT_MAX,
    PORT_WIDTHS,
    READY,
)

BANNER_RE = re.compile(BANNER_PATTERN)
FILE_RE = re.compile(r"file (?P<select>[0-9a-fA-F]{4}) (?P<size>\d+) (?P<name>\S+)")


@dataclass(frozen=True)
class Banner:
    identity: str
    rom_base: int
    rom_size: int
    crc32: int


@dataclass(frozen=True)
class Reply:
    data: list[str]
    ok: bool
    text: str  # after "OK " or the reason and detail after "ERR "


def parse_banner(line: str) -> Banner:
    m = BANNER_RE.fullmatch(line.strip())
    if m is None:
        raise ProtocolViolation(f"not a banner line: {line!r}")
    return Banner(
        identity=m["identity"],
        rom_base=int(m["base"], 16),
        rom_size=int(m["size"], 16),
        crc32=int(m["crc"], 16),
    )


def parse_status(line: str) -> tuple[bool, str] | None:
    """Return (ok, text) if `line` is a status line, else None (a data line)."""
    if line == "OK":
        return True, ""
    if line.startswith("OK "):
        return True, line[3:]
    if line == "ERR" or line.startswith("ERR "):
        return False, line[4:]
    return None


def parse_data(lines: list[str]) -> bytes:
    """Concatenate `data <hex>` lines into bytes."""
    out = bytearray()
    for line in lines:
        if not line.startswith("data "):
            raise ProtocolViolation(f"expected a 'data <hex>' line, got {line!r}")
        try:
            out += bytes.fromhex(line[5:])
        except ValueError as exc:
            raise ProtocolViolation(f"bad hex in data line {line!r}") from exc
    return bytes(out)


def parse_files(lines: list[str]) -> list[FwCfgEntry]:
    files = []
    for line in lines:
        m = FILE_RE.fullmatch(line)
        if m is None:
            raise ProtocolViolation(f"expected 'file <select> <size> <name>', got {line!r}")
        files.append(FwCfgEntry(m["name"], int(m["size"]), int(m["select"], 16)))
    return files


def parse_hex_status(text: str, command: str) -> int:
    try:
        return int(text.split(maxsplit=1)[0], 16)
    except (ValueError, IndexError) as exc:
        raise ProtocolViolation(f"{command}: expected 'OK 0x<hex>', got 'OK {text}'") from exc


def parse_load_status(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+) crc32=0x([0-9a-fA-F]{8})", text)
    if m is None:
        raise ProtocolViolation(f"load: expected 'OK <size> crc32=0x<hex>', got 'OK {text}'")
    return int(m[1]), int(m[2], 16)


def port_arg(port: int) -> str:
    """An I/O port as `in`/`out` take it."""
    if not 0 <= port <= PORT_MAX:
        raise ValueError(f"I/O port {port:#x} is not 0..{PORT_MAX:#x}")
    return f"{port:#x}"


def width_word(size: int) -> str:
    """The width word of an access of `size` bytes."""
    try:
        return PORT_WIDTHS[size]
    except KeyError:
        raise ValueError(f"port access size {size}: one of {sorted(PORT_WIDTHS)}") from None


def chunks(data: bytes, size: int) -> list[tuple[int, bytes]]:
    """Split data into (offset, piece) pieces of at most `size` bytes."""
    return [(off, data[off : off + size]) for off in range(0, len(data), size)]


class LineIO(Protocol):
    def readline(self, timeout: float, what: str = ...) -> str: ...
    def wait_line(self, regex: str, timeout: float, what: str | None = ...) -> re.Match[str]: ...
    def send_line(self, text: str) -> None: ...
    def send_raw(self, data: bytes) -> None: ...


class AgentClient:
    """Speak the agent protocol over a console."""

    def __init__(self, console: LineIO, timeout: float = 10.0, boot_timeout: float = 20.0) -> None:
        self.console = console
        # Deadline for one command's reply, and for a boot banner (the agent
        # CRCs its whole ROM before printing it); tests scale both with image
        # sizes and the accelerator's speed.
        self.timeout = timeout
        self.boot_timeout = boot_timeout

    # -- generic --------------------------------------------------------

    def wait_banner(self, timeout: float | None = None) -> Banner:
        """Wait for the next boot banner and its READY line."""
        t = timeout if timeout is not None else self.boot_timeout
        m = self.console.wait_line(re.escape(BANNER_MAGIC) + " .*", t, "agent boot banner")
        banner = parse_banner(m.group(0))
        self.console.wait_line(READY, t, f"{READY} after the banner")
        return banner

    def command(self, line: str, timeout: float | None = None) -> Reply:
        """Send one command line; return data lines and the status (ERR not raised)."""
        t = timeout if timeout is not None else self.timeout
        self.console.send_line(line)
        return self.read_reply(line, t)

    def read_reply(self, line: str, timeout: float) -> Reply:
        data: list[str] = []
        word = line.split(" ", 1)[0][:20]
        while True:
            text = self.console.readline(timeout, f"reply to {word!r}")
            status = parse_status(text)
            if status is not None:
                return Reply(data, status[0], status[1])
            data.append(text)

    def check(self, line: str, timeout: float | None = None) -> Reply:
        """Like `command`, but raise AgentError on ERR."""
        reply = self.command(line, timeout)
        if not reply.ok:
            reason, _, detail = reply.text.partition(" ")
            raise AgentError(line[:80], reason, detail)
        return reply

    # -- protocol commands ---------------------------------------------

    def info(self) -> Banner:
        reply = self.check("info")
        if len(reply.data) != 1:
            raise ProtocolViolation(f"info: expected one banner line, got {reply.data!r}")
        return parse_banner(reply.data[0])

    def help(self) -> list[str]:
        """The agent's command list: one usage line per command."""
        reply = self.check("help")
        usages = [line.removeprefix(HELP_LINE + " ") for line in reply.data]
        if reply.text.strip() != str(len(usages)) or any(
            not line.startswith(HELP_LINE + " ") for line in reply.data
        ):
            raise ProtocolViolation(f"help: unexpected reply {reply.data!r} 'OK {reply.text}'")
        return usages

    def files(self) -> list[FwCfgEntry]:
        reply = self.check("files")
        files = parse_files(reply.data)
        if reply.text.strip() != str(len(files)):
            raise ProtocolViolation(f"files: {len(files)} lines but status 'OK {reply.text}'")
        return files

    def read(self, name: str, timeout: float | None = None) -> bytes:
        reply = self.check(f"read {name}", timeout)
        data = parse_data(reply.data)
        if reply.text.strip() != str(len(data)):
            raise ProtocolViolation(f"read {name}: {len(data)} bytes but 'OK {reply.text}'")
        return data

    def readq(self, name: str) -> int:
        return parse_hex_status(self.check(f"readq {name}").text, "readq")

    def write(self, name: str, data: bytes) -> None:
        if len(data) > MAX_WRITE_BYTES or not data:
            raise ValueError(f"write: 1..{MAX_WRITE_BYTES} bytes per command, not {len(data)}")
        self.check(f"write {name} {data.hex()}")

    def writeq(self, name: str, value: int) -> None:
        self.check(f"writeq {name} {value:#x}")

    def writeb(self, name: str, value: int) -> None:
        self.check(f"writeb {name} {value:#x}")

    def load(self, name: str, addr: int, timeout: float | None = None) -> tuple[int, int]:
        """DMA-read a fw_cfg file into RAM at addr; return (size, crc32)."""
        return parse_load_status(self.check(f"load {name} {addr:#x}", timeout).text)

    def mread(self, addr: int, length: int, timeout: float | None = None) -> bytes:
        reply = self.check(f"mread {addr:#x} {length:#x}", timeout)
        data = parse_data(reply.data)
        if len(data) != length:
            raise ProtocolViolation(f"mread: asked {length} bytes, got {len(data)}")
        return data

    def mwrite(self, addr: int, data: bytes) -> None:
        for off, piece in chunks(data, MAX_WRITE_BYTES):
            self.check(f"mwrite {addr + off:#x} {piece.hex()}")

    def mfill(self, addr: int, length: int, byte: int) -> None:
        self.check(f"mfill {addr:#x} {length:#x} {byte:#x}")

    def crc(self, addr: int, length: int, timeout: float | None = None) -> int:
        return parse_hex_status(self.check(f"crc {addr:#x} {length:#x}", timeout).text, "crc")

    def port_in(self, port: int, size: int) -> int:
        """Read `size` bytes (1, 2 or 4) from I/O port `port` (`in`)."""
        reply = self.check(f"in {port_arg(port)} {width_word(size)}")
        return parse_hex_status(reply.text, "in")

    def port_out(self, port: int, size: int, value: int) -> None:
        """Write `value`, `size` bytes (1, 2 or 4), to I/O port `port` (`out`)."""
        word = width_word(size)
        if not 0 <= value < 1 << (8 * size):
            raise ValueError(f"out: {value:#x} does not fit {size} bytes")
        self.check(f"out {port_arg(port)} {word} {value:#x}")

    def reset(self, method: str, timeout: float | None = None) -> Banner:
        """Reset the machine from inside the guest and return the next boot's banner."""
        if method not in GUEST_RESET_METHODS:
            raise ValueError(f"reset method must be one of {GUEST_RESET_METHODS}")
        t = timeout if timeout is not None else self.boot_timeout
        self.console.send_line(f"reset {method}")
        line = self.console.readline(t, f"'resetting {method}'")
        if line != f"resetting {method}":
            status = parse_status(line)
            if status is not None and not status[0]:
                raise AgentError(f"reset {method}", *status[1].partition(" ")[::2])
            raise ProtocolViolation(f"reset {method}: expected 'resetting {method}', got {line!r}")
        return self.wait_banner(t)

    def exit(self, code: int) -> None:
        """Ask the agent to exit QEMU through isa-debug-exit (no reply expected)."""
        self.console.send_line(f"exit {code:#x}")
