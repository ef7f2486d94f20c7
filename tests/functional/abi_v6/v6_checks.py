"""Facts the v6 layout tests read: the device's rules model on QEMU's own RAM map, the files."""

from __future__ import annotations

from checks import guest_ram

from harness.interface.v6_rules import DeviceModel
from harness.machine.vm import VM


def device_model(vm: VM, region_size: int, resize: bool = True) -> DeviceModel:
    """The v6 rules model of a device with a `region_size` region, on the VM's RAM map."""
    return DeviceModel(region_size=region_size, ram=guest_ram(vm), resize=resize)


def rejection_lines(stderr: str) -> list[str]:
    """QEMU's log and trace lines of rejected device writes."""
    return [ln for ln in stderr.splitlines() if "vmfwupdate" in ln and "reject" in ln.lower()]
