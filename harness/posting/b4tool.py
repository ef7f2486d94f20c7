"""Running b4 (https://b4.docs.kernel.org/), the tool the posting commands wrap.

b4 reads the QEMU tree's own ``.b4-config`` (``send-series-to``, ``send-auto-cc-cmd`` =
``scripts/get_maintainer.pl ...``, ``prep-perpatch-check-cmd`` = ``scripts/checkpatch.pl
...``) and the user's git configuration (identity, ``sendemail.*``), so it runs with the
user's environment, in a worktree of that tree.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner, base_env

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def executable(step: str) -> Path:
    """The b4 installed beside this interpreter (the .venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("b4")
    if beside.is_file():
        return beside
    found = shutil.which("b4")
    if found is None:
        raise HarnessError(
            step,
            "b4 is not installed",
            hint="run `make setup` (b4 is a dependency in pyproject.toml)",
        )
    return Path(found)


def run(
    args: Sequence[str | Path],
    *,
    step: str,
    cwd: Path,
    runner: Runner,
    env: Mapping[str, str] | None = None,
    hint: str | None = None,
) -> str:
    """``b4 ARGS`` in ``cwd``; its output (stdout and its log on stderr), colours removed."""
    proc = runner.run(
        [executable(step), *args],
        step=step,
        cwd=cwd,
        env=base_env(env),
        hint=hint or "see b4's output above",
    )
    return ANSI.sub("", proc.stdout + proc.stderr)
