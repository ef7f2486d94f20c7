"""The v7 layout's own checks: the `abi` of every test here is v7."""

from __future__ import annotations

import pytest
from igvm_files import host_booter
from vms import Booter, Payloads, VMFactory

from harness.interface import v7


@pytest.fixture
def abi() -> str:
    return v7.NAME


@pytest.fixture
def igvm_host(
    vms: VMFactory, payloads: Payloads, machine: str, accel: str, abi: str, boot_kind: str
) -> Booter:
    """Boots the host agent that arms IGVM images, on the test's machine and accelerator,
    started the way `boot_kind` says (igvm_files.BOOT_KINDS)."""
    return host_booter(vms, payloads, machine, accel, abi, boot_kind)


@pytest.fixture
def igvm_tcg_host(
    vms: VMFactory, payloads: Payloads, machine: str, abi: str, boot_kind: str
) -> Booter:
    """`igvm_host` on TCG, for the flows that boot real firmware (SeaBIOS, OVMF): under
    the PVM flavour of KVM here firmware code runs at ~0.1 MB/s (test_real_firmware.py)."""
    return host_booter(vms, payloads, machine, "tcg", abi, boot_kind)
