"""One QEMU log directory per functional test run: ``<vm-log-dir>/<date>-<time>-<pid>/``.

Two runs at once (two terminals, or a test run beside ``check``) then never write to or
delete each other's logs. ``latest`` links to the newest run; runs beyond the newest
`KEEP` are deleted unless their process is still running.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

KEEP = 10
LATEST = "latest"
RUN_NAME = re.compile(r"^\d{8}-\d{6}-(\d+)$")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune(base: Path, keep: int = KEEP) -> list[Path]:
    """Delete the run directories older than the newest ``keep`` whose process is gone."""
    runs = sorted(p for p in base.iterdir() if p.is_dir() and RUN_NAME.match(p.name))
    removed = []
    for old in runs[: max(len(runs) - keep, 0)]:
        match = RUN_NAME.match(old.name)
        if match and not alive(int(match.group(1))):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def new_run_dir(base: Path) -> Path:
    """A new, empty log directory for this process's run; ``base/latest`` points at it."""
    base.mkdir(parents=True, exist_ok=True)
    prune(base)
    run = base / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run.mkdir()
    link = base / f".{LATEST}-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(run.name)
    link.replace(base / LATEST)
    return run
