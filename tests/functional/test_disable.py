"""disable: the property, disabling at run time, and the reset back to 0."""

from __future__ import annotations

import pytest
from vmfw_flows import LOAD_ADDR, Boot, reset, stage_update

from harness.guest.agent_client import AgentError
from harness.interface.v6 import BIOS_ADDR, BIOS_SIZE, DISABLE, FILE_PREFIX, GRANULE

STAGE2 = "opt/vmfwtest/stage2"


@pytest.mark.core
def test_disable_property_adds_no_files(boot: Boot) -> None:
    b = boot(devices=("vmfwupdate,id=fwu,disable=on",))
    names = [f.name for f in b.agent.files()]
    assert not [n for n in names if n.startswith(FILE_PREFIX)], names
    assert "etc/vmfwupdate/cap" not in names
    assert b.vm.qmp.cmd("qom-get", {"path": "/machine/peripheral/fwu", "property": "disable"})
    with pytest.raises(AgentError) as ei:
        b.agent.readq(BIOS_SIZE)
    assert ei.value.reason == "no-such-file"


def _try_write(agent: object, kind: str, name: str, value: int) -> None:
    try:
        getattr(agent, kind)(name, value)
    except AgentError as exc:
        assert exc.reason == "dma-error", exc


@pytest.mark.core
def test_disable_at_run_time(boot: Boot) -> None:
    stage2 = boot.image(256 * 1024, "stage2")
    b = boot(blobs={STAGE2: stage2})
    a = b.agent
    assert a.read(DISABLE) == b"\x00"
    stage_update(a, STAGE2, stage2)
    # Any value written while disable is 0 sets it to 1.
    a.writeb(DISABLE, 0)
    assert a.read(DISABLE) == b"\x01"
    # While disabled, every write to disable, bios-addr and bios-size is rejected.
    _try_write(a, "writeb", DISABLE, 0)
    assert a.read(DISABLE) == b"\x01"
    _try_write(a, "writeq", BIOS_ADDR, 0)
    _try_write(a, "writeq", BIOS_ADDR, LOAD_ADDR + GRANULE)
    assert a.readq(BIOS_ADDR) == LOAD_ADDR
    _try_write(a, "writeq", BIOS_SIZE, GRANULE)
    assert a.readq(BIOS_SIZE) == 256 * 1024
    # The armed update is not applied: the old firmware boots.
    assert reset(b.vm, "cf9").identity == "stage1"
    assert a.read(DISABLE) == b"\x00"
    assert a.readq(BIOS_ADDR) == 0
    # Enabled again: the same update now applies.
    stage_update(a, STAGE2, stage2)
    assert reset(b.vm, "cf9").identity == "stage2"


@pytest.mark.core
@pytest.mark.parametrize("method", ["kbd", "qmp"])
def test_disable_cleared_by_any_reset(boot: Boot, method: str) -> None:
    b = boot()
    b.agent.writeb(DISABLE, 1)
    assert b.agent.read(DISABLE) == b"\x01"
    assert reset(b.vm, method).identity == "stage1"
    assert b.agent.read(DISABLE) == b"\x00"
