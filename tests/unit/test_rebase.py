"""rebase-check on real git repositories: every patch gets an outcome, the tree is restored."""

from __future__ import annotations

from repo_helpers import commit_file, git, make_series

from harness.runner import Runner
from harness.tree import rebase
from harness.tree.rebase import APPLIES, CONFLICT, hunks_per_file, rejected_per_file
from harness.tree.source import QemuTree
from harness.workdir import Workdir


def tree_state(tree: QemuTree) -> tuple[str, str, str]:
    return (
        git(tree.path, "rev-parse", "HEAD"),
        git(tree.path, "branch", "--list", "--format=%(refname:short) %(objectname)"),
        git(tree.path, "status", "--porcelain", "--untracked-files=all"),
    )


def test_every_patch_applies(owned_tree: QemuTree, workdir: Workdir, runner: Runner):
    make_series(owned_tree, workdir.patches)
    before = tree_state(owned_tree)
    result = rebase.survey(owned_tree, workdir.patches, runner, None)
    assert [o.status for o in result.outcomes] == [APPLIES] * 3
    assert result.clean
    assert tree_state(owned_tree) == before
    assert "all 3 patch(es) apply" in rebase.render(result, "test")


def test_conflict_is_counted_and_later_patches_still_tried(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
):
    make_series(owned_tree, workdir.patches)
    # another base: the line patch 0002 changes is different there
    a_text = (owned_tree.path / "hw/misc/a.c").read_text().replace("a7 = 7", "a7 = 77")
    commit_file(owned_tree.path, "hw/misc/a.c", a_text, "other base", "2026-02-01T00:00:00+0000")
    other = git(owned_tree.path, "rev-parse", "HEAD").strip()
    # the developer's own untracked file: not committed by the survey, not removed
    notes = owned_tree.path / "hw/misc/my-notes.txt"
    notes.write_text("mine\n")
    before = tree_state(owned_tree)

    result = rebase.survey(owned_tree, workdir.patches, runner, other)

    first, second, third = result.outcomes
    assert first.status == APPLIES
    assert second.status == CONFLICT and second.rejected == {"hw/misc/a.c": 1}
    assert third.status == APPLIES  # the rename does not depend on 0002
    assert not result.clean
    assert tree_state(owned_tree) == before  # no branch, no .rej file, same HEAD
    assert notes.read_text() == "mine\n"
    text = rebase.render(result, "test")
    assert "CONFLICT: 1 of 1 hunk(s) rejected: hw/misc/a.c (1)" in text
    assert "1 of 3 patch(es) need a rebase" in text


def test_rejected_per_file_parses_git_apply_output():
    output = (
        "Checking patch hw/nvram/fw_cfg.c...\n"
        "error: while searching for:\n"
        "Checking patch tests/functional/x86_64/meson.build...\n"
        "error: tests/functional/x86_64/meson.build: No such file or directory\n"
        "Applying patch hw/nvram/fw_cfg.c with 1 reject...\n"
        "Rejected hunk #1.\n"
        "Applying patch include/hw/nvram/fw_cfg.h cleanly.\n"
        "Applying patch tests/meson.build with 2 rejects...\n"
    )
    hunks = {"hw/nvram/fw_cfg.c": 3, "tests/functional/x86_64/meson.build": 2}
    assert rejected_per_file(output, hunks) == {
        "hw/nvram/fw_cfg.c": 1,
        "tests/meson.build": 2,
        "tests/functional/x86_64/meson.build": 2,
    }


def test_hunks_per_file_counts_each_file_of_a_patch():
    patch = (
        "Subject: [PATCH 1/2] x\n\n---\n"
        "diff --git a/a.c b/a.c\nindex 1..2 100644\n--- a/a.c\n+++ b/a.c\n"
        "@@ -1,3 +1,3 @@\n-x\n+y\n@@ -9,3 +9,3 @@\n-x\n+y\n"
        "diff --git a/b.c b/b.c\nnew file mode 100644\n--- /dev/null\n+++ b/b.c\n"
        "@@ -0,0 +1 @@\n+z\n"
    )
    assert hunks_per_file(patch) == {"a.c": 2, "b.c": 1}
