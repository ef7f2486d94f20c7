"""The one error type the toolkit raises for problems a user can act on."""

from __future__ import annotations

from pathlib import Path


class HarnessError(Exception):
    """A failure of one pipeline step, with the file involved and what to do about it."""

    def __init__(
        self,
        step: str,
        problem: str,
        *,
        path: Path | str | None = None,
        hint: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.step = step
        self.problem = problem
        self.path = Path(path) if path is not None else None
        self.hint = hint
        self.details = details

    def render(self) -> str:
        """Text for the terminal: what failed, where, the evidence, and what to do."""
        lines = [f"vmfwupdate {self.step}: error: {self.problem}"]
        if self.path is not None:
            lines.append(f"  file: {self.path}")
        if self.details:
            lines.extend("  " + line for line in self.details.rstrip().splitlines())
        if self.hint:
            lines.append(f"  what to do: {self.hint}")
        return "\n".join(lines)
