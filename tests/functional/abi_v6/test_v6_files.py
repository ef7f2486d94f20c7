"""The v6 layout: its five fw_cfg files and their sizes, `cap` as configured and read-only,
the `disable` property and the disable byte."""

from __future__ import annotations

import pytest
from checks import assert_alive, reset
from vms import STAGE1, Booter

from harness.interface.encoding import U64_MAX, u64_le
from harness.interface.v6 import (
    BIOS_SIZE,
    CAP,
    CAP_BIOS_RESIZE,
    DISABLE,
    FILE_PREFIX,
    FILE_SIZES,
    RESIZE_PROPERTY,
)
from harness.interface.v6_device import ACCEPTED, V6Device
from harness.machine.cmdline import DEVICE

CONFIGS = {
    "default": (DEVICE, CAP_BIOS_RESIZE),
    "resize-on": (f"{DEVICE},{RESIZE_PROPERTY}=on", CAP_BIOS_RESIZE),
    "resize-off": (f"{DEVICE},{RESIZE_PROPERTY}=off", 0),
}
NO_SUCH_FILE = "no-such-file"
DISABLED = b"\x01"
ENABLED = b"\x00"


@pytest.mark.core
@pytest.mark.parametrize("config", list(CONFIGS))
def test_files_and_cap_as_configured(boot: Booter, config: str) -> None:
    device, want_cap = CONFIGS[config]
    b = boot(devices=(device,))
    files = {f.name: f.size for f in b.agent.files()}
    for name, size in FILE_SIZES.items():
        assert files.get(name) == size, f"fw_cfg file {name}: size {files.get(name)}, want {size}"
    assert b.agent.readq(CAP) == want_cap
    assert b.agent.read(CAP) == u64_le(want_cap), "cap is not a little-endian u64"


@pytest.mark.core
@pytest.mark.parametrize("config", ["default", "resize-off"])
def test_cap_write_rejected(boot: Booter, config: str) -> None:
    device, want_cap = CONFIGS[config]
    b = boot(devices=(device,))
    v6 = V6Device(b.agent)
    for value in (want_cap ^ CAP_BIOS_RESIZE, U64_MAX, 0):
        # fw_cfg takes the write; the device keeps its value
        assert v6.write(CAP, value) == ACCEPTED
        assert b.agent.readq(CAP) == want_cap, f"cap changed after writing {value:#x}"
        assert_alive(b.vm)
    # Still the configured value after a cold reset.
    assert reset(b.vm, "qmp").banner.identity == STAGE1
    assert b.agent.readq(CAP) == want_cap


@pytest.mark.core
def test_disable_property_adds_no_files(boot: Booter) -> None:
    b = boot(devices=(f"{DEVICE},id=fwu,disable=on",))
    names = [f.name for f in b.agent.files()]
    assert not [n for n in names if n.startswith(FILE_PREFIX)], names
    assert b.vm.qmp.cmd("qom-get", {"path": "/machine/peripheral/fwu", "property": "disable"})
    reply = b.agent.command(f"readq {BIOS_SIZE}")
    assert not reply.ok
    assert reply.text.split(" ", 1)[0] == NO_SUCH_FILE


@pytest.mark.core
def test_any_value_sets_the_disable_byte(boot: Booter) -> None:
    b = boot()
    v6 = V6Device(b.agent)
    assert b.agent.read(DISABLE) == ENABLED
    # Any value written while disable is 0 sets it to 1 ...
    assert v6.write(DISABLE, 0) == ACCEPTED
    assert b.agent.read(DISABLE) == DISABLED
    # ... and a write while it is 1 changes nothing.
    v6.write(DISABLE, 0)
    assert b.agent.read(DISABLE) == DISABLED
    assert reset(b.vm, "cf9").banner.identity == STAGE1
    assert b.agent.read(DISABLE) == ENABLED
