"""How every patch of the series lands on another QEMU base (``vmfwupdate rebase-check``).

``vmfwupdate apply`` stops at the first patch that does not apply, which is right for
building but says little about the size of a rebase or a backport. The survey applies the
patches one at a time on a detached HEAD at the other base:

- ``applies``: ``git apply`` takes the patch as it is (offsets allowed);
- ``3-way``: only ``git am --3way`` takes it (it needs the blobs the patch was made from);
- ``conflict``: neither does; the hunks that do apply are applied with ``git apply --reject``
  and committed, so that later patches meet the files they expect, and the rejected hunks
  are counted per file.

The tree is left on the branch or commit it was on, with no new branch.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.runner import Runner
from harness.tree.git import Git
from harness.tree.guards import check_clean, open_tree, resolve_base
from harness.tree.patchfile import series_files
from harness.tree.series import DEFAULT_BRANCH
from harness.tree.source import QemuTree
from harness.tree.state import TreeState

logger = logging.getLogger(__name__)

STEP = "rebase-check"
APPLIES = "applies"
THREE_WAY = "3-way"
CONFLICT = "conflict"

REJECTED_FILE = re.compile(r"^Applying patch (\S+) with (\d+) reject", re.M)
MISSING_FILE = re.compile(
    r"^error: (\S+): (?:No such file or directory|does not exist in index)$", re.M
)
FILE_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)
HUNK_HEADER = re.compile(r"^@@ ", re.M)
SUBJECT = re.compile(r"^Subject: (?:\[[^]]*\] )?(.*)$", re.M)


@dataclass(frozen=True)
class PatchOutcome:
    name: str
    status: str  # APPLIES, THREE_WAY or CONFLICT
    hunks: int
    rejected: dict[str, int] = field(default_factory=dict)  # file -> rejected hunks

    @property
    def rejected_hunks(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class Survey:
    tree: Path
    base: str
    outcomes: list[PatchOutcome]

    @property
    def clean(self) -> bool:
        return all(o.status != CONFLICT for o in self.outcomes)


def hunks_per_file(patch_text: str) -> dict[str, int]:
    headers = list(FILE_HEADER.finditer(patch_text))
    counts: dict[str, int] = {}
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following else len(patch_text)
        counts[header.group(2)] = len(HUNK_HEADER.findall(patch_text, header.end(), end))
    return counts


def rejected_per_file(apply_output: str, hunks: dict[str, int]) -> dict[str, int]:
    """Parse ``git apply --reject`` output: ``Applying patch F with N reject(s)...`` and,
    for a file that is not there at all, ``error: F: No such file or directory``."""
    rejected = {m.group(1): int(m.group(2)) for m in REJECTED_FILE.finditer(apply_output)}
    for m in MISSING_FILE.finditer(apply_output):
        rejected[m.group(1)] = max(hunks.get(m.group(1), 1), 1)
    return rejected


def subject_of(patch_text: str) -> str:
    match = SUBJECT.search(patch_text)
    return match.group(1).strip() if match else "patch"


def survey(tree: QemuTree, patches_dir: Path, runner: Runner, base_rev: str | None) -> Survey:
    git = open_tree(tree, runner, STEP)
    check_clean(git, STEP)
    files = series_files(patches_dir)
    base = resolve_base(git, tree, TreeState.load(git.git_dir()), DEFAULT_BRANCH, base_rev)
    original = git.current_branch() or git.out("rev-parse", "HEAD")
    outcomes: list[PatchOutcome] = []
    git.run("checkout", "--quiet", "--detach", base)
    try:
        for index, patch in enumerate(files, 1):
            logger.info(f"rebase-check: [{index}/{len(files)}] {patch.name}")
            outcomes.append(land(git, patch))
    finally:
        git.run("am", "--abort", check=False)
        git.run("reset", "--quiet", "--hard", check=False)
        git.run("checkout", "--quiet", "--force", original, check=False)
    return Survey(tree.path, base, outcomes)


def land(git: Git, patch: Path) -> PatchOutcome:
    text = patch.read_text(encoding="utf-8", errors="surrogateescape")
    per_file = hunks_per_file(text)
    hunks = sum(per_file.values())
    if git.ok("apply", "--check", patch):
        git.run("am", "--keep-non-patch", patch)
        return PatchOutcome(patch.name, APPLIES, hunks)
    if git.run("am", "--3way", "--keep-non-patch", patch, check=False).returncode == 0:
        return PatchOutcome(patch.name, THREE_WAY, hunks)
    git.run("am", "--abort", check=False)
    proc = git.run("apply", "--reject", patch, check=False)
    rejected = rejected_per_file(proc.stdout + proc.stderr, per_file)
    # Stage and clean up only what the patch touched: the tree may hold the user's own
    # untracked files, which must neither go into the commit nor be removed.
    touched = sorted({path for m in FILE_HEADER.finditer(text) for path in m.groups()})
    for path in touched:
        (git.path / f"{path}.rej").unlink(missing_ok=True)
    present = [
        p for p in touched if (git.path / p).exists() or git.ok("ls-files", "--error-unmatch", p)
    ]
    if present:
        git.run("add", "--all", "--", *present)
    git.run("commit", "--quiet", "--allow-empty", "-m", f"{subject_of(text)} (partly applied)")
    return PatchOutcome(patch.name, CONFLICT, hunks, rejected or {"(whole patch)": hunks})


def render(result: Survey, source_label: str) -> str:
    width = max((len(o.name) for o in result.outcomes), default=10)
    lines = [f"rebase-check: patches/ on {source_label} (base {result.base[:12]})"]
    for o in result.outcomes:
        what = {APPLIES: "applies", THREE_WAY: "applies with a 3-way merge"}.get(o.status)
        if what is None:
            per_file = ", ".join(f"{name} ({n})" for name, n in sorted(o.rejected.items()))
            what = f"CONFLICT: {o.rejected_hunks} of {o.hunks} hunk(s) rejected: {per_file}"
        lines.append(f"  {o.name:<{width}}  {what}")
    conflicts = [o for o in result.outcomes if o.status == CONFLICT]
    if conflicts:
        lines.append(
            f"rebase-check: {len(conflicts)} of {len(result.outcomes)} patch(es) need a "
            f"rebase ({sum(o.rejected_hunks for o in conflicts)} hunk(s)); later patches "
            "were tried on top of the hunks that did apply"
        )
        lines.append(
            f"what to do: in {result.tree}, `git checkout --detach {result.base[:12]}`, "
            "`git am --3way` the series and resolve each conflict listed above"
        )
    else:
        lines.append(f"rebase-check: all {len(result.outcomes)} patch(es) apply")
    return "\n".join(lines)
