"""The toolkit's tree under interruptions and edits: an `apply` killed in the middle of its
`git am` (real signals to a real process), `export` during a `git am`, and a patch file
edited after the apply (`build`/`test`/`run` apply it again or refuse)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from repo_helpers import SERIES_PATCHES, git, make_series, snapshot

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree import export, series
from harness.tree.current import ensure_current
from harness.tree.source import QemuTree
from harness.tree.state import TreeState
from harness.workdir import Workdir

DEADLINE = 10.0
# A `git am` hook that blocks: the apply is caught in the middle of its first patch.
HOOK = "#!/bin/sh\ntouch am-started\nexec sleep 30\n"  # hooks run at the tree's top
INTERRUPTED = 130  # the toolkit's exit status after Ctrl-C or SIGTERM
APPLY = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from harness.cli import attach_log_handler, interrupted
    from harness.runner import Runner
    from harness.tree import series
    from harness.tree.source import QemuTree
    import signal
    attach_log_handler(False)
    signal.signal(signal.SIGTERM, interrupted)
    tree = QemuTree(Path(sys.argv[1]), "tarball", "10.2.2", sys.argv[2], "x")
    try:
        series.apply(tree, Path(sys.argv[3]), Runner())
    except KeyboardInterrupt:
        sys.exit(130)
    """
)


def wait_for(path: Path) -> None:
    end = time.monotonic() + DEADLINE
    while not path.exists():
        assert time.monotonic() < end, f"{path} did not appear within {DEADLINE}s"
        time.sleep(0.05)


def interrupted_apply(tree: QemuTree, patches: Path, sig: int) -> int:
    """Run `apply` in a real process, send it ``sig`` while its `git am` runs, return its
    exit status; the hook's sleep is reaped with the process group."""
    hook = tree.path / ".git" / "hooks" / "pre-applypatch"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-c", APPLY, str(tree.path), str(tree.base), str(patches)],
        start_new_session=True,
    )
    try:
        wait_for(tree.path / "am-started")
        os.kill(proc.pid, sig)
        return proc.wait(timeout=DEADLINE)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the hook's sleep, the process if it hangs
        proc.wait(timeout=DEADLINE)
        hook.unlink()
        (tree.path / "am-started").unlink(missing_ok=True)


def branch_and_status(tree: QemuTree) -> tuple[str, str]:
    head = git(tree.path, "symbolic-ref", "--quiet", "--short", "HEAD").strip()
    return head, git(tree.path, "status", "--porcelain", "--untracked-files=no")


def test_sigterm_during_apply_puts_the_tree_back(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
) -> None:
    make_series(owned_tree, workdir.patches)
    assert interrupted_apply(owned_tree, workdir.patches, signal.SIGTERM) == INTERRUPTED
    assert not (owned_tree.path / ".git" / "rebase-apply").exists()
    assert branch_and_status(owned_tree) == ("base", "")
    assert TreeState.load(owned_tree.path / ".git").applying is None
    assert series.apply(owned_tree, workdir.patches, runner).action == "applied"


def test_apply_after_kill_9_recovers_the_tree_itself(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
) -> None:
    """kill -9 leaves `git am` in progress; the next apply (or build) undoes it, no advice."""
    make_series(owned_tree, workdir.patches)
    assert interrupted_apply(owned_tree, workdir.patches, signal.SIGKILL) == -signal.SIGKILL
    assert (owned_tree.path / ".git" / "rebase-apply").exists()  # what kill -9 leaves
    result = series.apply(owned_tree, workdir.patches, runner)
    assert result.action == "applied" and result.patches == SERIES_PATCHES
    assert not (owned_tree.path / ".git" / "rebase-apply").exists()
    assert branch_and_status(owned_tree) == ("vmfwupdate", "")
    # and a build's check sees a current series: nothing left to do
    ensure_current(owned_tree, workdir.patches, runner, "build")
    assert git(owned_tree.path, "rev-parse", "HEAD").strip() == result.tip


def test_export_refuses_during_git_am(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
) -> None:
    make_series(owned_tree, workdir.patches)
    series.apply(owned_tree, workdir.patches, runner)
    patch = next(workdir.patches.glob("0001-*.patch"))
    patch.write_text(patch.read_text().replace("return 1;", "return 2;"))
    before = snapshot(workdir.patches)
    interrupted_apply(owned_tree, workdir.patches, signal.SIGKILL)
    with pytest.raises(HarnessError, match="interrupted") as err:
        export.export(owned_tree, workdir.patches, runner)
    assert "vmfwupdate apply" in (err.value.hint or "")
    assert snapshot(workdir.patches) == before
    # a `git am` started by hand (no apply recorded) is refused too, files untouched
    state = TreeState.load(owned_tree.path / ".git")
    state.applying = None
    state.save()
    with pytest.raises(HarnessError, match="in progress"):
        export.export(owned_tree, workdir.patches, runner)
    assert snapshot(workdir.patches) == before


def test_edited_patch_is_applied_before_a_build(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
) -> None:
    make_series(owned_tree, workdir.patches)
    first = series.apply(owned_tree, workdir.patches, runner)
    ensure_current(owned_tree, workdir.patches, runner, "build")
    assert git(owned_tree.path, "rev-parse", "HEAD").strip() == first.tip  # unchanged: no-op
    patch = next(workdir.patches.glob("0001-*.patch"))
    patch.write_text(patch.read_text().replace("return 1;", "return 2;"))
    ensure_current(owned_tree, workdir.patches, runner, "build")
    assert "return 2;" in (owned_tree.path / "hw/misc/new.c").read_text()
    assert git(owned_tree.path, "symbolic-ref", "--short", "HEAD").strip() == "vmfwupdate"


def test_edited_patch_and_work_in_the_tree_is_refused(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
) -> None:
    make_series(owned_tree, workdir.patches)
    series.apply(owned_tree, workdir.patches, runner)
    (owned_tree.path / "hw/misc/a.c").write_text("int edited;\n")
    patch = next(workdir.patches.glob("0001-*.patch"))
    patch.write_text(patch.read_text().replace("return 1;", "return 2;"))
    with pytest.raises(HarnessError) as err:
        ensure_current(owned_tree, workdir.patches, runner, "build")
    assert patch.name in err.value.problem and "uncommitted" in err.value.problem
    assert "vmfwupdate export" in (err.value.hint or "")
    assert (owned_tree.path / "hw/misc/a.c").read_text() == "int edited;\n"


def test_fresh_tree_gets_the_series_before_its_first_build(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
) -> None:
    make_series(owned_tree, workdir.patches)
    ensure_current(owned_tree, workdir.patches, runner, "build")
    assert (owned_tree.path / "hw/misc/new.c").is_file()
