"""Start, watch and always reap one QEMU process for a test.

A `VM` owns the QEMU process (own session and process group,
`-run-with exit-with-parent=on`), its QMP session and its serial console,
both passed to QEMU as inherited socketpair fds. Logs go to one directory
per VM: QEMU's stderr, the console transcript, the QMP transcript and the
command line, each written as it happens.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import LaunchError, VMError
from harness.guest.agent_client import AgentClient
from harness.machine.cmdline import VMConfig, build_args, fd_wiring, optionrom_for
from harness.machine.console import Console
from harness.machine.qmp import QEMUExited, QMPSession
from harness.machine.sanitizers import sanitizer_env, sanitizer_reports

QUIT_BUDGET = 3.0
KILL_BUDGET = 3.0


@dataclass(frozen=True)
class VMLogs:
    directory: Path
    stderr: Path
    console: Path
    qmp: Path
    cmdline: Path

    @classmethod
    def in_dir(cls, directory: Path) -> VMLogs:
        directory.mkdir(parents=True, exist_ok=True)
        return cls(
            directory=directory,
            stderr=directory / "qemu-stderr.log",
            console=directory / "console.log",
            qmp=directory / "qmp.log",
            cmdline=directory / "cmdline.txt",
        )

    def paths(self) -> list[Path]:
        return [self.cmdline, self.stderr, self.console, self.qmp]


def describe_status(status: int | None) -> str:
    if status is None:
        return "still running"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"killed by {name}"
    return f"exit code {status}"


class VM:
    """One QEMU process. Use as a context manager or call `shutdown()`."""

    def __init__(self, cfg: VMConfig, log_dir: Path) -> None:
        self.cfg = cfg
        self.logs = VMLogs.in_dir(log_dir)
        self.args: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._qmp: QMPSession | None = None
        self._console: Console | None = None
        self._agent: AgentClient | None = None
        # Exit statuses the test declared acceptable besides 0 (QMP quit).
        self.expected_exits: set[int] = {0}
        self._killed = False
        self._reaped = False

    # -- accessors ------------------------------------------------------

    @property
    def qmp(self) -> QMPSession:
        if self._qmp is None:
            raise VMError("VM not launched: no QMP session")
        return self._qmp

    @property
    def console(self) -> Console:
        if self._console is None:
            raise VMError("VM not launched: no console")
        return self._console

    @property
    def agent(self) -> AgentClient:
        if self._agent is None:
            self._agent = AgentClient(self.console)
        return self._agent

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise VMError("VM not launched")
        return self._proc.pid

    def exit_status(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stderr_text(self) -> str:
        try:
            return self.logs.stderr.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle ------------------------------------------------------

    def launch(self, timeout: float = 15.0) -> None:
        """Start QEMU and complete the QMP handshake, or raise LaunchError."""
        if self._proc is not None:
            raise VMError("VM already launched")
        qmp_parent, qmp_child = socket.socketpair()
        ser_parent, ser_child = socket.socketpair()
        self.args = build_args(
            self.cfg,
            fd_wiring(qmp_child.fileno(), ser_child.fileno()),
            optionrom_for(self.cfg.qemu_bin),
        )
        self.logs.cmdline.write_text(shlex.join(self.args) + "\n", encoding="utf-8")
        env = {**sanitizer_env(os.environ), **self.cfg.env}
        with self.logs.stderr.open("wb") as err:
            try:
                self._proc = subprocess.Popen(
                    self.args,
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    pass_fds=(qmp_child.fileno(), ser_child.fileno()),
                    start_new_session=True,
                    env=env,
                )
            except OSError as exc:
                for s in (qmp_parent, qmp_child, ser_parent, ser_child):
                    s.close()
                raise LaunchError(f"cannot execute: {exc}", None, self.args, "") from exc
        qmp_child.close()
        ser_child.close()
        self._console = Console(ser_parent, self.logs.console)
        self._qmp = QMPSession(qmp_parent, self._proc.pid, self.logs.qmp, self.exit_status)
        try:
            self._qmp.connect(timeout)
        except Exception as exc:  # QMPError, or qemu.qmp's ConnectError on EOF
            status = self._wait(KILL_BUDGET)
            hung = status is None
            if hung:
                self._kill()
                status = self._wait(KILL_BUDGET)
            self._release()
            self._reaped = True  # the LaunchError reports the exit; teardown need not
            reason = (
                f"no QMP greeting within {timeout:.1f} s ({type(exc).__name__}: {exc}); killed"
                if hung
                else "QEMU exited before its QMP greeting"
            )
            raise LaunchError(reason, status, self.args, self.stderr_text()) from exc

    def run_to_exit(self, timeout: float = 15.0) -> int:
        """Launch a QEMU that is expected to exit on its own (command-line errors).

        Returns the exit status. Raises VMError if it is still running after
        `timeout` (it is then killed).
        """
        try:
            self.launch(timeout)
        except LaunchError as exc:
            if exc.status is None:
                raise
            return exc.status
        status = self._wait(timeout)
        if status is None:
            self.shutdown(check=False)
            raise VMError(f"QEMU did not exit within {timeout:.1f} s; logs: {self.logs.directory}")
        self.shutdown(check=False)
        return status

    def _wait(self, timeout: float) -> int | None:
        """QEMU's exit status once it exits, None if it still runs after `timeout`.

        Waits on a pidfd: `Popen.wait(timeout)` polls with sleeps that grow to 50 ms, so
        it notices an exit up to that late, and every test pays that at its VMs' quit."""
        assert self._proc is not None
        if self._proc.returncode is not None:
            return self._proc.returncode
        try:
            pidfd = os.pidfd_open(self._proc.pid)
        except OSError:  # no pidfd support: let Popen poll
            try:
                return self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        try:
            exited, _, _ = select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)
        return self._proc.wait() if exited else None

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for QEMU to exit on its own (e.g. isa-debug-exit); return its status."""
        if self._proc is None:
            raise VMError("VM not launched")
        status = self._wait(timeout)
        if status is None:
            raise VMError(f"QEMU still running after {timeout:.1f} s; logs: {self.logs.directory}")
        return status

    def _kill(self) -> None:
        assert self._proc is not None
        self._killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def _release(self) -> None:
        if self._qmp is not None:
            self._qmp.close()
        if self._console is not None:
            self._console.close()

    def shutdown(self, check: bool = True) -> int | None:
        """Quit QEMU gracefully (bounded), kill its group if needed, and reap it.

        With `check`, raise VMError if QEMU died on a signal, had to be
        killed, or exited with a status not in `expected_exits`.
        """
        if self._proc is None or self._reaped:
            return None if self._proc is None else self._proc.returncode
        problem = ""
        status = self._proc.poll()
        if status is None and self._qmp is not None:
            try:
                self._qmp.cmd("quit", timeout=QUIT_BUDGET)
            except QEMUExited:
                pass
            except Exception as exc:
                problem = f"QMP quit failed ({type(exc).__name__}: {exc}); "
            status = self._wait(QUIT_BUDGET)
        if status is None:
            problem += f"QEMU did not exit within {QUIT_BUDGET:.1f} s of quit; killed; "
            self._kill()
            status = self._wait(KILL_BUDGET)
        else:
            # Anything left in the group (there should be nothing) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        self._release()
        self._reaped = True
        if check:
            if status is None:
                problem += "QEMU survived SIGKILL; "
            elif status < 0 and not self._killed:
                problem += f"QEMU {describe_status(status)}; "
            elif status >= 0 and status not in self.expected_exits:
                want = sorted(self.expected_exits)
                problem += f"QEMU {describe_status(status)}, expected one of {want}; "
            reports = sanitizer_reports(self.stderr_text())
            if reports:
                problem += f"sanitizer report in QEMU's stderr: {reports[0]}; "
            if problem:
                raise VMError(f"{problem}logs: {self.logs.directory}")
        return status

    def __enter__(self) -> VM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(check=exc[0] is None)
