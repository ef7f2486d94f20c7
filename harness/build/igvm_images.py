"""Firmware images wrapped into IGVM files with the pinned ``igvm-wrap``, and what
``igvm-inspect`` says about an IGVM file.

`wrap` turns a classic firmware image (the agent, SeaBIOS, OVMF) into an IGVM file with
the ``igvm-wrap`` that `make setup` installs (`harness.build.igvm.Layout.tool`). Files are
kept in an output directory, named by what they are made from: the input's bytes, the
wrap options and the tool's version (``igvm-wrap --version``); a second call with the same
inputs reuses the file, as the agent images are reused (`harness.build.agent_image`).

`inspect` runs ``igvm-inspect`` on a file and `parse_inspect` reads its output: the
platforms, the page ranges (`PageRange`: first guest-physical address and page count, the
page type) and the VP contexts. ``igvm-inspect`` exits 0 even when it cannot read the file
(it logs the error on stderr); an output without a platform line is that error.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from harness.build.igvm import Layout
from harness.errors import HarnessError
from harness.runner import Runner

STEP = "igvm-wrap"
WRAP = "igvm-wrap"
INSPECT = "igvm-inspect"
SUFFIX = ".igvm"
# IGVM pages are 4 KiB (igvm-wrap writes no 2 MiB pages; `parse_inspect` refuses them).
PAGE_SIZE = 4096
NATIVE = "NATIVE"
NORMAL = "NORMAL"
KEY_CHARS = 16


class Wrap(Enum):
    """How `wrap` calls igvm-wrap: the options that make each kind of IGVM file."""

    # native platform, the firmware starts in real mode at the reset vector (no VP context);
    # pages at the top of 4 GiB and its last 128 KiB below 1 MiB
    PLAIN = ()
    # native platform with a VP context: 32-bit protected mode, flat segments, at the reset
    # vector (a state that differs from the reset state); pages at the top of 4 GiB only
    FLAT32 = ("--flat32",)
    # an SEV-SNP platform only (no native platform)
    SNP_ONLY = ("--no-native", "--snp")
    # two platforms: native (as PLAIN) and SEV-SNP, the pages shared by both
    NATIVE_AND_SNP = ("--native", "--snp")

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


def tool_error(layout: Layout, name: str) -> HarnessError:
    return HarnessError(
        STEP,
        f"{name} not found in {layout.prefix / 'bin'}",
        path=layout.tool(name),
        hint="run `make setup` (it installs igvm-wrap and igvm-inspect from pinned crates)",
    )


def tool(layout: Layout, name: str) -> Path:
    """The installed tool `name` (igvm-wrap, igvm-inspect), or a HarnessError."""
    path = layout.tool(name)
    if not path.is_file():
        raise tool_error(layout, name)
    return path


@functools.lru_cache(maxsize=8)
def tool_version(path: Path) -> str:
    """What ``<tool> --version`` prints, e.g. ``igvm-wrap 0.2.6``."""
    proc = Runner().run([path, "--version"], step=STEP)
    return proc.stdout.strip()


def wrap_key(data: bytes, options: tuple[str, ...], version: str) -> str:
    """Names a wrapped file by what makes it: the input's bytes, the options, the tool."""
    digest = hashlib.sha256()
    digest.update(version.encode() + b"\0")
    for option in options:
        digest.update(option.encode() + b"\0")
    digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:KEY_CHARS]


