"""Payloads for IGVM files of a chosen size or directive count (harness/build/igvm_payloads.py):
their bytes (the reset-vector stub last, random bytes repeatable from the seed), the
counts the pinned igvm-wrap makes of them (checked with the real tools where set-up
installed them), and QEMU's memory as /proc reports it (harness/machine/process_memory.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.build import igvm
from harness.build.igvm_images import PAGE_SIZE, inspect, wrap
from harness.build.igvm_payloads import (
    LOW_COPY_PAGES,
    RESET_STUB,
    Fill,
    Payload,
    for_directives,
    for_file_size,
)
from harness.machine.process_memory import memory, reset_peak, status_field
from harness.platform import KIB, MIB
from harness.workdir import find_repo_root

INSTALLED = igvm.Layout.for_repo(find_repo_root())


@pytest.mark.parametrize("fill", list(Fill))
def test_payload_bytes_end_in_the_stub(tmp_path: Path, fill: Fill) -> None:
    payload = Payload(3, fill, seed=7)
    path = payload.write(tmp_path)
    data = path.read_bytes()
    assert len(data) == 3 * PAGE_SIZE == payload.size
    assert data.endswith(RESET_STUB) and data == payload.data()
    body = data[: -len(RESET_STUB)]
    assert (body == bytes(len(body))) is (fill is Fill.ZEROS)
    assert payload.write(tmp_path) == path  # written once


def test_random_payloads_repeat_by_seed() -> None:
    assert Payload(2, Fill.RANDOM, 1).data() == Payload(2, Fill.RANDOM, 1).data()
    assert Payload(2, Fill.RANDOM, 1).data() != Payload(2, Fill.RANDOM, 2).data()


@pytest.mark.parametrize("count", [10, 64, 65, 1_000, 100_000])
def test_directive_counts(count: int) -> None:
    payload = for_directives(count)
    assert payload.directives == count and payload.fill is Fill.ZEROS


@pytest.mark.parametrize("count", [0, 1, 11])
def test_directive_counts_that_cannot_be_made(count: int) -> None:
    with pytest.raises(ValueError, match="even count"):
        for_directives(count)


@pytest.mark.skipif(
    not os.access(INSTALLED.tool("igvm-wrap"), os.X_OK), reason="igvm-wrap not installed"
)
@pytest.mark.parametrize(
    ("payload", "at_most"),
    [
        (for_directives(10), None),
        (Payload(LOW_COPY_PAGES + 1, Fill.ZEROS), None),
        (for_directives(1_000), None),
        (for_file_size(MIB), MIB),
    ],
)
def test_real_igvm_wrap_makes_what_is_asked(
    tmp_path: Path, payload: Payload, at_most: int | None
) -> None:
    file = wrap(payload.write(tmp_path), tmp_path / "igvm", layout=INSTALLED)
    pages = inspect(file, layout=INSTALLED).native_pages()
    assert sum(r.count for r in pages) == payload.directives
    assert pages[-1].end == 1 << 32  # the stub at the reset vector
    if at_most is not None:
        assert 0.99 * at_most < file.stat().st_size <= at_most


def test_status_field() -> None:
    text = "Name:\tqemu\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"
    assert status_field(text, "VmRSS:") == 1024 * KIB
    with pytest.raises(ValueError, match="VmSwap"):
        status_field(text, "VmSwap:")


def test_memory_of_this_process() -> None:
    now = reset_peak(os.getpid())
    assert 0 < now.rss <= now.peak
    grown = bytearray(16 * MIB)
    grown[:: 4 * KIB] = b"\1" * len(grown[:: 4 * KIB])  # touch every page
    assert memory(os.getpid()).peak >= now.rss + 15 * MIB
