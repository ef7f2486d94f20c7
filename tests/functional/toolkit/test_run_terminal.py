"""`vmfwupdate run` on a real terminal, interrupted: SIGTERM or SIGINT to the vmfwupdate
process alone (a `kill`, a CI timeout) while QEMU holds the terminal raw (``-serial
mon:stdio``). QEMU gets SIGTERM and quits by itself (it puts the terminal back), and the
terminal's settings are afterwards exactly as before the run (issue 29, item 4).

The terminal is a pty with a shell on it, as a user's would be: ``stty`` before, the run in
the foreground, ``stty`` after. The command runs on a checkout of its own (an empty
``.work``): the real one's series lock may be held alone by the ``check`` that runs this
test, and `run` would wait for it.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Payloads

from harness.cli import EXIT_INTERRUPTED
from harness.guest.protocol import READY

REPO = Path(__file__).resolve().parents[3]
PROMPT = "PROMPT-29$ "
BOOT_DEADLINE = 60.0  # READY on TCG: well under a second here
# Python and the CLI's imports; a fresh checkout compiles its .pyc files first, and on a
# loaded machine that took more than the shell's 10 s (2026-12-07)
STARTUP_DEADLINE = 60.0
EXIT_DEADLINE = 30.0  # vmfwupdate gives QEMU 5 s (children.SESSION_GRACE) before SIGKILL
SHELL_DEADLINE = 10.0
# The CLI of this checkout on another repository root: `vmfwupdate <argv[2:]>` on argv[1].
CLI = """\
import os, sys
from pathlib import Path
from harness import workdir
workdir.find_repo_root = lambda: Path(sys.argv[1])
from harness.cli import main
print("VMFWUPDATE-PID", os.getpid(), flush=True)
sys.exit(main(sys.argv[2:]))
"""
TERMINAL_FLAGS = ("echo", "icanon", "isig")


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[pexpect.spawn]:
    """A shell on a new pty, at its prompt."""
    env = {**os.environ, "PS1": PROMPT, "TERM": "dumb"}
    child = pexpect.spawn(
        "/bin/bash",
        ["--norc", "--noprofile"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=SHELL_DEADLINE,
    )
    try:
        child.expect_exact(PROMPT)
        yield child
    finally:
        child.close(force=True)


def stty(shell: pexpect.spawn) -> str:
    """`stty -a` of the shell's terminal (the pty), run there."""
    shell.sendline("stty -a; echo STTY-END")
    shell.expect("\r\nSTTY-END\r\n")  # not the echo of the command line
    settings = str(shell.before).split("\r\n", 1)[1]
    shell.expect_exact(PROMPT)
    return settings


def flags(settings: str) -> dict[str, bool]:
    """The local modes a raw terminal turns off: {"echo": True, ...} (`-echo` is False)."""
    found = {m.group(2): m.group(1) != "-" for m in re.finditer(r"(-?)\b(\w+)\b", settings)}
    return {name: found[name] for name in TERMINAL_FLAGS}


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_run_restores_the_terminal_and_stops_qemu(
    shell: pexpect.spawn,
    checkout: Path,
    binary: Path,
    series: str,
    payloads: Payloads,
    sig: signal.Signals,
) -> None:
    image = payloads.get(DEFAULT_IMAGE_SIZE, STAGE1)
    before = stty(shell)
    assert all(flags(before).values()), f"the new pty is not cooked: {flags(before)}"
    argv = [
        sys.executable,
        "-c",
        CLI,
        str(checkout),
        "run",
        "--series",
        series,
        "--no-build",
        "--build-dir",
        str(binary.parent),
        "--image",
        str(image),
    ]
    shell.sendline(f"{shlex.join(argv)}; echo RC=$?")
    shell.expect(r"VMFWUPDATE-PID (\d+)", timeout=STARTUP_DEADLINE)
    vmfwupdate = int(shell.match.group(1))
    qemu: list[int] = []
    try:
        shell.expect_exact(READY, timeout=BOOT_DEADLINE)
        qemu = children_of(vmfwupdate)
        assert len(qemu) == 1, f"vmfwupdate (pid {vmfwupdate}) has children {qemu}, not QEMU"
        raw = termios.tcgetattr(shell.child_fd)[3]  # the pty's local modes, QEMU's now
        assert not raw & (termios.ECHO | termios.ICANON | termios.ISIG), "QEMU left it cooked"
        os.kill(vmfwupdate, sig)
        shell.expect(r"RC=(\d+)\r\n", timeout=EXIT_DEADLINE)
        output = str(shell.before)
        rc = int(shell.match.group(1))
        shell.expect_exact(PROMPT)
    finally:
        for pid in (vmfwupdate, *qemu):  # a failed check leaves nothing running
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    after = stty(shell)
    assert flags(after) == flags(before), f"terminal left as {flags(after)}"
    assert after == before
    assert not [pid for pid in qemu if alive(pid)], f"QEMU {qemu} still runs"
    assert rc == EXIT_INTERRUPTED, output
    assert "vmfwupdate: interrupted" in output
    assert f"terminating on signal {signal.SIGTERM.value}" in output, (
        f"QEMU was not let quit by itself (SIGTERM):\n{output}"
    )
