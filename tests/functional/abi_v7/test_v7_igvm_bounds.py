"""Bounds on what an IGVM image (v7 FORMAT_IGVM) costs the host, each on TCG, on both boot
kinds. The device checks an IGVM image in this order: its size against `igvm-max-size`,
its range, then it allocates a buffer of the image's size, reads guest RAM into it and has
libigvm parse it and the device check each directive (v7 interface, "IGVM images"); it
traces the `vmfwupdate_igvm` event only after that, so a check that stopped before the
allocation leaves no event.

- `igvm-max-size` before anything is read: with the property at 1 MiB, a write of a
  2 MiB range of RAM (bytes that are no IGVM file) and one of 4 GiB at the same address
  are `BAD_SIZE`, not `LOAD_FAIL` (which would mean the bytes were parsed) nor `BAD_RANGE`
  (the next check, which 4 GiB from 16 MiB fails): no event, and QEMU's peak resident set
  rises by less than 1 MiB over each write. The same range at exactly 1 MiB is read and
  parsed: `LOAD_FAIL`, traced;
- the directives counted before the parse: a 3 MiB file of 100,000 page directives is
  `BAD_SIZE` (each counts 4 KiB, as `held_size` says, and the device logs its count), and
  QEMU's peak resident set rises by little more than the file;
- no host memory kept after refused writes: a 64 MiB IGVM file of random pages (the
  pinned igvm-wrap), whose pages lie at the top of 4 GiB where no guest here has memory,
  armed again and again: each write allocates, reads and parses all of it and is refused
  `BAD_LAYOUT` (traced so every time); QEMU's VmRSS after the warm-up and after the last
  write within 4 MiB. 1,000 writes with --hostile-long, else 20 (one host: pc, -bios);
- what a reset applies is what it checked: the agent wrapped as IGVM is armed, then the
  guest loads another agent's IGVM file of the same size over it in RAM; the reset checks
  and applies the new bytes (its banner and CRC: the other agent runs). The other half,
  bytes made invalid after arming (`APPLY_FAIL`, the old firmware runs, the reset's check
  traced as failed), is test_v7_igvm_refusals.py's test_bytes_changed_after_arming.
"""

from __future__ import annotations

import time

import pytest
from checks import STAGE2, STAGE2_BLOB, assert_runs, image_facts, load, reset
from igvm_files import IGVM_TRACE, IgvmFiles, assert_igvm_armed, igvm_checks, v7_device
from vms import Booter, Payloads, VMFactory

from harness.build.igvm_payloads import for_directives, for_file_size
from harness.guest.protocol import HOST_RESET_METHOD, LOAD_ADDR
from harness.interface import v7
from harness.interface.igvm_file import held_size
from harness.interface.v7 import IGVM_MAX_SIZE, IGVM_MAX_SIZE_PROPERTY, Status
from harness.machine.cmdline import DEVICE, MACHINES, device_arg, size_text
from harness.machine.process_memory import memory, reset_peak
from harness.platform import GIB, KIB, MIB

SMALL_MAX = 1 * MIB
# The RAM the guest fills with bytes that are no IGVM file; the sizes over the maximum.
FILLED = 2 * MIB
OVER_MAX = (FILLED, 4 * GIB)
NOT_IGVM = 0x5A
# Peak RSS rise allowed over a write refused before the allocation.
NO_ALLOCATION = 1 * MIB
REFUSED_FILE = for_file_size(64 * MIB)
REFUSED_BLOB = "opt/vmfwtest/refused.igvm"
WARMUP = 10
WRITES = 20
LONG_WRITES = 1000
RSS_SLACK = 4 * MIB
TRIAL_IMAGE = 128 * KIB
# igvm-wrap makes one directive of each page; this many is far over igvm-max-size when
# each counts 4 KiB, in a file of about 3 MiB.
MANY_DIRECTIVES = 100_000
MANY_BLOB = "opt/vmfwtest/many.igvm"
# What a refused write may take beyond the buffer it reads the file into.
PARSE_SLACK = 16 * MIB
REWRITTEN = "rewritten"
REWRITTEN_BLOB = "opt/vmfwtest/rewritten.igvm"


def test_igvm_max_size_before_any_read(igvm_tcg_host: Booter) -> None:
    small_max = device_arg(DEVICE, {IGVM_MAX_SIZE_PROPERTY: size_text(SMALL_MAX)})
    b = igvm_tcg_host(devices=(small_max,), extra_args=IGVM_TRACE)
    b.agent.mfill(LOAD_ADDR, FILLED, NOT_IGVM)
    dev = v7_device(b)
    traced = len(igvm_checks(b))
    refused = {}
    for size in OVER_MAX:
        start = reset_peak(b.vm.pid)
        status = Status(dev.arm_igvm(LOAD_ADDR, size).status)
        refused[size] = (status, memory(b.vm.pid).peak - start.rss)
    print(f"over igvm-max-size: {refused}")
    assert {s: status for s, (status, _) in refused.items()} == dict.fromkeys(
        OVER_MAX, Status.BAD_SIZE
    )
    assert igvm_checks(b)[traced:] == [], "a check over igvm-max-size went on to read the image"
    assert all(rise < NO_ALLOCATION for _, rise in refused.values()), refused
    # At the limit the same bytes are read and parsed: no IGVM file.
    assert Status(dev.arm_igvm(LOAD_ADDR, SMALL_MAX).status) == Status.LOAD_FAIL
    parsed = [(e.addr, e.size, e.applied, e.status) for e in igvm_checks(b)[traced:]]
    assert parsed == [(LOAD_ADDR, SMALL_MAX, False, Status.LOAD_FAIL.name)]


