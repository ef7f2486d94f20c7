"""Debian packages that only an optional build profile needs, installed when it is first used."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence

from harness.errors import HarnessError
from harness.runner import Runner, base_env

logger = logging.getLogger(__name__)

STEP = "build"


def missing(packages: Sequence[str], runner: Runner) -> list[str]:
    """The packages of ``packages`` that dpkg does not list as installed."""
    absent = []
    for package in packages:
        proc = runner.run(["dpkg-query", "-W", "-f=${Status}", package], step=STEP, check=False)
        if proc.returncode != 0 or proc.stdout.strip() != "install ok installed":
            absent.append(package)
    return absent


def apt_prefix() -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        raise HarnessError(
            STEP,
            "installing Debian packages needs root, and sudo is not installed",
            hint="run the command as root, or install the packages named above yourself",
        )
    return ["sudo"]


def ensure(packages: Sequence[str], runner: Runner, purpose: str) -> None:
    """Install the missing ones of ``packages`` with apt-get, saying why."""
    if not packages:
        return
    absent = missing(packages, runner)
    if not absent:
        return
    names = " ".join(absent)
    logger.info(f"{STEP}: {purpose} needs Debian packages that are missing: {names}")
    logger.info(f"{STEP}: installing them with apt-get (once; `make setup` does not install them)")
    prefix = apt_prefix()
    env = base_env({"DEBIAN_FRONTEND": "noninteractive"})
    hint = f"install them by hand: apt-get install {names}; then run the command again"
    runner.run([*prefix, "apt-get", "update", "-q"], step=STEP, env=env, hint=hint)
    runner.run(
        [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *absent],
        step=STEP,
        env=env,
        hint=hint,
    )
    still = missing(absent, runner)
    if still:
        raise HarnessError(
            STEP,
            f"apt-get finished but these packages are still not installed: {' '.join(still)}",
            hint=hint,
        )
