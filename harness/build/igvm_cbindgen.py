"""Prepare the igvm crates' sources for cbindgen, so the C headers QEMU includes come out right.

The igvm crate's C headers (``<igvm/igvm.h>``, ``<igvm/igvm_defs.h>``) are generated with
cbindgen. cbindgen reads Rust source without expanding macros, and two things in the
published sources do not come out as C code can use them:

- ``#[bitfield(u32)]`` structs (bitfield-struct's macro: ``IgvmPageDataFlags``,
  ``IgvmEnvironmentInfo``, ...) are not ``repr(C)`` before expansion, so cbindgen would
  make them opaque; QEMU reads their bits by name (``flags->is_2mb_page``). They become
  ``repr(C)`` structs of the storage type with one ``cbindgen:bitfield=N`` annotation per
  field, in declaration order: bitfield-struct fills bits from the least significant one,
  and so does the x86-64 C ABI.
- Enum variants: C has one namespace for them, so each gets its enum's name as a prefix
  (``IGVM_ARCHITECTURE_X64``), except ``IgvmVariableHeaderType``'s, which have theirs
  (``IGVM_VHT_PAGE_DATA``), and ``IgvmHeaderSection``'s, which C callers know as
  ``IGVM_HEADER_SECTION_PLATFORM`` (the Rust name is ``HEADER_SECTION_PLATFORM``).

`prepare` copies a crate's ``src/`` and applies these changes; every change must find what
it changes, so a new crate version that moves things stops the build with a message
instead of producing a header that lacks them.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

STORAGE_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64}

BITFIELD_ATTR = re.compile(r"^(?P<indent>\s*)#\[bitfield\((?P<storage>u8|u16|u32|u64)\)\]\s*$")
BITS_ATTR = re.compile(r"^\s*#\[bits\((?P<bits>\d+)\s*(?:,[^\]]*)?\)\]\s*$")
FIELD = re.compile(r"^(?P<indent>\s*)pub (?P<name>\w+): (?P<type>bool|u8|u16|u32|u64),\s*$")
STRUCT_START = re.compile(r"^\s*pub struct (?P<name>\w+) \{\s*$")


class PrepareError(Exception):
    """The crate source is not what this module knows how to prepare."""


@dataclass(frozen=True)
class Annotation:
    """cbindgen annotations (``/// cbindgen:...`` lines) put right before ``anchor``."""

    file: str  # relative to the crate's src/
    anchor: str  # a whole line of the file, without its indentation
    lines: tuple[str, ...]


@dataclass(frozen=True)
class CrateSource:
    """What cbindgen reads of one crate, and what has to change in it first."""

    entry: str  # the file cbindgen parses (it follows `mod x;` from there), below src/
    bitfields: bool  # rewrite #[bitfield] structs (only where they are public C types)
    annotations: tuple[Annotation, ...] = ()


CRATES: dict[str, CrateSource] = {
    # <igvm/igvm.h>: the C API module alone (the rest of the crate is Rust-only)
    "igvm": CrateSource(
        "c_api.rs",
        bitfields=False,
        annotations=(
            Annotation(
                "c_api.rs",
                "pub enum IgvmHeaderSection {",
                ("cbindgen:rename-all=prefix:IGVM_",),
            ),
        ),
    ),
    # <igvm/igvm_defs.h>: the whole crate. Enum variants get their enum's name as a
    # prefix (the config's default: `IgvmArchitecture::X64` is IGVM_ARCHITECTURE_X64, so
    # the several INVALID and SHA256 variants do not collide in C), except the header
    # types, which carry theirs already (IGVM_VHT_PAGE_DATA).
    "igvm_defs": CrateSource(
        "lib.rs",
        bitfields=True,
        annotations=(
            Annotation(
                "lib.rs",
                "pub enum IgvmVariableHeaderType {",
                ("cbindgen:prefix-with-name=false",),
            ),
        ),
    ),
}


def rewrite_bitfields(text: str, where: str) -> tuple[str, list[str]]:
    """``text`` with every ``#[bitfield(uN)]`` struct made a ``repr(C)`` struct of C
    bitfields; also the names of the structs rewritten."""
    out: list[str] = []
    done: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = BITFIELD_ATTR.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        storage = match["storage"]
        out.append(f"{match['indent']}#[repr(C)]")
        i += 1
        # the struct's other attributes and its `pub struct X {` line
        while i < len(lines) and STRUCT_START.match(lines[i]) is None:
            if lines[i].strip().startswith("pub ") or lines[i].strip() == "}":
                raise PrepareError(f"{where}:{i + 1}: no `pub struct ... {{` after #[bitfield]")
            out.append(lines[i])
            i += 1
        if i == len(lines):
            raise PrepareError(f"{where}: a #[bitfield] attribute without a struct")
        name = STRUCT_START.match(lines[i])["name"]  # type: ignore[index]
        out.append(lines[i])
        i += 1
        bits = 0
        pending: int | None = None
        while i < len(lines) and lines[i].strip() != "}":
            line = lines[i]
            stripped = line.strip()
            if (attr := BITS_ATTR.match(line)) is not None:
                pending = int(attr["bits"])
            elif (field := FIELD.match(line)) is not None:
                width = pending or (1 if field["type"] == "bool" else STORAGE_BITS[field["type"]])
                out.append(f"{field['indent']}/// cbindgen:bitfield={width}")
                out.append(f"{field['indent']}pub {field['name']}: {storage},")
                bits += width
                pending = None
            elif stripped == "" or stripped.startswith("//"):
                out.append(line)
            else:
                raise PrepareError(f"{where}:{i + 1}: bitfield {name}: cannot convert {stripped!r}")
            i += 1
        if bits != STORAGE_BITS[storage]:
            raise PrepareError(
                f"{where}: bitfield {name}: its fields have {bits} bits, its storage {storage}"
            )
        done.append(name)
    return "\n".join(out) + "\n", done


def annotate(text: str, annotation: Annotation, where: str) -> str:
    lines = text.splitlines()
    hits = [n for n, line in enumerate(lines) if line.strip() == annotation.anchor]
    if len(hits) != 1:
        raise PrepareError(
            f"{where}: expected the line {annotation.anchor!r} once, found it {len(hits)} times"
        )
    at = hits[0]
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    added = [f"{indent}/// {line}" for line in annotation.lines]
    return "\n".join([*lines[:at], *added, *lines[at:]]) + "\n"


def prepare(crate_dir: Path, crate: str, out_dir: Path) -> tuple[Path, list[str]]:
    """Copy ``crate_dir/src`` to ``out_dir`` and apply the changes above; return the file
    to run cbindgen on and what was changed (for the log)."""
    spec = CRATES[crate]
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(crate_dir / "src", out_dir)
    changed: list[str] = []
    for path in sorted(out_dir.rglob("*.rs")) if spec.bitfields else ():
        where = f"{crate}/src/{path.relative_to(out_dir)}"
        text = path.read_text(encoding="utf-8")
        new, structs = rewrite_bitfields(text, where)
        if structs:
            path.write_text(new, encoding="utf-8")
            changed.extend(f"{where}: bitfield {name}" for name in structs)
    for annotation in spec.annotations:
        path = out_dir / annotation.file
        where = f"{crate}/src/{annotation.file}"
        if not path.is_file():
            raise PrepareError(f"{where}: no such file in the crate")
        path.write_text(annotate(path.read_text(encoding="utf-8"), annotation, where), "utf-8")
        changed.append(f"{where}: {', '.join(annotation.lines)} on {annotation.anchor!r}")
    entry = out_dir / spec.entry
    if not entry.is_file():
        raise PrepareError(f"{crate}/src/{spec.entry}: no such file in the crate")
    return entry, changed


PUBLIC_TYPE = re.compile(r"^pub (?:struct|enum) (?P<name>\w+)\b", re.MULTILINE)


def public_types(source_dir: Path) -> list[str]:
    """The crate's top-level public structs and enums, in file order: cbindgen emits only
    the types that exported functions use unless a config names them, and igvm_defs has no
    functions; its header is all of its types."""
    names: list[str] = []
    for path in sorted(source_dir.rglob("*.rs")):
        names.extend(m["name"] for m in PUBLIC_TYPE.finditer(path.read_text(encoding="utf-8")))
    return names


def write_config(base: Path, out: Path, include: list[str]) -> Path:
    """``base`` (a committed cbindgen config) plus ``[export] include = [...]``, as ``out``."""
    text = base.read_text(encoding="utf-8").rstrip("\n")
    if include:
        names = ", ".join(f'"{name}"' for name in include)
        text += f"\n\n# added by harness/build/igvm_cbindgen.py\n[export]\ninclude = [{names}]\n"
    out.write_text(text + "\n", encoding="utf-8")
    return out
