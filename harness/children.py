"""Long-running child processes the user watches: a QEMU session on this terminal
(``vmfwupdate run``) and a pytest run (``vmfwupdate test``), and what an interruption of
the toolkit (Ctrl-C, SIGTERM; `harness.cli` turns both into KeyboardInterrupt) does to
them: they get the chance to finish the way they would on their own, within a deadline.

- The QEMU session: QEMU quits on SIGTERM and puts the terminal back as it found it
  (``-serial mon:stdio`` makes it raw); killing it leaves the terminal raw. So it gets
  SIGTERM first and SIGKILL only after ``grace`` seconds, and the terminal settings saved
  before the start are restored in any case.
- The pytest run: it runs in its own process group, so a Ctrl-C on the terminal reaches
  this process only, and pytest and its xdist workers get exactly one SIGINT from here:
  they stop the current tests, print the summary and exit, before the shell's prompt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import termios
from collections.abc import Sequence
from pathlib import Path

SESSION_GRACE = 5.0
TEST_RUN_GRACE = 60.0
# pytest options that read the terminal: the run stays in the terminal's process group
INTERACTIVE_PYTEST = ("--pdb", "--trace")


def _terminal_settings() -> list[object] | None:
    try:
        return termios.tcgetattr(sys.stdin.fileno()) if sys.stdin.isatty() else None
    except (OSError, ValueError, termios.error):
        return None


def _restore_terminal(saved: list[object] | None) -> None:
    if saved is None:
        return
    # from a background job tcsetattr would stop this process with SIGTTOU
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    except (OSError, termios.error):
        pass
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _stop(proc: subprocess.Popen[bytes], sig: int, grace: float, *, group: bool) -> None:
    """Send ``sig``, wait up to ``grace`` seconds, then SIGKILL; another interruption during
    the wait goes straight to SIGKILL."""

    def send(which: int) -> None:
        try:
            if group:
                os.killpg(proc.pid, which)
            else:
                proc.send_signal(which)
        except ProcessLookupError:
            pass

    send(sig)
    try:
        proc.wait(timeout=grace)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        send(signal.SIGKILL)
        proc.wait()
    if group:
        send(signal.SIGKILL)  # what is left of the group once its leader exited (workers)


def session(cmd: Sequence[str], *, grace: float = SESSION_GRACE) -> int:
    """Run ``cmd`` on this terminal; on an interruption let it quit (SIGTERM) before
    killing it, and restore the terminal settings in every case."""
    saved = _terminal_settings()
    try:
        proc = subprocess.Popen(list(cmd))
        try:
            return proc.wait()
        except KeyboardInterrupt:
            _stop(proc, signal.SIGTERM, grace, group=False)
            raise
    finally:
        _restore_terminal(saved)


def run_tests(cmd: Sequence[str], *, cwd: Path, grace: float = TEST_RUN_GRACE) -> int:
    """Run a pytest command; on an interruption give it one SIGINT (a Ctrl-C of its own)
    and wait for its summary."""
    interactive = any(arg.startswith(INTERACTIVE_PYTEST) for arg in cmd)
    proc = subprocess.Popen(list(cmd), cwd=cwd, process_group=None if interactive else 0)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        _stop(proc, signal.SIGINT, grace, group=not interactive)
        raise
