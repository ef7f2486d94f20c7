"""Git plumbing with a clean, reproducible configuration.

Every call ignores the user's global and system configuration (so ``format.*``,
``diff.*`` or ``am.*`` settings cannot change what the toolkit writes) and runs
with a C locale so that messages can be parsed.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.runner import Runner

logger = logging.getLogger(__name__)

HARNESS_NAME = "vmfwupdate-harness"
HARNESS_EMAIL = "harness@vmfwupdate.invalid"
FIXED_DATE = "2000-01-01T00:00:00+0000"

# Options that keep generated patches independent of repository-local settings.
CLEAN_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.abbrev", "12"),
    ("core.autocrlf", "false"),
    ("core.quotePath", "true"),
    ("diff.algorithm", "histogram"),
    ("diff.renames", "true"),
    ("diff.noprefix", "false"),
    ("diff.mnemonicPrefix", "false"),
    ("diff.relative", "false"),
    ("diff.context", "3"),
    ("diff.interHunkContext", "0"),
    ("diff.indentHeuristic", "true"),
    ("diff.suppressBlankEmpty", "false"),
    ("format.signOff", "false"),
    ("format.useAutoBase", "false"),
    ("format.filenameMaxLength", "64"),
    ("format.suffix", ".patch"),
    ("am.keepcr", "false"),
    ("am.messageid", "false"),
    ("am.threeWay", "true"),
    ("apply.whitespace", "nowarn"),
    ("commit.gpgSign", "false"),
    # no background `git gc --auto` / `git maintenance run --auto` after commit and am: a
    # fresh tree's first apply would otherwise leave a repack running beside the build
    ("maintenance.auto", "false"),
    ("gc.auto", "0"),
)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("GIT_") and key not in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
            del env[key]
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_PAGER": "cat",
            "LC_ALL": "C",
            "LANGUAGE": "C",
        }
    )
    if extra:
        env.update(extra)
    return env


def user_identity(path: Path) -> tuple[str, str] | None:
    """The committer identity the user configured for ``path`` (any config level), if any."""
    idents = []
    for key in ("user.name", "user.email"):
        proc = subprocess.run(
            ["git", "-C", str(path), "config", "--get", key],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            return None
        idents.append(proc.stdout.strip())
    return idents[0], idents[1]


@dataclass
class Git:
    """A repository driven with the clean configuration."""

    path: Path
    runner: Runner
    step: str
    identity: tuple[str, str] = (HARNESS_NAME, HARNESS_EMAIL)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        name, email = self.identity
        ident = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        ident.update(extra or {})
        return clean_env(ident)

    def argv(self, args: Sequence[str | Path]) -> list[str]:
        argv = ["git", "-C", str(self.path)]
        for key, value in CLEAN_CONFIG:
            argv += ["-c", f"{key}={value}"]
        return argv + [str(a) for a in args]

    def run(
        self,
        *args: str | Path,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        input_text: str | None = None,
        hint: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return self.runner.run(
            self.argv(args),
            step=self.step,
            cwd=None,
            env=self.env(env),
            input_text=input_text,
            check=check,
            hint=hint or "see the git output above",
            shown=["git", "-C", str(self.path), *map(str, args)],
            decode_errors="surrogateescape",
        )

    def out(self, *args: str | Path) -> str:
        return self.run(*args).stdout.strip()

    def ok(self, *args: str | Path) -> bool:
        return self.run(*args, check=False).returncode == 0

    def rev(self, rev: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def git_dir(self) -> Path:
        return Path(self.out("rev-parse", "--absolute-git-dir"))

    def current_branch(self) -> str | None:
        proc = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def dirty_files(self) -> list[str]:
        """Tracked files with staged or unstaged changes."""
        status = self.run("status", "--porcelain=v1", "--untracked-files=no").stdout
        return [line[3:] for line in status.splitlines() if line.strip()]

    def operation_in_progress(self) -> str | None:
        gitdir = self.git_dir()
        for name, what in (
            ("rebase-apply", "a `git am` or `git rebase`"),
            ("rebase-merge", "a `git rebase`"),
            ("MERGE_HEAD", "a `git merge`"),
            ("CHERRY_PICK_HEAD", "a `git cherry-pick`"),
            ("REVERT_HEAD", "a `git revert`"),
        ):
            if (gitdir / name).exists():
                return what
        return None
