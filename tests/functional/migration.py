"""Live migration for the functional tests: `Migrator` moves a booted VM to a new QEMU.

The destination is started with the source's command line plus `-incoming
unix:<socket>` (its `-device` arguments replaced where a test gives its own);
the agent keeps running there and is driven over the destination's console.
`Migrator.refused` is a migration the destination must refuse: it returns
what the source and the destination said. The source opens a return path
(capability `return-path`) for it, so that a destination that fails to load
the state tells the source, also when the failure comes at the very end (a
device's post_load, after the source sent everything): the source's migration
then fails and the source runs on. The `migrator` fixture
(conftest.py) gives each test one.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from vms import Booted, VMFactory

from harness.machine.vm import VM

MIGRATE_DEADLINE = 60.0
FINAL_STATES = ("completed", "failed", "cancelled")


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A migration that did not complete: the source's `query-migrate` status and error,
    the source's run state afterwards, the destination's exit status and stderr."""

    status: str
    error: str
    source_state: str
    dst_exit: int
    dst_stderr: str


class Migrator:
    """Start destinations through the test's VM factory; sockets live in a short dir."""

    def __init__(self, vms: VMFactory, sock_dir: Path) -> None:
        self.vms = vms
        self.sock_dir = sock_dir

    def __call__(self, src: Booted, devices: tuple[str, ...] | None = None) -> Booted:
        """Migrate the VM of `src`; the destination runs the same firmware, with the
        source's devices or `devices`."""
        dst = migrate(self.vms, src.vm, self.sock(src), devices)
        return dataclasses.replace(src, vm=dst)

    def refused(self, src: Booted, devices: tuple[str, ...]) -> Refusal:
        """Migrate the VM of `src` to a destination with `devices`, which must refuse it:
        what both sides said (the destination exits non-zero)."""
        return migrate_refused(self.vms, src.vm, self.sock(src), devices)

    def sock(self, src: Booted) -> Path:
        return self.sock_dir / f"from-{src.vm.pid}-{time.monotonic_ns()}.sock"


def start_destination(
    vms: VMFactory, src: VM, uri: str, devices: tuple[str, ...] | None = None
) -> VM:
    """A destination QEMU waiting for `uri`: the source's command line, or its `devices`."""
    cfg = dataclasses.replace(
        src.cfg,
        extra_args=(*src.cfg.extra_args, "-incoming", uri),
        devices=src.cfg.devices if devices is None else devices,
    )
    dst = vms.start(cfg)
    dst.agent.timeout = src.agent.timeout
    dst.agent.boot_timeout = src.agent.boot_timeout
    return dst


def run_migration(src: VM, uri: str) -> dict[str, Any]:
    """Migrate `src` to `uri`; the source's last `query-migrate` (its final state)."""
    src.qmp.cmd("migrate", {"uri": uri})
    deadline = time.monotonic() + MIGRATE_DEADLINE
    while True:
        info: dict[str, Any] = src.qmp.cmd("query-migrate")
        if info.get("status") in FINAL_STATES:
            return info
        if time.monotonic() > deadline:
            pytest.fail(f"migration not done within {MIGRATE_DEADLINE:.0f} s: {info}")
        time.sleep(0.1)


def migrate(vms: VMFactory, src: VM, sock: Path, devices: tuple[str, ...] | None = None) -> VM:
    """Migrate `src` to a new destination QEMU over a unix socket; return the destination."""
    uri = f"unix:{sock}"
    dst = start_destination(vms, src, uri, devices)
    mark = dst.qmp.mark()
    info = run_migration(src, uri)
    if info.get("status") != "completed":
        pytest.fail(
            f"migration {info.get('status')}: {info}; destination stderr: {dst.stderr_text()}"
        )
    dst.qmp.wait_event("RESUME", mark, timeout=MIGRATE_DEADLINE)
    return dst


def migrate_refused(vms: VMFactory, src: VM, sock: Path, devices: tuple[str, ...]) -> Refusal:
    """Migrate `src` to a destination with `devices` that must refuse it; what both said."""
    uri = f"unix:{sock}"
    dst = start_destination(vms, src, uri, devices)
    src.qmp.cmd(
        "migrate-set-capabilities",
        {"capabilities": [{"capability": "return-path", "state": True}]},
    )
    info = run_migration(src, uri)
    if info.get("status") == "completed":
        pytest.fail(f"migration to {devices} completed; destination stderr: {dst.stderr_text()}")
    # A destination that fails to load the state exits with an error of its own.
    dst_exit = dst.wait_exit(MIGRATE_DEADLINE)
    dst.expected_exits.add(dst_exit)
    state = src.qmp.cmd("query-status")["status"]
    return Refusal(
        status=str(info.get("status")),
        error=str(info.get("error-desc", "")),
        source_state=str(state),
        dst_exit=dst_exit,
        dst_stderr=dst.stderr_text(),
    )
