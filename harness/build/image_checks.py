"""Checks on a linked agent image: no undefined symbols, exact size, the reset vector."""

from __future__ import annotations

from pathlib import Path

from harness.errors import AgentBuildError
from harness.platform import FIRMWARE_TOP, RESET_VECTOR

# A real-mode near jump: e9 rel16 or eb rel8.
JMP_REL16 = 0xE9
JMP_REL8 = 0xEB
# CS base at reset: the top 64 KiB below 4 GiB.
RESET_CS_BASE = 0xFFFF0000
VECTOR_BYTES = 16


def check_undefined(nm_u_output: str, path: Path | None = None) -> None:
    """Reject an ELF whose `nm -u` output lists any symbol."""
    undefined = [line.split()[-1] for line in nm_u_output.splitlines() if line.strip()]
    if undefined:
        raise AgentBuildError(
            "check-undefined",
            "undefined symbols: "
            + ", ".join(undefined)
            + " (provide them in harness/agent/lib.c; 64-bit division needs a helper)",
            path,
        )


def reset_vector_target(image: bytes) -> int:
    """Linear address the real-mode jump at 4 GiB - 16 lands on (CS base 0xffff0000)."""
    if len(image) < VECTOR_BYTES:
        raise AgentBuildError("check-reset-vector", f"image is only {len(image)} bytes")
    vec = image[-VECTOR_BYTES:]
    ip = RESET_VECTOR & 0xFFFF
    if vec[0] == JMP_REL16:
        rel = int.from_bytes(vec[1:3], "little", signed=True)
        return RESET_CS_BASE | ((ip + 3 + rel) & 0xFFFF)
    if vec[0] == JMP_REL8:
        rel = int.from_bytes(vec[1:2], "little", signed=True)
        return RESET_CS_BASE | ((ip + 2 + rel) & 0xFFFF)
    raise AgentBuildError(
        "check-reset-vector",
        f"the reset vector holds {vec[:4].hex()}, not a near jump (e9/eb)",
    )


def check_image(image: bytes, size: int, entry16: int, path: Path | None = None) -> None:
    """Post-link checks on a flat image: exact size, reset vector jumps to entry16."""
    if len(image) != size:
        raise AgentBuildError(
            "check-size",
            f"image is {len(image)} bytes, expected {size} "
            "(check the linker script: a section outside the ROM or too much code)",
            path,
        )
    try:
        target = reset_vector_target(image)
    except AgentBuildError as exc:
        raise AgentBuildError(exc.step, exc.problem, path) from exc
    if target != entry16 or target < FIRMWARE_TOP - size:
        raise AgentBuildError(
            "check-reset-vector",
            f"the reset vector jumps to {target:#010x}, "
            f"expected the 16-bit entry at {entry16:#010x}",
            path,
        )
