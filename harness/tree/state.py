"""What the toolkit remembers about a QEMU tree, stored inside that tree's git directory."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "vmfwupdate-harness.json"


@dataclass
class Applied:
    """The series last put on a branch by ``vmfwupdate apply`` (or saved by ``export``)."""

    branch: str
    base: str
    tip: str
    digest: str
    patches: int
    # sha256 per patch file name: which files of patches/ changed since (older states: none)
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class TreeState:
    path: Path
    source: dict[str, str] = field(default_factory=dict)
    applied: Applied | None = None
    # set while `apply` runs `git am` (the ref to go back to): an apply that was killed
    # leaves it, and the next apply or build recovers the tree from it
    applying: str | None = None

    @classmethod
    def load(cls, git_dir: Path) -> TreeState:
        path = git_dir / STATE_FILE
        if not path.is_file():
            return cls(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path)
        applied = raw.get("applied")
        return cls(
            path,
            source=dict(raw.get("source") or {}),
            applied=Applied(**applied) if isinstance(applied, dict) else None,
            applying=raw.get("applying") or None,
        )

    def save(self) -> None:
        data = {
            "source": self.source,
            "applied": asdict(self.applied) if self.applied else None,
            "applying": self.applying,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)
