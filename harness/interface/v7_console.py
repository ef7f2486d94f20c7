"""The v7 structure at the agent's console, by field names: the ``write etc/vmfwupdate <hex>``
line that arms, cancels, locks or restores, and a ``data <hex>`` line read back, decoded.

Everything comes from the one declaration (`harness.interface.v7`, `v7_struct.Fields`): the
layout, the offsets, and the bit and status names (those of the series' header,
`v7.HEADER_DEFINES`).
"""

from __future__ import annotations

from dataclasses import astuple, fields

from harness.guest.agent_client import parse_data
from harness.interface import v7
from harness.interface.v7_struct import FIELD_OFFSETS, Fields

PREFIX = "VMFWUPDATE_"


def header_bits(*kinds: str) -> dict[str, int]:
    """Bit name -> value of the header's ``VMFWUPDATE_<kind>_*`` bits (masks left out)."""
    return {
        name.removeprefix(PREFIX): value
        for name, value in v7.HEADER_DEFINES.items()
        if name.startswith(tuple(f"{PREFIX}{kind}_" for kind in kinds))
        and not name.endswith("_MASK")
        and isinstance(value, int)
    }


# the formats are offered in capabilities and armed in control
CAPABILITY_BITS = header_bits("FORMAT", "CAP")
CONTROL_BITS = header_bits("FORMAT", "CTL")


def control(*, igvm: bool = False, trial: bool = False, lock: bool = False) -> int:
    return (
        (v7.FORMAT_IGVM if igvm else v7.FORMAT_PLATFORM_ROM)
        | (v7.CTL_HOST_FW if trial else 0)
        | (v7.CTL_DISABLE if lock else 0)
    )


def write_line(structure: Fields) -> str:
    """The agent command that writes ``structure`` in one DMA transfer (what a guest does)."""
    return f"write {v7.FILE} {structure.pack().hex()}"


def bit_names(value: int, names: dict[str, int]) -> str:
    """``A|B`` for the named bits of ``value``, the rest as hex; ``0`` when none is set."""
    parts = [name for name, bit in names.items() if value & bit]
    rest = value & ~sum(names.values())
    if rest:
        parts.append(hex(rest))
    return "|".join(parts) or "0"


def status_name(value: int) -> str:
    try:
        return v7.Status(value).name
    except ValueError:
        return "unknown status"


def describe(structure: Fields) -> list[str]:
    """One line per field: offset, name, value, and what the value means."""
    meaning = {
        "status": status_name(structure.status),
        "capabilities": bit_names(structure.capabilities, CAPABILITY_BITS),
        "control": bit_names(structure.control, CONTROL_BITS),
    }
    lines = []
    for spec, value in zip(fields(Fields), astuple(structure), strict=True):
        name = spec.name
        sized = name.endswith("size") and value and value % 1024 == 0
        note = meaning.get(name) or (f"{value // 1024} KiB" if sized else "")
        lines.append(f"0x{FIELD_OFFSETS[name]:02x} {name:<13} 0x{value:x}  {note}".rstrip())
    return lines


def decode(lines: list[str]) -> Fields:
    """The structure from the agent's ``data <hex>`` lines (a ``read etc/vmfwupdate`` reply)."""
    return Fields.unpack(parse_data(lines))
