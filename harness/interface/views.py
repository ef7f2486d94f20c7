"""The device view of each ABI, by the ABI's name (the functional tests' `abi` parameter)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from harness.guest.agent_client import AgentClient
from harness.interface.device import DeviceView
from harness.interface.v6_device import V6Device
from harness.interface.v7_device import V7Device

VIEWS: Mapping[str, Callable[[AgentClient], DeviceView]] = {"v6": V6Device, "v7": V7Device}


def device_view(abi: str, agent: AgentClient) -> DeviceView:
    """The view of ABI `abi` over the agent of one VM."""
    try:
        return VIEWS[abi](agent)
    except KeyError:
        raise ValueError(f"no device view for ABI {abi!r}: known are {sorted(VIEWS)}") from None
