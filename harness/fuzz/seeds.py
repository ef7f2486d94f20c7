"""The seed sets by ABI name (a series' name is its ABI's): which ``device_files`` and
``seeds`` the fuzz workflow uses for the series it fuzzes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from harness.fuzz import seeds_v6, seeds_v7
from harness.fw_cfg import FwCfgEntry
from harness.interface import v6, v7


@dataclass(frozen=True)
class SeedSet:
    """How to find an ABI's files in the fw_cfg directory, and the seeds written for them."""

    device_files: Callable[[Iterable[FwCfgEntry]], dict[str, FwCfgEntry]]
    seeds: Callable[[dict[str, FwCfgEntry]], dict[str, bytes]]


SEED_SETS: Mapping[str, SeedSet] = {
    v6.NAME: SeedSet(seeds_v6.device_files, seeds_v6.seeds),
    v7.NAME: SeedSet(seeds_v7.device_files, seeds_v7.seeds),
}


def seed_set(abi: str) -> SeedSet:
    """The seed set of ABI `abi`; a ValueError names the ones there are."""
    try:
        return SEED_SETS[abi]
    except KeyError:
        raise ValueError(
            f"no fuzz seeds for ABI {abi!r}: there are {', '.join(SEED_SETS)}"
        ) from None
