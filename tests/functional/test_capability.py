"""capability: the `cap` file as the device is configured, and read-only."""

from __future__ import annotations

import pytest
from vmfw_flows import Boot, assert_alive, reset

from harness.guest.agent_client import AgentError
from harness.interface.encoding import U64_MAX, u64_le
from harness.interface.v6 import CAP, CAP_BIOS_RESIZE, FILE_SIZES

CONFIGS = {
    "default": ("vmfwupdate", CAP_BIOS_RESIZE),
    "resize-on": ("vmfwupdate,bios-resize=on", CAP_BIOS_RESIZE),
    "resize-off": ("vmfwupdate,bios-resize=off", 0),
}


@pytest.mark.core
@pytest.mark.parametrize("config", list(CONFIGS))
def test_files_and_cap_as_configured(boot: Boot, config: str) -> None:
    device, want_cap = CONFIGS[config]
    b = boot(devices=(device,))
    files = {f.name: f.size for f in b.agent.files()}
    for name, size in FILE_SIZES.items():
        assert files.get(name) == size, f"fw_cfg file {name}: size {files.get(name)}, want {size}"
    assert b.agent.readq(CAP) == want_cap
    assert b.agent.read(CAP) == u64_le(want_cap), "cap is not a little-endian u64"


@pytest.mark.core
@pytest.mark.parametrize("config", ["default", "resize-off"])
def test_cap_write_rejected(boot: Boot, config: str) -> None:
    device, want_cap = CONFIGS[config]
    b = boot(devices=(device,))
    for value in (want_cap ^ CAP_BIOS_RESIZE, U64_MAX, 0):
        try:
            b.agent.writeq(CAP, value)
        except AgentError as exc:  # a read-only fw_cfg file fails the DMA write
            assert exc.reason == "dma-error", exc
        assert b.agent.readq(CAP) == want_cap, f"cap changed after writing {value:#x}"
        assert_alive(b.vm)
    # Still the configured value after a cold reset.
    assert reset(b.vm, "qmp").identity == "stage1"
    assert b.agent.readq(CAP) == want_cap
