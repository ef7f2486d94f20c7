"""The VM driver fails a test on any sanitizer report in QEMU's stderr."""

from __future__ import annotations

from harness.interface.v6 import CAP
from harness.machine.sanitizers import sanitizer_reports

REPORTS = (
    "==123==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020",
    "../hw/misc/vmfwupdate.c:140:5: runtime error: shift exponent 64 is too large",
    "==123==ERROR: LeakSanitizer: detected memory leaks",
)


def test_reports_found() -> None:
    stderr = "qemu-system-x86_64: warning: something\n" + "".join(f"{r}\n" for r in REPORTS)
    assert sanitizer_reports(stderr) == list(REPORTS)


def test_clean_stderr_has_no_reports() -> None:
    stderr = f"vmfwupdate: write of 0x1 to {CAP} rejected: file is read-only\n"
    assert sanitizer_reports(stderr) == []
