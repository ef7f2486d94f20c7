"""The VM driver itself, against a real QEMU: exits, crashes, deadlines, orphans."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vms import DEFAULT_IMAGE_SIZE, STAGE1, Booter

from harness.errors import VMError
from harness.interface.v6 import CAP
from harness.machine.cmdline import debug_exit_status
from harness.machine.console import ConsoleEOF, ConsoleTimeout
from harness.machine.qmp import QEMUExited

EXIT_VALUE = 0x10
# Seconds within which every wait must notice that QEMU exited.
EXIT_NOTICED_WITHIN = 5.0
# How far past its deadline a wait may end.
DEADLINE_SLACK = 2.5

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.core
def test_guest_exit_status(boot: Booter) -> None:
    b = boot()
    b.vm.expected_exits.add(debug_exit_status(EXIT_VALUE))
    b.agent.exit(EXIT_VALUE)
    assert b.vm.wait_exit(10.0) == (EXIT_VALUE << 1) | 1


@pytest.mark.core
def test_exit_ends_waits_at_once(boot: Booter) -> None:
    b = boot()
    b.vm.expected_exits.add(debug_exit_status(3))
    mark = b.vm.qmp.mark()
    b.agent.exit(3)
    t0 = time.monotonic()
    with pytest.raises(QEMUExited):
        b.vm.qmp.wait_event("RESET", mark, timeout=30.0)
    with pytest.raises(ConsoleEOF):
        b.agent.readq(CAP)
    assert time.monotonic() - t0 < EXIT_NOTICED_WITHIN, "waits did not end when QEMU exited"


@pytest.mark.core
def test_silent_guest_hits_deadline(boot: Booter) -> None:
    b = boot()
    b.vm.qmp.cmd("stop")
    b.agent.timeout = 0.5
    t0 = time.monotonic()
    with pytest.raises(ConsoleTimeout):
        b.agent.readq(CAP)
    assert time.monotonic() - t0 < b.agent.timeout + DEADLINE_SLACK
    b.vm.qmp.cmd("cont")
    # The guest runs again and answers the command the host gave up on.
    assert b.agent.read_reply("readq", 10.0).ok
    assert b.agent.info().identity == STAGE1


@pytest.mark.core
def test_crash_fails_the_test(boot: Booter) -> None:
    b = boot()
    pid = b.vm.pid
    os.kill(pid, signal.SIGSEGV)
    # An asan build catches the signal itself: a SEGV report on stderr, then exit 1.
    with pytest.raises(VMError, match=r"SIGSEGV|AddressSanitizer: SEGV"):
        b.vm.shutdown()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.core
def test_no_orphan_when_runner_is_killed(boot: Booter, tmp_path: Path) -> None:
    """A runner killed with SIGKILL takes its QEMU with it (exit-with-parent)."""
    image = boot.image(DEFAULT_IMAGE_SIZE, STAGE1)
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from harness.machine.vm import VM\n"
        "from harness.machine.cmdline import VMConfig\n"
        f"cfg = VMConfig(qemu_bin=Path({str(boot.vms.qemu_bin)!r}), machine={boot.machine!r},"
        f" accel={boot.accel!r}, bios=Path({str(image)!r}), devices=('vmfwupdate',))\n"
        f"vm = VM(cfg, Path({str(tmp_path / 'vm')!r}))\n"
        "vm.launch()\n"
        "print(vm.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        assert runner.stdout is not None
        ready, _, _ = select.select([runner.stdout], [], [], 20.0)
        assert ready, "runner did not start QEMU"
        line = runner.stdout.readline().decode().strip()
        assert line.isdigit(), f"runner said {line!r}: {runner.stderr.read().decode()}"  # type: ignore[union-attr]
        qemu_pid = int(line)
        pidfd = os.pidfd_open(qemu_pid)
    finally:
        runner.kill()
        runner.wait()
    try:
        gone, _, _ = select.select([pidfd], [], [], 10.0)
        assert gone, f"QEMU {qemu_pid} still running 10 s after its runner was killed"
    finally:
        os.close(pidfd)
