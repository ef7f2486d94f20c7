"""The guest serial console: pexpect over a socket fd, with a transcript file.

QEMU holds the other end of the socketpair, so when QEMU exits the console
sees end-of-file at once: every wait here ends at its deadline or at QEMU's
exit, whichever comes first.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from pathlib import Path
from typing import BinaryIO

import pexpect
import pexpect.fdpexpect

from harness.errors import ConsoleEOF, ConsoleTimeout


def _tail(data: bytes, limit: int = 300) -> str:
    text = data[-limit:].decode("latin-1")
    return text.replace("\r", "\\r").replace("\n", "\\n")


class Console:
    """Line-oriented access to the guest's COM1."""

    def __init__(self, sock: socket.socket, transcript: Path) -> None:
        self._log: BinaryIO = transcript.open("ab")
        fd = sock.detach()  # pexpect owns the fd from now on
        self._child = pexpect.fdpexpect.fdspawn(fd, timeout=10, maxread=65536)
        self._child.logfile_read = self._log
        self._closed = False

    def _expect_exact(self, pattern: bytes, timeout: float, what: str) -> bytes:
        try:
            self._child.expect_exact(pattern, timeout=timeout)
        except pexpect.TIMEOUT as exc:
            raise ConsoleTimeout(
                f"console: {what} not seen within {timeout:.1f} s; "
                f"last output: {_tail(self._child.before or b'')!r}"
            ) from exc
        except (pexpect.EOF, OSError) as exc:
            raise ConsoleEOF(
                f"console closed (QEMU exited) while waiting for {what}; "
                f"last output: {_tail(self._child.before or b'')!r}"
            ) from exc
        return self._child.before

    def readline(self, timeout: float, what: str = "a line") -> str:
        """Return the next line without its line end ("\\r\\n" or "\\n")."""
        raw = self._expect_exact(b"\n", timeout, what)
        return raw.rstrip(b"\r").decode("latin-1")

    def wait_line(self, regex: str, timeout: float, what: str | None = None) -> re.Match[str]:
        """Skip lines until one matches `regex` (full line); return the match."""
        pat = re.compile(regex)
        deadline = time.monotonic() + timeout
        label = what or f"line matching {regex!r}"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConsoleTimeout(f"console: {label} not seen within {timeout:.1f} s")
            line = self.readline(left, label)
            m = pat.fullmatch(line)
            if m is not None:
                return m

    def send_line(self, text: str) -> None:
        """Send one line terminated by "\\n" and note it in the transcript."""
        data = text.encode("latin-1") + b"\n"
        self._log.write(b">>> " + data)
        self._send(data)

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (for malformed-input tests)."""
        self._log.write(b">>> (raw) " + repr(data).encode() + b"\n")
        self._send(data)

    def _send(self, data: bytes) -> None:
        self._log.flush()
        try:
            self._child.send(data)
        except OSError as exc:
            raise ConsoleEOF(f"console closed (QEMU exited?): send failed: {exc}") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._child.close()
        self._log.close()
