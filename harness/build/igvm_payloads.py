"""Payloads that the pinned igvm-wrap turns into IGVM files of a chosen size or a chosen
number of directives, for the benchmarks and tests of what checking an IGVM image costs.

igvm-wrap (`Wrap.PLAIN`) makes one page-data directive per 4 KiB page of its input, at
the top of 4 GiB, and one more for each of the input's last pages that it copies below
1 MiB (at most 32, the 128 KiB under 1 MiB): P + min(P, 32) directives for P pages. A
directive costs 32 bytes of the file; a page of zeros is stored as an empty page (no
data), any other page with its 4 KiB. So a payload of random bytes makes a file of about
its own size, and a payload of zeros a file of many directives in few bytes (100,000
directives in ~3 MiB).

Every payload ends in a reset-vector stub (``cli; hlt; jmp`` back to the ``hlt``): a
guest that boots the file halts there and runs nothing else. The bytes are a function of
the payload's description (`Payload`), so a file written once is reused, like the
IGVM files `harness.build.igvm_images.wrap` makes from it.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from harness.build.igvm_images import PAGE_SIZE

# The input pages igvm-wrap also copies below 1 MiB (its last 128 KiB).
LOW_COPY_PAGES = 32
# Bytes of the file per directive (its header), and the file's own headers.
DIRECTIVE_BYTES = 32
FILE_HEADER_BYTES = 56
# At the reset vector (the payload's last 16 bytes): cli; hlt; jmp short back to the hlt.
RESET_STUB = bytes((0xFA, 0xF4, 0xEB, 0xFD)).ljust(16, b"\0")


class Fill(Enum):
    """What a payload's pages hold (before the reset stub)."""

    RANDOM = "random"  # each page stored with its data: file size ~ payload size
    ZEROS = "zeros"  # empty pages: file size ~ 32 bytes per directive


@dataclass(frozen=True)
class Payload:
    """A payload of `pages` 4 KiB pages of `fill` (random bytes from `seed`)."""

    pages: int
    fill: Fill
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pages < 1:
            raise ValueError(f"a payload has at least one page, not {self.pages}")

    @property
    def size(self) -> int:
        return self.pages * PAGE_SIZE

    @property
    def directives(self) -> int:
        """The page-data directives igvm-wrap makes of it."""
        return self.pages + min(self.pages, LOW_COPY_PAGES)

    @property
    def name(self) -> str:
        return f"payload-{self.fill.value}-{self.pages}p-seed{self.seed}.bin"

    def data(self) -> bytes:
        body = self.size - len(RESET_STUB)
        if self.fill is Fill.RANDOM:
            return random.Random(self.seed).randbytes(body) + RESET_STUB
        return bytes(body) + RESET_STUB

    def write(self, out_dir: Path) -> Path:
        """The payload as a file in `out_dir` (written once: its name says its bytes)."""
        out = out_dir / self.name
        if out.is_file() and out.stat().st_size == self.size:
            return out
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.name}.", dir=out_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                if self.fill is Fill.ZEROS:  # a sparse file: only the stub is written
                    f.seek(self.size - len(RESET_STUB))
                    f.write(RESET_STUB)
                else:
                    f.write(self.data())
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return out


def for_directives(count: int, seed: int = 0) -> Payload:
    """The zero payload igvm-wrap makes exactly `count` directives of (an even count up
    to 64, any count above)."""
    if count <= 2 * LOW_COPY_PAGES:
        if count < 2 or count % 2:
            raise ValueError(f"{count} directives: up to 64 only an even count can be made")
        return Payload(count // 2, Fill.ZEROS, seed)
    return Payload(count - LOW_COPY_PAGES, Fill.ZEROS, seed)


def for_file_size(size: int, seed: int = 0) -> Payload:
    """The random payload whose IGVM file is as large as fits in `size` bytes."""
    per_page = PAGE_SIZE + DIRECTIVE_BYTES
    pages = (size - FILE_HEADER_BYTES - LOW_COPY_PAGES * DIRECTIVE_BYTES) // per_page
    return Payload(pages, Fill.RANDOM, seed)