def wrap(
    image: Path,
    out_dir: Path,
    kind: Wrap = Wrap.PLAIN,
    *,
    layout: Layout,
    runner: Runner | None = None,
) -> Path:
    """``image`` wrapped into an IGVM file in ``out_dir`` (made once per input, options
    and igvm-wrap version; later calls return the same file)."""
    wrap_tool = tool(layout, WRAP)
    data = image.read_bytes()
    key = wrap_key(data, kind.value, tool_version(wrap_tool))
    out = Path(out_dir) / f"{image.stem}-{kind.label}-{key}{SUFFIX}"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # igvm-wrap writes in place: into a temporary name, renamed when complete
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        (runner or Runner()).run(
            [wrap_tool, "-i", image, "-o", tmp, *kind.value],
            step=STEP,
            hint=f"igvm-wrap could not wrap {image}: see its messages above",
        )
        if tmp.stat().st_size == 0:
            raise HarnessError(STEP, f"igvm-wrap wrote nothing for {image}", path=tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


@dataclass(frozen=True)
class Platform:
    """A ``platform:`` line: the platform type and its compatibility mask."""

    name: str
    compat: int


@dataclass(frozen=True)
class PageRange:
    """Consecutive pages of one kind: ``count`` pages from ``gpa``."""

    gpa: int
    count: int
    data_type: str
    compat: int
    # zero pages: the file holds no data for them
    empty: bool = False

    @property
    def size(self) -> int:
        return self.count * PAGE_SIZE

    @property
    def end(self) -> int:
        """The first address after the range."""
        return self.gpa + self.size


@dataclass(frozen=True)
class VpContext:
    """A VP context line: its kind (``X64NativeVpContext``, ``SnpVpContext``), the entry
    as igvm-inspect describes it (``pm32, eip 0xfffffff0``), its compatibility mask."""

    kind: str
    entry: str
    compat: int


@dataclass(frozen=True)
class Inspection:
    """What igvm-inspect printed for one file."""

    platforms: tuple[Platform, ...]
    pages: tuple[PageRange, ...]
    vp_contexts: tuple[VpContext, ...]
    # every other line (initializations, parameter areas, required memory, ...)
    other: tuple[str, ...] = ()

    def compat(self, platform: str) -> int:
        """The compatibility mask of `platform`, 0 when the file does not have it."""
        return sum(p.compat for p in self.platforms if p.name == platform)

    @property
    def native(self) -> bool:
        return self.compat(NATIVE) != 0

    def native_pages(self) -> tuple[PageRange, ...]:
        """The page ranges a native launch writes."""
        mask = self.compat(NATIVE)
        return tuple(r for r in self.pages if r.compat & mask)

    @property
    def native_vp_context(self) -> bool:
        """Whether a native launch starts the BSP from a VP context (else: reset state)."""
        mask = self.compat(NATIVE)
        return any(c.compat & mask for c in self.vp_contexts)


class InspectError(ValueError):
    """igvm-inspect's output is not what `parse_inspect` knows."""


_HEX = r"0x[0-9a-fA-F]+"
_COMPAT = rf"compat (?P<compat>{_HEX})(?: \[[A-Z0-9_, ]*\])?"
_PLATFORM = re.compile(rf"platform: (?P<name>\w+), compat (?P<compat>{_HEX})")
_PAGE = re.compile(
    rf"PageData: gpa (?P<gpa>{_HEX}), type (?P<type>\w+), flags (?P<flags>[^,]+)"
    rf"(?P<extra>(?:, (?:unmeasured|shared|empty))*), {_COMPAT}"
)
_PAGE_END = re.compile(rf"PageData: end (?P<last>{_HEX}) \((?P<more>\d+) more pages?\)")
_VP = re.compile(rf"(?P<kind>\w*VpContext): (?P<entry>.+), {_COMPAT}")


def parse_inspect(text: str) -> Inspection:
    """Read igvm-inspect's output (stdout) for one file.

    A page range is a ``PageData: gpa ...`` line, with a ``PageData: end ... (N more
    pages)`` line after it when N further pages follow it contiguously."""
    platforms: list[Platform] = []
    pages: list[PageRange] = []
    vps: list[VpContext] = []
    other: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if m := _PLATFORM.fullmatch(line):
            platforms.append(Platform(m["name"], int(m["compat"], 16)))
        elif m := _PAGE.fullmatch(line):
            if m["flags"].strip() != "4k":
                raise InspectError(f"line {number}: pages of {m['flags']}, not 4k: {line!r}")
            pages.append(
                PageRange(
                    gpa=int(m["gpa"], 16),
                    count=1,
                    data_type=m["type"],
                    compat=int(m["compat"], 16),
                    empty="empty" in m["extra"],
                )
            )
        elif m := _PAGE_END.fullmatch(line):
            if not pages:
                raise InspectError(f"line {number}: an end of pages before any page: {line!r}")
            first = pages[-1]
            more = int(m["more"])
            last = int(m["last"], 16)
            if first.count != 1 or last != first.gpa + (1 + more) * PAGE_SIZE - 1:
                raise InspectError(
                    f"line {number}: {line!r} does not end the range from {first.gpa:#x}"
                )
            pages[-1] = PageRange(first.gpa, 1 + more, first.data_type, first.compat, first.empty)
        elif m := _VP.fullmatch(line):
            vps.append(VpContext(m["kind"], m["entry"], int(m["compat"], 16)))
        else:
            other.append(line)
    if not platforms:
        raise InspectError(
            "no platform line: igvm-inspect could not read the file (its error is on stderr)"
        )
    return Inspection(tuple(platforms), tuple(pages), tuple(vps), tuple(other))


def inspect(path: Path, *, layout: Layout, runner: Runner | None = None) -> Inspection:
    """`parse_inspect` of ``igvm-inspect <path>``."""
    proc = (runner or Runner()).run([tool(layout, INSPECT), path], step=STEP)
    try:
        return parse_inspect(proc.stdout)
    except InspectError as exc:
        raise HarnessError(
            STEP,
            f"cannot read igvm-inspect's output for {path}: {exc}",
            path=path,
            details=(proc.stdout + proc.stderr)[-2000:],
        ) from exc
