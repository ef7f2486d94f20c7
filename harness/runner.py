"""The one command runner: every external command the toolkit runs goes through `Runner`.

With ``verbose`` each command and its output are logged (logger ``harness.runner``);
`run` captures output for errors, `stream` appends it to a log file line by line.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from harness.errors import HarnessError

logger = logging.getLogger(__name__)


def quote(cmd: Sequence[str | Path]) -> str:
    return shlex.join(str(part) for part in cmd)


@dataclass
class Runner:
    """Runs commands for one CLI invocation; ``verbose`` logs each command and its output.

    ``out`` is the terminal progress displays write to (`harness.build.qemu.NinjaProgress`).
    """

    verbose: bool = False
    out: TextIO = field(default_factory=lambda: sys.stderr)

    def say(self, text: str) -> None:
        """A result line for the user of a command (a command's output, not a log record)."""
        print(text, file=self.out, flush=True)

    def echo(self, cmd: Sequence[str | Path], cwd: Path | None) -> None:
        if self.verbose:
            where = f"(cd {shlex.quote(str(cwd))} && " if cwd else ""
            logger.info("+ %s%s%s", where, quote(cmd), ")" if cwd else "")

    def run(
        self,
        cmd: Sequence[str | Path],
        *,
        step: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        input_text: str | None = None,
        check: bool = True,
        hint: str | None = None,
        shown: Sequence[str | Path] | None = None,
        decode_errors: str = "replace",
    ) -> subprocess.CompletedProcess[str]:
        """Run to completion with output captured; raise HarnessError on failure if ``check``.

        ``shown`` is how the command appears in the log and the error (default: ``cmd``);
        ``decode_errors`` how undecodable output bytes are kept (git: surrogateescape).
        """
        shown = cmd if shown is None else shown
        self.echo(shown, cwd)
        try:
            proc = subprocess.run(
                [str(part) for part in cmd],
                cwd=cwd,
                env=dict(env) if env is not None else None,
                input=input_text,
                capture_output=True,
                text=True,
                errors=decode_errors,
                check=False,
            )
        except FileNotFoundError as exc:
            raise HarnessError(
                step,
                f"command not found: {cmd[0]}",
                hint="run `make setup` to install the tools the toolkit needs",
            ) from exc
        if self.verbose and (proc.stdout or proc.stderr):
            logger.info("%s", (proc.stdout + proc.stderr).rstrip())
        if check and proc.returncode != 0:
            raise HarnessError(
                step,
                f"`{quote(shown)}` failed with exit code {proc.returncode}",
                path=cwd,
                details=(proc.stdout + proc.stderr)[-4000:],
                hint=hint,
            )
        return proc

    def stream(
        self,
        cmd: Sequence[str | Path],
        *,
        log: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> int:
        """Run with stdout+stderr appended to ``log`` line by line; return the exit code."""
        self.echo(cmd, cwd)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as sink:
            sink.write(f"$ {quote(cmd)}\n")
            sink.flush()
            try:
                proc = subprocess.Popen(
                    [str(part) for part in cmd],
                    cwd=cwd,
                    env=dict(env) if env is not None else None,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    errors="replace",
                    bufsize=1,
                )
            except FileNotFoundError:
                sink.write(f"command not found: {cmd[0]}\n")
                return 127
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    sink.write(line)
                    sink.flush()
                    if self.verbose:
                        logger.info("%s", line.rstrip("\n"))
                    if on_line is not None:
                        on_line(line.rstrip("\n"))
            except BaseException:
                # interrupted: do not leave the command running behind us
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
            code = proc.wait()
            sink.write(f"[exit code {code}]\n")
        return code


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if extra:
        env.update(extra)
    return env
