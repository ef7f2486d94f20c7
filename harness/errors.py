"""Every exception the toolkit raises on purpose, in one tree.

    VmfwError                     root: catch this to catch everything below
    ├── HarnessError              a step of a command failed; the user can act on it:
    │   │                         step, problem, file, evidence, what to do (`render()`)
    │   └── AgentBuildError       building a guest agent image failed (compile, link, checks)
    └── MachineError              a running QEMU or its guest did not behave (tests see these)
        ├── VMError               the QEMU process: start, exit status, sanitizer reports
        │   └── LaunchError       QEMU did not come up: exit status, command line, stderr
        ├── QMPError              the QMP session
        │   ├── QMPTimeout        no reply or event within the deadline
        │   └── QEMUExited        QEMU exited during a QMP wait
        ├── ConsoleError          the serial console
        │   ├── ConsoleTimeout    an expected line did not come within the deadline
        │   └── ConsoleEOF        QEMU closed the console (it exited)
        ├── AgentError            the guest agent answered ERR (`reason`, `detail`)
        └── ProtocolViolation     the agent printed something its protocol does not allow

Errors that wrap another keep it as `__cause__` (`raise ... from exc`), so a
traceback shows the root cause (an OSError, pexpect's TIMEOUT, ...).
"""

from __future__ import annotations

import errno
import shlex
from pathlib import Path


class VmfwError(Exception):
    """Root of the toolkit's exceptions."""


class HarnessError(VmfwError):
    """A failure of one pipeline step, with the file involved and what to do about it."""

    def __init__(
        self,
        step: str,
        problem: str,
        *,
        path: Path | str | None = None,
        hint: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.step = step
        self.problem = problem
        self.path = Path(path) if path is not None else None
        self.hint = hint
        self.details = details

    def render(self) -> str:
        """Text for the terminal: what failed, where, the evidence, and what to do."""
        lines = [f"vmfwupdate {self.step}: error: {self.problem}"]
        if self.path is not None:
            lines.append(f"  file: {self.path}")
        if self.details:
            lines.extend("  " + line for line in self.details.rstrip().splitlines())
        if self.hint:
            lines.append(f"  what to do: {self.hint}")
        return "\n".join(lines)


# What to do about the file system errors a user can meet anywhere (the toolkit writes
# below .work/ and, on export, patches/): by errno.
OS_ERROR_HINTS = {
    errno.EROFS: "the file system is read-only: run from a writable checkout (or clone it "
    "somewhere writable)",
    errno.ENOSPC: "the disk is full: free space (`make clean` removes builds and logs; "
    "`df -h` shows where), then run again",
    errno.EDQUOT: "the disk quota is used up: free space, then run again",
    errno.EACCES: "you may not write or read there: fix the permissions or run as the "
    "user that owns the checkout",
    errno.EPERM: "the operation is not permitted there: fix the permissions or run as the "
    "user that owns the checkout",
}


def os_error(step: str, exc: OSError) -> HarnessError:
    """A file system error no step handled, as an error the user can act on."""
    where = exc.filename
    hint = OS_ERROR_HINTS.get(exc.errno or 0, "check the file named and run again")
    return HarnessError(step, f"{exc.strerror or exc}", path=where, hint=hint)


class AgentBuildError(HarnessError):
    """A step of the agent build failed; the message names the step, the file and what to do."""

    def __init__(
        self,
        step: str,
        message: str,
        path: Path | None = None,
        output: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(step, message, path=path, hint=hint, details=output.strip() or None)
        self.output = output

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path is not None else ""
        text = f"agent build step '{self.step}' failed{where}: {self.problem}"
        if self.details:
            text += "\n" + self.details
        if self.hint:
            text += f"\nwhat to do: {self.hint}"
        return text


class MachineError(VmfwError):
    """A running QEMU, its QMP, its console or its guest agent did not behave."""


class VMError(MachineError):
    """Something about the QEMU process went wrong; the message names the logs."""


class LaunchError(VMError):
    """QEMU did not come up: carries its exit status, command line and stderr."""

    def __init__(self, reason: str, status: int | None, args: list[str], stderr: str) -> None:
        self.reason = reason
        self.status = status
        self.args_list = args
        self.stderr = stderr
        super().__init__(
            f"QEMU launch failed: {reason}; exit status {status}\n"
            f"command: {shlex.join(args)}\nstderr:\n{stderr.rstrip()}"
        )


class QMPError(MachineError):
    """The QMP session failed."""


class QMPTimeout(QMPError):
    """No QMP reply or event within the deadline."""


class QEMUExited(QMPError):
    """QEMU exited while a QMP wait was in progress."""


class ConsoleError(MachineError):
    """The serial console failed."""


class ConsoleTimeout(ConsoleError):
    """An expected console line did not come within the deadline."""


class ConsoleEOF(ConsoleError):
    """QEMU closed the console (it exited)."""


class AgentError(MachineError):
    """The agent answered ERR; `reason` is its reason word, `detail` the rest."""

    def __init__(self, command: str, reason: str, detail: str) -> None:
        super().__init__(f"agent: {command!r} -> ERR {reason} {detail}".rstrip())
        self.command = command
        self.reason = reason
        self.detail = detail


class ProtocolViolation(MachineError):
    """The agent printed something the protocol does not allow."""
