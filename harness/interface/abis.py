"""The registry of the device ABIs the toolkit knows, by name.

An ABI module (`v6.py`, later `v7.py`) declares its facts as data and ends
with one `AbiDeclaration`; add it to `ABIS` here. The functional tests'
`abi` parameter takes its values from `ABI_NAMES`.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.interface import v6, v7
from harness.interface.declaration import AbiDeclaration

ABIS: Mapping[str, AbiDeclaration] = {v6.ABI.name: v6.ABI, v7.ABI.name: v7.ABI}
ABI_NAMES: tuple[str, ...] = tuple(ABIS)


def abi(name: str) -> AbiDeclaration:
    """The declaration of ABI `name`; a ValueError names the known ones."""
    try:
        return ABIS[name]
    except KeyError:
        raise ValueError(f"unknown device ABI {name!r}: known are {', '.join(ABI_NAMES)}") from None
