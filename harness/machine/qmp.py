"""A synchronous facade over `qemu.qmp.QMPClient` where every wait has a deadline.

The session runs its own asyncio event loop and drives it only while a call
is in progress. Each wait (greeting, command reply, event) races a deadline
and the exit of the QEMU process (a pidfd readable in the same loop), so a
dead or silent QEMU turns into an exception at once instead of a hang.
Every message in both directions is appended to a per-VM transcript file as
it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from qemu.qmp import EventListener, QMPClient
from qemu.qmp.message import Message
from qemu.qmp.qmp_client import ExecuteError

from harness.errors import QEMUExited, QMPError, QMPTimeout

__all__ = ["ExecuteError", "QEMUExited", "QMPError", "QMPSession", "QMPTimeout"]

T = TypeVar("T")


class _TranscriptClient(QMPClient):
    """QMPClient that writes every message to a transcript file."""

    def __init__(self, transcript: TextIO, t0: float) -> None:
        super().__init__(name="vm")
        self._transcript = transcript
        self._t0 = t0

    def _log(self, direction: str, msg: Message) -> None:
        stamp = time.monotonic() - self._t0
        self._transcript.write(f"{stamp:9.3f} {direction} {bytes(msg).decode()}\n")
        self._transcript.flush()

    def _cb_outbound(self, msg: Message) -> Message:
        self._log("-->", msg)
        return super()._cb_outbound(msg)

    def _cb_inbound(self, msg: Message) -> Message:
        self._log("<--", msg)
        return super()._cb_inbound(msg)


class QMPSession:
    """One QMP connection to one QEMU process, used synchronously."""

    def __init__(
        self,
        sock: socket.socket,
        pid: int,
        transcript: Path,
        exit_status: Callable[[], int | None],
    ) -> None:
        self._sock = sock
        self._exit_status = exit_status
        self._loop = asyncio.new_event_loop()
        self._t0 = time.monotonic()
        self._transcript = transcript.open("a", encoding="utf-8")
        self._client = _TranscriptClient(self._transcript, self._t0)
        self._events: list[dict[str, Any]] = []
        self._listener: EventListener = self._client.events
        self._pidfd = os.pidfd_open(pid)
        self._exited: asyncio.Future[None] = self._loop.create_future()
        self._loop.add_reader(self._pidfd, self._on_exit)
        self._closed = False

    # -- plumbing -------------------------------------------------------

    def _on_exit(self) -> None:
        if not self._exited.done():
            self._exited.set_result(None)
        self._loop.remove_reader(self._pidfd)

    def _run(self, what: str, coro: Awaitable[T], timeout: float) -> T:
        """Run `coro` until done, the deadline, or QEMU's exit; raise on the latter two."""

        async def race() -> T:
            task = asyncio.ensure_future(coro)
            done, _ = await asyncio.wait(
                {task, self._exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if task in done:
                return task.result()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            if self._exited.done():
                status = self._exit_status()
                raise QEMUExited(f"QEMU exited (status {status}) during QMP {what}")
            raise QMPTimeout(f"QMP {what}: no answer within {timeout:.1f} s")

        return self._loop.run_until_complete(race())

    # -- public API -----------------------------------------------------

    def connect(self, timeout: float) -> dict[str, Any]:
        """Wait for the greeting and negotiate; return the greeting's QMP section."""
        self._run("greeting", self._client.connect(self._sock), timeout)
        greeting = self._client.greeting
        return dict(greeting._asdict()["QMP"]) if greeting is not None else {}

    def cmd(self, name: str, args: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
        """Execute a command; raise `ExecuteError` if QEMU answers with an error."""
        return self._run(name, self._client.execute(name, args), timeout)

    def hmp(self, command_line: str, timeout: float = 10.0) -> str:
        """Run a human monitor command and return its text output."""
        out = self.cmd("human-monitor-command", {"command-line": command_line}, timeout)
        return str(out)

    def mark(self) -> int:
        """Return a position in the event history; pass it to `wait_event`.

        A round trip first: QEMU sends every event emitted before the reply,
        so the mark is exact (no earlier event is mistaken for a later one).
        """
        self.cmd("query-status", timeout=5.0)
        self._drain()
        return len(self._events)

    def _drain(self) -> None:
        self._events.extend(dict(ev) for ev in self._listener.clear())

    @property
    def events(self) -> list[dict[str, Any]]:
        """All events QEMU emitted so far (copy); a round trip makes it current."""
        self.mark()
        return list(self._events)

    def wait_event(self, name: str, since: int, timeout: float = 10.0) -> dict[str, Any]:
        """Return the first event `name` received after history position `since`."""
        deadline = time.monotonic() + timeout
        idx = since
        while True:
            self._drain()
            for i in range(idx, len(self._events)):
                if self._events[i].get("event") == name:
                    return self._events[i]
            idx = len(self._events)
            left = deadline - time.monotonic()
            if left <= 0:
                raise QMPTimeout(f"QMP event {name}: not received within {timeout:.1f} s")
            try:
                ev = self._run(f"wait for event {name}", self._listener.get(), left)
            except QMPTimeout as exc:
                raise QMPTimeout(f"QMP event {name}: not received within {timeout:.1f} s") from exc
            self._events.append(dict(ev))

    def close(self, timeout: float = 2.0) -> None:
        """Disconnect (bounded); safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run_until_complete(asyncio.wait_for(self._client.disconnect(), timeout))
        except Exception as exc:
            self._transcript.write(f"# disconnect: {type(exc).__name__}: {exc}\n")
        finally:
            # Whatever qemu.qmp left running (QEMU gone mid-disconnect) ends here.
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._loop.close()
            self._transcript.close()


def format_event(event: dict[str, Any]) -> str:
    """One-line rendering of an event for messages."""
    return json.dumps(event, sort_keys=True)
