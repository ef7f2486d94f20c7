"""Sanitizer policy for QEMU on an asan build: the options it runs with, what counts as a report."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

# Known upstream leaks outside the device (asan builds only; see the file).
LSAN_SUPPRESSIONS = Path(__file__).with_name("lsan-suppressions.txt")
# Suppressions match QEMU frames, so malloc stacks need the full unwinder.
ASAN_OPTIONS = "fast_unwind_on_malloc=0"
# Lines ASan, UBSan and LSan print when they find something.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


def sanitizer_reports(stderr: str) -> list[str]:
    """Lines of QEMU's stderr that are sanitizer reports; any one fails the VM's test."""
    return [ln.strip() for ln in stderr.splitlines() if any(m in ln for m in SANITIZER_MARKERS)]


def sanitizer_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` plus the sanitizer options QEMU runs with, unless the caller set them."""
    env = dict(environ)
    env.setdefault("LSAN_OPTIONS", f"suppressions={LSAN_SUPPRESSIONS}")
    env.setdefault("ASAN_OPTIONS", ASAN_OPTIONS)
    return env


def asan_built(binary: Path) -> bool:
    """Whether `binary` was built with ASan (the asan profile): it needs libasan."""
    out = subprocess.run(
        ["readelf", "--dynamic", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    return any("NEEDED" in ln and "libasan.so" in ln for ln in out.splitlines())
