"""Run the QEMU tree's own ``scripts/checkpatch.pl`` over ``patches/``."""

from __future__ import annotations

import logging
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree.patchfile import series_files
from harness.tree.source import QemuTree

logger = logging.getLogger(__name__)

STEP = "checkpatch"


def run(tree: QemuTree, patches_dir: Path, runner: Runner) -> int:
    script = tree.path / "scripts" / "checkpatch.pl"
    if not script.is_file():
        raise HarnessError(
            STEP,
            "the QEMU tree has no scripts/checkpatch.pl",
            path=script,
            hint="use a complete QEMU tree",
        )
    files = series_files(patches_dir)
    if not files:
        raise HarnessError(
            STEP,
            "patches/ has no patches",
            path=patches_dir,
            hint="run `vmfwupdate export` or add a series",
        )
    failures = 0
    for patch in files:
        proc = runner.run(
            ["perl", script, "--terse", "--mailback", patch],
            step=STEP,
            cwd=tree.path,
            check=False,
        )
        output = (proc.stdout + proc.stderr).strip()
        status = "ok" if proc.returncode == 0 else "ERRORS"
        logger.info(f"checkpatch: {patch.name}: {status}")
        if output:
            logger.info("\n".join("  " + line for line in output.splitlines()))
        failures += proc.returncode != 0
    logger.info(f"checkpatch: {len(files) - failures}/{len(files)} patches without errors")
    return 1 if failures else 0
