"""The generic-fuzz configs the series adds (patch 0008), by name."""

from __future__ import annotations

CONFIGS = ("vmfwupdate-pc", "vmfwupdate-q35")
