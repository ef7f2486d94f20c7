"""The firmware region after an update: what the guest sees at the top and in the low alias."""

from __future__ import annotations

from harness.interface.declaration import AbiDeclaration


def region_after_update(region_size: int, image: bytes) -> bytes:
    """The region's bytes after an update with `image`: zero fill below it."""
    if len(image) > region_size:
        raise ValueError("image larger than the firmware region")
    return bytes(region_size - len(image)) + image


def low_alias(abi: AbiDeclaration, region: bytes) -> bytes:
    """What the guest sees below `abi.low_alias_end` (1 MiB): the region's last bytes."""
    return region[-min(abi.low_alias_size, len(region)) :]


def low_alias_base(abi: AbiDeclaration, region_size: int) -> int:
    """Where the low alias of a region of `region_size` bytes starts."""
    return abi.low_alias_end - min(abi.low_alias_size, region_size)


def region_base(abi: AbiDeclaration, size: int) -> int:
    """Where a region (or an image placed at its top) of `size` bytes starts."""
    return abi.region_top - size
