"""Leaks: 1,000 back-to-back update cycles in one QEMU process keep its RSS flat.

Each cycle arms an update to the other of two 128 KiB agent images placed
in guest RAM, resets (cf9, kbd, triple fault and QMP in turn) and checks
that the other image booted. QEMU's resident set size (VmRSS) after the
first ten cycles and after the last must be within RSS_SLACK of each other.
Run with --hostile-long (make check-vmfwupdate SLOW=1).
"""

from __future__ import annotations

import pytest
from checks import assert_runs, load, reset
from vms import Booter

from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR, RESET_METHODS
from harness.machine.process_memory import memory
from harness.machine.sanitizers import ASAN_OPTIONS
from harness.platform import KIB, MIB

CYCLES = 1000
WARMUP = 10
RSS_SLACK = 4 * MIB
SIZE = 128 * KIB
ADDRS = {"leak-a": LOAD_ADDR, "leak-b": LOAD_ADDR + MIB}


def test_update_cycles_do_not_leak(boot: Booter, pytestconfig: pytest.Config, accel: str) -> None:
    if not pytestconfig.getoption("--hostile-long"):
        pytest.skip(f"{CYCLES} update cycles: run with --hostile-long (make ... SLOW=1)")
    if accel != "tcg":
        pytest.skip("KVM here is PVM: 1,000 firmware boots would take far too long; TCG covers it")
    images = {ident: boot.image(SIZE, ident) for ident in ADDRS}
    blobs = {f"opt/vmfwtest/{i}": p for i, p in images.items()}
    # A 2 MiB translation buffer: TCG's code cache (1 GiB by default) fills page by
    # page as each new firmware is translated, which is growth but not a leak.
    # On an asan build freed memory waits in ASan's quarantine (256 MiB) before reuse, which
    # is RSS growth but not a leak: measure without it. LeakSanitizer still runs at exit.
    no_quarantine = {"ASAN_OPTIONS": f"{ASAN_OPTIONS}:quarantine_size_mb=0"}
    b = boot(
        size=SIZE, identity="leak-a", blobs=blobs, accel_opts=("tb-size=2",), env=no_quarantine
    )
    for ident, addr in ADDRS.items():
        assert load(b.agent, f"opt/vmfwtest/{ident}", addr).size == SIZE
    running = "leak-a"
    after_warmup = 0
    for cycle in range(CYCLES):
        target = "leak-b" if running == "leak-a" else "leak-a"
        assert b.device.arm(ADDRS[target], SIZE).armed == (ADDRS[target], SIZE)
        method = RESET_METHODS[cycle % len(RESET_METHODS)]
        outcome = reset(b.vm, method)
        assert outcome.guest is (method != HOST_RESET_METHOD)
        assert_runs(outcome.banner, images[target], target)
        running = target
        if cycle + 1 == WARMUP:
            after_warmup = memory(b.vm.pid).rss
    final = memory(b.vm.pid).rss
    growth = final - after_warmup
    summary = (
        f"leak: RSS after {WARMUP} cycles {after_warmup / MIB:.1f} MiB, after {CYCLES} "
        f"{final / MIB:.1f} MiB, growth {growth / MIB:+.2f} MiB"
    )
    print(summary)
    (b.vm.logs.directory / "leak-summary.txt").write_text(summary + "\n")
    assert growth <= RSS_SLACK, f"RSS grew {growth / MIB:.1f} MiB over {CYCLES} update cycles"
