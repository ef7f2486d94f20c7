"""The hostile-guest model of each ABI, by the ABI's name (the flow's `abi` parameter)."""

from __future__ import annotations

from collections.abc import Mapping

from harness.interface import v6_hostile, v7_hostile
from harness.interface.hostile import Start

WORLDS: Mapping[str, Start] = {"v6": v6_hostile.start, "v7": v7_hostile.start}
