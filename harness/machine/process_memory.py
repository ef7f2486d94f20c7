"""A process's host memory as Linux reports it: resident set (VmRSS) and its peak (VmHWM).

`memory` reads both from ``/proc/<pid>/status``; `reset_peak` sets the peak back to the
current resident set (``5`` into ``/proc/<pid>/clear_refs``, Linux 4.0 and later), so that
the peak read after a step is the peak of that step alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.platform import KIB

RSS_FIELD = "VmRSS:"
PEAK_FIELD = "VmHWM:"
# What clear_refs takes to reset the peak resident set size (proc(5)).
RESET_PEAK = "5"


@dataclass(frozen=True)
class ProcessMemory:
    """Resident set now and its peak since start (or since the last `reset_peak`), bytes."""

    rss: int
    peak: int


def status_field(text: str, name: str) -> int:
    """The ``<name> <n> kB`` line of a /proc status text, in bytes."""
    for line in text.splitlines():
        if line.startswith(name):
            return int(line.split()[1]) * KIB
    raise ValueError(f"no {name} line in the process status")


def memory(pid: int) -> ProcessMemory:
    text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    return ProcessMemory(rss=status_field(text, RSS_FIELD), peak=status_field(text, PEAK_FIELD))


def reset_peak(pid: int) -> ProcessMemory:
    """Set the peak of `pid` back to its resident set now; returns the memory after that."""
    Path(f"/proc/{pid}/clear_refs").write_text(RESET_PEAK, encoding="ascii")
    return memory(pid)
