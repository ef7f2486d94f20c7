"""ninja's ``[N/M] description`` lines as a progress display, and the errors among them."""

from __future__ import annotations

import logging
import re
import shutil

from harness.runner import Runner

logger = logging.getLogger(__name__)


class NinjaProgress:
    """Turns ninja's ``[N/M] description`` lines into a progress display.

    On a terminal one line is rewritten in place; elsewhere (CI logs) a line is printed for
    every 10 % step, so the log shows progress without thousands of lines."""

    PATTERN = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")

    def __init__(self, runner: Runner, label: str) -> None:
        self.runner = runner
        self.label = label
        self.tty = runner.out.isatty() and not runner.verbose
        self.last_decile = -1
        self.errors: list[str] = []
        self.in_error = False

    def __call__(self, line: str) -> None:
        match = self.PATTERN.match(line)
        if match is None:
            if line.startswith("FAILED:") or self.in_error:
                self.in_error = True
                self.errors.append(line)
            return
        self.in_error = False
        done, total, what = int(match.group(1)), int(match.group(2)), match.group(3)
        if self.runner.verbose:
            return
        percent = 100 * done // max(total, 1)
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns
            text = f"\r{self.label}: [{done}/{total} {percent:3d}%] {what}"
            self.runner.out.write(text[: width - 1].ljust(width - 1))
            self.runner.out.flush()
        elif percent // 10 != self.last_decile:
            self.last_decile = percent // 10
            logger.info(f"{self.label}: [{done}/{total} {percent:3d}%] {what}"[:150])

    def finish(self) -> None:
        if self.tty:
            self.runner.out.write("\n")
            self.runner.out.flush()
