"""Live migration for the functional tests: `Migrator` moves a booted VM to a new QEMU.

The destination is started with the source's command line plus `-incoming
unix:<socket>`; the agent keeps running there and is driven over the
destination's console. The `migrator` fixture (conftest.py) gives each test one.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from vms import Booted, VMFactory

from harness.machine.vm import VM

MIGRATE_DEADLINE = 60.0


class Migrator:
    """Start destinations through the test's VM factory; sockets live in a short dir."""

    def __init__(self, vms: VMFactory, sock_dir: Path) -> None:
        self.vms = vms
        self.sock_dir = sock_dir

    def __call__(self, src: Booted) -> Booted:
        """Migrate the VM of `src`; the destination runs the same firmware."""
        dst = migrate(self.vms, src.vm, self.sock_dir / f"from-{src.vm.pid}.sock")
        return dataclasses.replace(src, vm=dst)


def migrate(vms: VMFactory, src: VM, sock: Path) -> VM:
    """Migrate `src` to a new destination QEMU over a unix socket; return the destination."""
    uri = f"unix:{sock}"
    cfg = dataclasses.replace(src.cfg, extra_args=(*src.cfg.extra_args, "-incoming", uri))
    dst = vms.start(cfg)
    dst.agent.timeout = src.agent.timeout
    dst.agent.boot_timeout = src.agent.boot_timeout
    mark = dst.qmp.mark()
    src.qmp.cmd("migrate", {"uri": uri})
    deadline = time.monotonic() + MIGRATE_DEADLINE
    while True:
        info = src.qmp.cmd("query-migrate")
        state = info.get("status")
        if state == "completed":
            break
        if state in ("failed", "cancelled") or time.monotonic() > deadline:
            pytest.fail(f"migration {state}: {info}; destination stderr: {dst.stderr_text()}")
        time.sleep(0.1)
    dst.qmp.wait_event("RESUME", mark, timeout=MIGRATE_DEADLINE)
    return dst
