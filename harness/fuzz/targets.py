"""The generic-fuzz configs the series adds (its generic-fuzz patch), by name."""

from __future__ import annotations

CONFIGS = ("vmfwupdate-pc", "vmfwupdate-q35")
