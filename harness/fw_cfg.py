"""QEMU's fw_cfg as the guest sees it: an entry of its file directory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FwCfgEntry:
    """One entry of the fw_cfg file directory: name, size in bytes, selector key."""

    name: str
    size: int
    select: int
