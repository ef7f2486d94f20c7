"""One lock per series' ``.work/<series>/``, so that two commands on one checkout never step
on each other.

A command that changes the series' QEMU tree or a build (fetch, apply, export, build, the
build phase of ``test``/``run``/``check``/``fuzz``, the in-tree suite) holds the lock alone
(exclusive); a command that only runs the built binary (the test phase of ``test``, a
``run`` session, a fuzz run) shares it, so test runs with ``--no-build`` go side by side
but a build waits until no test uses the binary it would replace. That build phase
includes the incremental build that ``test`` and ``run`` start with: without
``--no-build``, a second ``test`` waits until the first one's tests end, then runs its
own (measured: two ``test -k`` at once run one after the other, both pass, each with its
own log directory). A command that must wait says once which
vmfwupdate process holds the lock (pid and command line, read from ``/proc/locks``) and
waits; Ctrl-C stops the wait.

The lock is ``flock(2)`` on ``.work/<series>/.lock``: the kernel drops it when the holder
exits, however it exits (kill -9 included), so there is no stale lock to clean up.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOCK_NAME = ".lock"
PROC_LOCKS = Path("/proc/locks")
COMMAND_WIDTH = 160


@dataclass(frozen=True)
class Holder:
    """A process holding the lock: its pid, its command line and how (READ/WRITE)."""

    pid: int
    command: str
    mode: str


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "(exited)"
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    # `python -m harness build` and `.venv/bin/vmfwupdate build` both read `vmfwupdate build`
    for i, word in enumerate(words):
        if word == "harness" and i > 0 and words[i - 1] == "-m":
            return " ".join(["vmfwupdate", *words[i + 1 :]])
        if Path(word).name == "vmfwupdate":
            return " ".join(["vmfwupdate", *words[i + 1 :]])
    text = " ".join(" ".join(words).split())  # one line, whatever the arguments hold
    return text if len(text) <= COMMAND_WIDTH else "..." + text[-COMMAND_WIDTH:]


def holders(path: Path) -> list[Holder]:
    """The processes holding a flock on ``path`` (from /proc/locks), this one excluded."""
    try:
        st = path.stat()
        table = PROC_LOCKS.read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    found = []
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 12416 fe:00:9994891 0 EOF"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            pid = int(fields[4])
            if pid != os.getpid():
                found.append(Holder(pid, command_line(pid), fields[3]))
    return found


def describe(found: list[Holder]) -> str:
    if not found:
        return "its pid is not in /proc/locks"
    return ", ".join(f"pid {h.pid} (`{h.command}`)" for h in found)


class SeriesLock:
    """The lock of one ``.work/<series>/`` directory; `exclusive` and `shared` take it (or
    convert it) and wait as long as another command holds it in a conflicting way."""

    def __init__(self, series_root: Path, step: str, say: Callable[[str], None]) -> None:
        self.path = series_root / LOCK_NAME
        self.step = step
        self.say = say
        self._fd: int | None = None

    def exclusive(self, why: str) -> None:
        """Hold the lock alone (``why``: what this command waits to do, "build QEMU"):
        nobody else builds, applies or runs this series' binary."""
        self._take(fcntl.LOCK_EX, why)

    def shared(self, why: str) -> None:
        """Share the lock with other users of the built binary; no build can start."""
        self._take(fcntl.LOCK_SH, why)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def _take(self, mode: int, why: str) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        self.say(
            f"vmfwupdate {self.step}: waiting to {why}: another vmfwupdate is using "
            f"{self.path.parent} ({describe(holders(self.path))}); Ctrl-C stops waiting"
        )
        fcntl.flock(self._fd, mode)  # blocks; a signal (Ctrl-C, SIGTERM) interrupts it
        self.say(f"vmfwupdate {self.step}: {self.path.parent} is free, going on")


@contextmanager
def series_lock(series_root: Path, step: str, say: Callable[[str], None]) -> Iterator[SeriesLock]:
    """A `SeriesLock` released when the block ends (normally, by an error or a signal)."""
    lock = SeriesLock(series_root, step, say)
    try:
        yield lock
    finally:
        lock.release()