def test_directives_counted_before_the_parse(igvm_tcg_host: Booter, igvm_files: IgvmFiles) -> None:
    """A small file of many page directives whose data they share: libigvm would keep a
    4 KiB copy of each (313 MiB and 3.3 s for this file, measured before the device
    counted them), so the device charges each directive 4 KiB before the parse and refuses
    the file over igvm-max-size: BAD_SIZE, the count it logs is `held_size`'s, and QEMU's
    peak RSS rises by little more than the file it read."""
    igvm = igvm_files.payload(for_directives(MANY_DIRECTIVES))
    data = igvm.read_bytes()
    held = held_size(data)
    assert len(data) < IGVM_MAX_SIZE < held
    b = igvm_tcg_host(blobs={MANY_BLOB: igvm}, extra_args=IGVM_TRACE)
    assert load(b.agent, MANY_BLOB) == image_facts(igvm)
    traced = len(igvm_checks(b))
    start = reset_peak(b.vm.pid)
    status = Status(v7_device(b).arm_igvm(LOAD_ADDR, len(data)).status)
    rise = memory(b.vm.pid).peak - start.rss
    print(f"{MANY_DIRECTIVES} directives, {len(data)} bytes: {status.name}, peak RSS +{rise}")
    assert status == Status.BAD_SIZE
    checks = [(e.size, e.applied, e.status) for e in igvm_checks(b)[traced:]]
    assert checks == [(len(data), False, Status.BAD_SIZE.name)]
    assert f"would take {held:#x} bytes of host memory" in b.vm.stderr_text()
    assert rise < len(data) + PARSE_SLACK, f"peak RSS rose {rise / MIB:.1f} MiB"


def test_refused_writes_keep_no_host_memory(
    vms: VMFactory, payloads: Payloads, igvm_files: IgvmFiles, pytestconfig: pytest.Config
) -> None:
    """One host (pc, -bios, TCG): each write costs 0.3-0.5 s of reading and parsing, and
    what it leaves behind does not depend on the machine or on how the host was started."""
    writes = LONG_WRITES if pytestconfig.getoption("--hostile-long") else WRITES
    igvm = igvm_files.payload(REFUSED_FILE)
    host = vms.booter(payloads, MACHINES[0], "tcg", v7.NAME)
    b = host(blobs={REFUSED_BLOB: igvm}, extra_args=IGVM_TRACE)
    assert load(b.agent, REFUSED_BLOB) == image_facts(igvm)
    size = igvm.stat().st_size
    dev = v7_device(b)
    traced = len(igvm_checks(b))
    before = memory(b.vm.pid).rss
    after_warmup = 0
    start = time.monotonic()
    for write in range(writes):
        assert Status(dev.arm_igvm(LOAD_ADDR, size).status) == Status.BAD_LAYOUT
        if write + 1 == WARMUP:
            after_warmup = memory(b.vm.pid).rss
    seconds = time.monotonic() - start
    final = memory(b.vm.pid)
    statuses = [e.status for e in igvm_checks(b)[traced:]]
    summary = (
        f"{writes} refused writes of a {size / MIB:.1f} MiB IGVM file in {seconds:.1f} s: "
        f"RSS before them {before / MIB:.1f} MiB, after {WARMUP} {after_warmup / MIB:.1f} MiB, "
        f"after {writes} {final.rss / MIB:.1f} MiB ({(final.rss - after_warmup) / MIB:+.2f} MiB), "
        f"peak {final.peak / MIB:.1f} MiB"
    )
    print(summary)
    (b.vm.logs.directory / "igvm-refused-rss.txt").write_text(summary + "\n")
    assert statuses == [Status.BAD_LAYOUT.name] * writes, "each write read and parsed the file"
    assert final.rss - after_warmup <= RSS_SLACK, summary


def test_reset_applies_the_bytes_it_checks(igvm_tcg_host: Booter, igvm_files: IgvmFiles) -> None:
    armed_file = igvm_files.agent(TRIAL_IMAGE, STAGE2)
    new_image = igvm_tcg_host.image(TRIAL_IMAGE, REWRITTEN)
    new_file = igvm_files.agent(TRIAL_IMAGE, REWRITTEN)
    assert armed_file.stat().st_size == new_file.stat().st_size
    assert armed_file.read_bytes() != new_file.read_bytes()
    b = igvm_tcg_host(
        blobs={STAGE2_BLOB: armed_file, REWRITTEN_BLOB: new_file}, extra_args=IGVM_TRACE
    )
    armed = assert_igvm_armed(b, STAGE2_BLOB, armed_file)
    # The guest puts the other file where the armed one is, after the write checked it.
    assert load(b.agent, REWRITTEN_BLOB) == image_facts(new_file)
    assert v7_device(b).read() == armed
    assert_runs(reset(b.vm, "cf9").banner, new_image, REWRITTEN)
    size = armed.fw_image_size
    checks = [(e.addr, e.size, e.applied, e.status) for e in igvm_checks(b)]
    ok = Status.OK.name
    assert checks == [(LOAD_ADDR, size, False, ok), (LOAD_ADDR, size, True, ok)]
    # The new firmware stays: the next cold reset boots it again, not the host's.
    assert_runs(reset(b.vm, HOST_RESET_METHOD).banner, new_image, REWRITTEN)
