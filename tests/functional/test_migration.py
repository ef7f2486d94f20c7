"""Live migration: the device state (bios-size, bios-addr, disable, opaque) moves with the VM.

The source VM migrates with QMP `migrate` to a destination QEMU started with
the same command line plus `-incoming unix:<socket>`. The agent keeps
running on the destination and is driven over the destination's console.
(a) An update armed on the source is applied by a reset on the destination.
(b) An update applied before the migration stays applied: a reset on the
destination boots stage 2 again, not the -bios image (stage 1).
(c) opaque and the disable latch survive.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_reset_update import check_after_update
from vmfw_flows import (
    KIB,
    RESET_METHODS,
    Boot,
    VMFactory,
    check_banner,
    nonce,
    reset,
    stage_update,
    write_opaque,
)

from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, DISABLE, OPAQUE
from harness.machine.vm import VM

STAGE2 = "opt/vmfwtest/stage2"
REGION = 512 * KIB
MIGRATE_DEADLINE = 60.0


class Migrator:
    """Start destinations through the test's VM factory; sockets live in a short dir."""

    def __init__(self, vms: VMFactory, sock_dir: Path) -> None:
        self.vms = vms
        self.sock_dir = sock_dir

    def __call__(self, src: VM) -> VM:
        return migrate(self.vms, src, self.sock_dir / f"from-{src.pid}.sock")


@pytest.fixture
def migrator(vms: VMFactory) -> Iterator[Migrator]:
    # Unix socket paths are limited to 108 bytes: not under the long log directory.
    with tempfile.TemporaryDirectory(prefix="vmfw-mig-") as sock_dir:
        yield Migrator(vms, Path(sock_dir))


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
        status = info.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled") or time.monotonic() > deadline:
            pytest.fail(f"migration {status}: {info}; destination stderr: {dst.stderr_text()}")
        time.sleep(0.1)
    dst.qmp.wait_event("RESUME", mark, timeout=MIGRATE_DEADLINE)
    assert dst.qmp.cmd("query-status")["status"] == "running"
    assert src.qmp.cmd("query-status")["status"] == "postmigrate"
    return dst


# Every reset method on TCG; KVM (slow PVM here) runs the two core tests below.
@pytest.mark.parametrize("method", RESET_METHODS)
def test_armed_update_applied_on_destination(boot: Boot, migrator: Migrator, method: str) -> None:
    stage2 = boot.image(256 * KIB, "stage2")
    b = boot(size=REGION, blobs={STAGE2: stage2})
    token = nonce(f"mig-{method}")
    write_opaque(b.agent, token)
    stage_update(b.agent, STAGE2, stage2)
    dst = migrator(b.vm)
    assert dst.agent.readq(BIOS_ADDR) == 0x1000000, "armed bios-addr lost in migration"
    assert dst.agent.readq(BIOS_SIZE) == 256 * KIB, "bios-size lost in migration"
    check_banner(reset(dst, method), stage2, "stage2")
    check_after_update(dst.agent, 256 * KIB, token)


@pytest.mark.core
@pytest.mark.parametrize("size", [REGION, 128 * KIB], ids=["same-size", "resized"])
def test_applied_update_stays_after_migration(boot: Boot, migrator: Migrator, size: int) -> None:
    stage2 = boot.image(size, "stage2")
    b = boot(size=REGION, blobs={STAGE2: stage2})
    stage_update(b.agent, STAGE2, stage2)
    check_banner(reset(b.vm, "cf9"), stage2, "stage2")
    dst = migrator(b.vm)
    # Still stage 2 right after the migration, and after every reset on the destination.
    check_banner(dst.agent.info(), stage2, "stage2")
    assert dst.agent.readq(BIOS_SIZE) == size
    check_banner(reset(dst, "qmp"), stage2, "stage2")
    check_banner(reset(dst, "cf9"), stage2, "stage2")
    assert dst.agent.readq(BIOS_SIZE) == size


@pytest.mark.core
def test_opaque_and_disable_survive(boot: Boot, migrator: Migrator) -> None:
    stage2 = boot.image(256 * KIB, "stage2")
    b = boot(size=REGION, blobs={STAGE2: stage2})
    token = nonce("mig-opaque") + bytes(range(256)) * 15
    write_opaque(b.agent, token)
    stage_update(b.agent, STAGE2, stage2)
    b.agent.writeb(DISABLE, 1)
    dst = migrator(b.vm)
    assert dst.agent.read(OPAQUE)[: len(token)] == token, "opaque changed in migration"
    assert dst.agent.read(DISABLE) == b"\x01", "disable latch lost in migration"
    # Still latched on the destination: writes are rejected, the armed update is not applied.
    dst.agent.writeq(BIOS_ADDR, 0x2000000)
    assert dst.agent.readq(BIOS_ADDR) == 0x1000000
    assert reset(dst, "cf9").identity == "stage1"
    assert dst.agent.read(DISABLE) == b"\x00"
    assert dst.agent.read(OPAQUE)[: len(token)] == token
    # A second migration of the reset state, then arming works again on the new host.
    dst2 = migrator(dst)
    stage_update(dst2.agent, STAGE2, stage2)
    check_banner(reset(dst2, "kbd"), stage2, "stage2")
