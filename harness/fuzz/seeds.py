"""The seed sets by ABI name (a series' name is its ABI's): which ``device_files`` and
``seeds`` the fuzz workflow uses for the series it fuzzes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from harness.fuzz import seeds_v6, seeds_v7, seeds_v7_igvm
from harness.fuzz.seeds_v7_igvm import IgvmSeedFiles
from harness.fw_cfg import FwCfgEntry
from harness.interface import v6, v7


@dataclass(frozen=True)
class SeedSet:
    """How to find an ABI's files in the fw_cfg directory, and the seeds written for them."""

    device_files: Callable[[Iterable[FwCfgEntry]], dict[str, FwCfgEntry]]
    seeds: Callable[[dict[str, FwCfgEntry]], dict[str, bytes]]
    # seeds that place IGVM files (harness.workflows.fuzz_igvm_files makes them), for
    # ABIs with FORMAT_IGVM
    igvm_seeds: Callable[[dict[str, FwCfgEntry], IgvmSeedFiles], dict[str, bytes]] | None = None
    # the longest seed the fuzzer is given (-max_len is raised to fit it): a longer one is
    # left out, as every execution of it and of its mutations would be slow
    longest: int = 0


SEED_SETS: Mapping[str, SeedSet] = {
    v6.NAME: SeedSet(seeds_v6.device_files, seeds_v6.seeds),
    v7.NAME: SeedSet(
        seeds_v7.device_files, seeds_v7.seeds, seeds_v7_igvm.seeds, seeds_v7_igvm.LONGEST
    ),
}


def seed_set(abi: str) -> SeedSet:
    """The seed set of ABI `abi`; a ValueError names the ones there are."""
    try:
        return SEED_SETS[abi]
    except KeyError:
        raise ValueError(
            f"no fuzz seeds for ABI {abi!r}: there are {', '.join(SEED_SETS)}"
        ) from None
