#!/usr/bin/env python3
"""The per-test overhead check in QEMU's functional framework (tests/functional/qemu_test).

Run by bench/qmp_overhead.py and bench/slope.py with
PYTHONPATH=<qemu>/python:<qemu>/tests/functional, QEMU_TEST_QEMU_BINARY and BENCH_BIOS
set; BENCH_N (default 1) repeats the check as that many test methods in one process. Same
check as bench/harness_check.py: start pc paused with the vmfwupdate device, ask QMP for
its type and realized.
"""

import os

from qemu_test import QemuSystemTest


class VMFwUpdateQMPCheck(QemuSystemTest):
    def check_device_over_qmp(self):
        self.set_machine("pc")
        self.vm.add_args(
            "-S", "-nodefaults", "-bios", os.environ["BENCH_BIOS"], "-device", "vmfwupdate,id=fwu"
        )
        self.vm.launch()
        path = "/machine/peripheral/fwu"
        self.assertEqual(self.vm.cmd("qom-get", path=path, property="type"), "vmfwupdate")
        self.assertTrue(self.vm.cmd("qom-get", path=path, property="realized"))


for _rep in range(int(os.environ.get("BENCH_N", "1"))):
    setattr(
        VMFwUpdateQMPCheck, f"test_device_over_qmp_{_rep}", VMFwUpdateQMPCheck.check_device_over_qmp
    )


if __name__ == "__main__":
    QemuSystemTest.main()
