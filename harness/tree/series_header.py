"""A header file of the series, read out of its patch files, and the `#define`s in it.

The patches are the source of truth for the device's interface; the toolkit
never needs a QEMU tree to know what the series declares. A file is rebuilt
from the patch that creates it plus the hunks of every later patch that
changes it, then its object-like `#define`s are evaluated: string literals,
and integer expressions of constants, `KiB`/`MiB`/`GiB`, `+ - * << | ( )`.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError

STEP = "series"
UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)(?!\()\s+(.+?)\s*(?:/\*.*)?$")
INT_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")
BINARY: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.LShift: operator.lshift,
    ast.BitOr: operator.or_,
}


def _file_diffs(patch_text: str, path: str) -> list[list[str]]:
    """The diff lines (from `---` on) of `path` in one patch, one list per occurrence."""
    diffs: list[list[str]] = []
    current: list[str] | None = None
    for line in patch_text.splitlines():
        if line.startswith("diff --git "):
            current = [] if line == f"diff --git a/{path} b/{path}" else None
            if current is not None:
                diffs.append(current)
        elif current is not None:
            current.append(line)
    return diffs


def _apply(old: list[str], diff: list[str], where: str) -> list[str]:
    """Apply one file's unified diff to `old` (exact context, hunks in order)."""
    new: list[str] = []
    pos = 0
    lines = iter(diff)
    for line in lines:
        m = HUNK.match(line)
        if m is None:
            continue
        start = max(int(m[1]) - 1, 0) if old else 0
        new += old[pos:start]
        pos = start
        remaining_old = int(m[2] or 1) if m[2] != "0" else 0
        remaining_new = int(m[4] or 1) if m[4] != "0" else 0
        while remaining_old or remaining_new:
            body = next(lines)
            kind, text = body[:1], body[1:]
            if kind in (" ", "-"):
                if pos >= len(old) or old[pos] != text:
                    raise HarnessError(STEP, f"hunk does not fit the file in {where}")
                pos += 1
                remaining_old -= 1
            if kind in (" ", "+"):
                new.append(text)
                remaining_new -= 1
    return new + old[pos:]


def file_from_series(patches: list[Path], path: str) -> str:
    """The content of `path` after all of `patches` (in order) are applied."""
    content: list[str] | None = None
    for patch in patches:
        for diff in _file_diffs(patch.read_text(encoding="utf-8", errors="replace"), path):
            if content is None and not any(line == "--- /dev/null" for line in diff):
                raise HarnessError(
                    STEP,
                    f"{patch.name} changes {path} before any patch creates it",
                    path=patch,
                    hint="the header must be added by the series itself",
                )
            content = _apply(content or [], diff, patch.name)
    if content is None:
        raise HarnessError(
            STEP,
            f"no patch of the series adds {path}",
            path=patches[0].parent if patches else None,
            hint="check the ABI declaration's `header` against the series",
        )
    return "\n".join(content) + "\n"


def _evaluate(node: ast.AST) -> int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.Name) and node.id in UNITS:
        return UNITS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        return BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    raise ValueError(f"not a constant expression: {ast.dump(node)}")


def define_value(text: str) -> str | int | None:
    """A `#define`'s value as Python: a str, an int, or None when it is neither."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"' and '"' not in text[1:-1]:
        return text[1:-1]
    try:
        return _evaluate(ast.parse(INT_SUFFIX.sub(r"\1", text), mode="eval"))
    except (SyntaxError, ValueError):
        return None


def c_defines(header: str) -> dict[str, str | int]:
    """The object-like `#define`s of a header whose value is a string or an integer."""
    found: dict[str, str | int] = {}
    for line in header.splitlines():
        m = DEFINE.match(line)
        if m is not None:
            value = define_value(m[2])
            if value is not None:
                found[m[1]] = value
    return found
