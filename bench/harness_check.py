"""The per-test overhead check in this toolkit's pytest harness (harness.machine.vm).

Run by bench/qmp_overhead.py and bench/slope.py with BENCH_QEMU and BENCH_BIOS set;
BENCH_N (default 1) repeats the check as that many tests in one session. Same check as
bench/qemu_test_check.py: start pc paused with the vmfwupdate device, ask QMP for its
type and realized.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.machine.cmdline import VMConfig
from harness.machine.vm import VM


@pytest.fixture(scope="module")
def log_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the VM logs of all checks, like the functional suite's --vm-log-dir
    (tmp_path per test would add pytest's numbered-directory search, O(tests), to each)."""
    return tmp_path_factory.mktemp("vms")


@pytest.mark.parametrize("rep", range(int(os.environ.get("BENCH_N", "1"))))
def test_device_over_qmp(log_root: Path, rep: int) -> None:
    cfg = VMConfig(
        qemu_bin=Path(os.environ["BENCH_QEMU"]),
        bios=Path(os.environ["BENCH_BIOS"]),
        devices=("vmfwupdate,id=fwu",),
        extra_args=("-S",),
    )
    with VM(cfg, log_root / f"vm{rep}") as vm:
        vm.launch()
        path = "/machine/peripheral/fwu"
        assert vm.qmp.cmd("qom-get", {"path": path, "property": "type"}) == "vmfwupdate"
        assert vm.qmp.cmd("qom-get", {"path": path, "property": "realized"}) is True
