"""The v7 layout's own checks: the `abi` of every test here is v7."""

from __future__ import annotations

import pytest
from igvm_files import IgvmFiles, host_booter
from vms import Booter, Payloads, VMFactory

from harness.interface import v7


@pytest.fixture
def abi() -> str:
    return v7.NAME


@pytest.fixture
def igvm_tcg_host(
    vms: VMFactory,
    payloads: Payloads,
    igvm_files: IgvmFiles,
    machine: str,
    abi: str,
    boot_kind: str,
) -> Booter:
    """`igvm_host` on TCG, for the flows that boot real firmware (SeaBIOS, OVMF): under
    the PVM flavour of KVM here firmware code runs at ~0.1 MB/s (test_real_firmware.py);
    and for the boot-kind flows of test_v7_igvm_host.py, which keep off KVM (time)."""
    return host_booter(vms, payloads, machine, "tcg", abi, boot_kind, igvm_files)
