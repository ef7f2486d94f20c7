"""An agent firmware image and the facts its boot banner must report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import AgentBuildError
from harness.guest.protocol import (
    IDENTITY_CHARS,
    IDENTITY_MAX,
    IMAGE_MAX_SIZE,
    IMAGE_MIN_SIZE,
    IMAGE_SIZE_STEP,
    banner_line,
)
from harness.platform import FIRMWARE_TOP

IDENTITY_RE = re.compile(rf"[{IDENTITY_CHARS}]{{1,{IDENTITY_MAX}}}")


@dataclass(frozen=True)
class AgentImage:
    """A built agent image and the facts its boot banner will report."""

    path: Path
    size: int
    identity: str
    crc32: int
    rebuilt: bool
    seconds: float

    @property
    def rom_base(self) -> int:
        return FIRMWARE_TOP - self.size

    def banner(self) -> str:
        return banner_line(self.identity, self.rom_base, self.size, self.crc32)


def validate_size(size: int) -> int:
    """Return size if it is a valid image size, else raise AgentBuildError."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise AgentBuildError("validate", f"image size must be an integer, got {size!r}")
    if size < IMAGE_MIN_SIZE or size > IMAGE_MAX_SIZE or size % IMAGE_SIZE_STEP:
        raise AgentBuildError(
            "validate",
            f"image size {size:#x} is invalid: use a multiple of 64 KiB ({IMAGE_SIZE_STEP:#x}) "
            f"from {IMAGE_MIN_SIZE:#x} to {IMAGE_MAX_SIZE:#x}",
        )
    return size


def validate_identity(identity: str) -> str:
    """Return identity if it is 1..32 characters of [A-Za-z0-9._-], else raise."""
    if not isinstance(identity, str) or not IDENTITY_RE.fullmatch(identity):
        raise AgentBuildError(
            "validate",
            f"identity {identity!r} is invalid: use 1 to {IDENTITY_MAX} characters "
            f"from [{IDENTITY_CHARS}]",
        )
    return identity


def image_name(identity: str, size: int) -> str:
    return f"agent-{identity}-{size}.bin"
