"""What the host offers for running VMs: whether KVM can be used, and which KVM it is."""

from __future__ import annotations

import os
from pathlib import Path


def kvm_usable(path: str = "/dev/kvm") -> tuple[bool, str]:
    """Probe KVM by opening the device read-write; return (usable, reason)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return False, f"{path} not usable: {exc.strerror}"
    os.close(fd)
    return True, f"{path} opened read-write"


def kvm_flavour(sys_module: str = "/sys/module") -> str:
    """Which KVM module backs /dev/kvm: "pvm", "intel", "amd" or "unknown".

    PVM (kvm_pvm, used to run VMs inside cloud VMs without hardware
    virtualization) emulates real- and protected-mode firmware code slowly.
    """
    for module, name in (("kvm_pvm", "pvm"), ("kvm_intel", "intel"), ("kvm_amd", "amd")):
        if (Path(sys_module) / module).is_dir():
            return name
    return "unknown"
