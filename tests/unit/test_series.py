"""apply / export on real git repositories: idempotence, re-apply, conflicts, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo_helpers import SERIES_PATCHES, commit_file, git, make_checkout, make_series, snapshot

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree import export, series
from harness.tree.source import QemuTree, prepare
from harness.workdir import Workdir


def head_state(tree: QemuTree) -> tuple[str, str, str]:
    return (
        git(tree.path, "rev-parse", "HEAD"),
        git(tree.path, "branch", "--list", "--format=%(refname:short) %(objectname)"),
        git(tree.path, "status", "--porcelain"),
    )


def test_apply_puts_series_on_branch(owned_tree: QemuTree, workdir: Workdir, runner: Runner):
    make_series(owned_tree, workdir.patches)
    result = series.apply(owned_tree, workdir.patches, runner)
    assert result.action == "applied" and result.patches == SERIES_PATCHES
    repo = owned_tree.path
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "vmfwupdate"
    subjects = git(repo, "log", "--format=%s", f"{owned_tree.base}..HEAD").splitlines()
    assert subjects == [
        "hw/misc: rename b.c to c.c",
        "hw/misc: teach b.c to count",
        "hw/misc: add the frobnicator",
    ]
    body = git(repo, "log", "-1", "--format=%B", "HEAD~2")
    assert body.endswith(
        "Signed-off-by: Ada Developer <ada@example.invalid>\n"
        "Reviewed-by: Bob Reviewer <bob@example.invalid>\n\n"
    )
    assert git(repo, "log", "-1", "--format=%an %aI", "HEAD~2").strip() == (
        "Ada Developer 2026-01-02T03:04:05+01:00"
    )
    assert (repo / "hw/misc/c.c").is_file() and not (repo / "hw/misc/b.c").exists()


def test_apply_twice_is_a_no_op(owned_tree: QemuTree, workdir: Workdir, runner: Runner):
    make_series(owned_tree, workdir.patches)
    first = series.apply(owned_tree, workdir.patches, runner)
    reflog = git(owned_tree.path, "reflog", "--format=%H")
    second = series.apply(owned_tree, workdir.patches, runner)
    assert second.action == "unchanged" and second.tip == first.tip
    assert git(owned_tree.path, "reflog", "--format=%H") == reflog


def test_changed_patch_is_reapplied_from_base(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
):
    make_series(owned_tree, workdir.patches)
    first = series.apply(owned_tree, workdir.patches, runner)
    patch = next(workdir.patches.glob("0001-*.patch"))
    patch.write_text(patch.read_text().replace("return 1;", "return 2;"))
    second = series.apply(owned_tree, workdir.patches, runner)
    assert second.action == "applied" and second.tip != first.tip
    assert "return 2;" in (owned_tree.path / "hw/misc/new.c").read_text()
    count = git(owned_tree.path, "rev-list", "--count", f"{owned_tree.base}..vmfwupdate")
    assert count.strip() == "3"


def test_conflict_is_reported_and_tree_left_as_it_was(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
):
    make_series(owned_tree, workdir.patches)
    series.apply(owned_tree, workdir.patches, runner)
    before = head_state(owned_tree)
    patch = next(workdir.patches.glob("0002-*.patch"))
    # make the context of the a.c hunk impossible to find, even with --3way
    text = patch.read_text().replace(" int a6 = 6;", " int a6 = 666;")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("index ")) + "\n"
    patch.write_text(text)
    with pytest.raises(HarnessError) as info:
        series.apply(owned_tree, workdir.patches, runner)
    err = info.value
    rendered = err.render()
    assert patch.name in err.problem
    assert "hw/misc/a.c" in rendered
    assert "not tried: 0003-" in rendered
    assert "what to do:" in rendered
    assert err.path == patch
    assert head_state(owned_tree) == before
    assert not (owned_tree.path / ".git" / "rebase-apply").exists()


def test_dirty_tree_refused(owned_tree: QemuTree, workdir: Workdir, runner: Runner):
    make_series(owned_tree, workdir.patches)
    (owned_tree.path / "hw/misc/a.c").write_text("changed\n")
    with pytest.raises(HarnessError) as info:
        series.apply(owned_tree, workdir.patches, runner)
    assert "uncommitted changes" in info.value.problem
    assert "hw/misc/a.c" in (info.value.details or "")
    assert (owned_tree.path / "hw/misc/a.c").read_text() == "changed\n"
    assert git(owned_tree.path, "branch", "--list", "vmfwupdate") == ""


def test_export_round_trip_is_byte_identical(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
):
    make_series(owned_tree, workdir.patches)
    before = snapshot(workdir.patches)
    series.apply(owned_tree, workdir.patches, runner)
    result = export.export(owned_tree, workdir.patches, runner)
    assert result.written == [] and result.removed == []
    assert snapshot(workdir.patches) == before
    assert b"v3: count from one\n\n hw/misc/a.c" in next(
        v for k, v in before.items() if k.startswith("0002-")
    )
    # and apply after export is still a no-op
    assert series.apply(owned_tree, workdir.patches, runner).action == "unchanged"


def test_export_writes_edits_made_in_the_tree(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
):
    make_series(owned_tree, workdir.patches)
    cover_before = (workdir.patches / "0000-cover-letter.patch").read_text()
    series.apply(owned_tree, workdir.patches, runner)
    commit_file(
        owned_tree.path,
        "hw/misc/d.c",
        "int d;\n",
        "hw/misc: add d.c\n\nSigned-off-by: Ada Developer <ada@example.invalid>\n",
        "2026-02-01T00:00:00Z",
    )
    # apply keeps unexported local commits instead of resetting the branch
    assert series.apply(owned_tree, workdir.patches, runner).action == "kept local commits"
    result = export.export(owned_tree, workdir.patches, runner)
    assert "0004-hw-misc-add-d.c.patch" in result.written
    cover = (workdir.patches / "0000-cover-letter.patch").read_text()
    assert "Subject: [PATCH v3 0/4] Add the frobnicator device" in cover
    assert "Changes in v3:\n- count from one\n  (indented continuation)\n" in cover
    assert "hw/misc: add d.c" in cover and "base-commit: " + str(owned_tree.base) in cover
    assert cover.splitlines()[1:3] == cover_before.splitlines()[1:3]  # From:, Date: kept
    patch4 = (workdir.patches / "0004-hw-misc-add-d.c.patch").read_text()
    assert patch4.startswith("From 0000000000000000000000000000000000000000 ")
    assert "Subject: [PATCH v3 4/4] hw/misc: add d.c" in patch4
    assert series.apply(owned_tree, workdir.patches, runner).action == "unchanged"


def test_export_removes_dropped_patches(owned_tree: QemuTree, workdir: Workdir, runner: Runner):
    make_series(owned_tree, workdir.patches)
    series.apply(owned_tree, workdir.patches, runner)
    git(owned_tree.path, "reset", "-q", "--hard", "HEAD~1")
    result = export.export(owned_tree, workdir.patches, runner)
    assert [n for n in result.removed if n.startswith("0003-")]
    assert not list(workdir.patches.glob("0003-*.patch"))


def test_changed_patches_and_local_commits_refused(
    owned_tree: QemuTree, workdir: Workdir, runner: Runner
):
    make_series(owned_tree, workdir.patches)
    series.apply(owned_tree, workdir.patches, runner)
    commit_file(owned_tree.path, "x.c", "x\n", "local work", "2026-02-01T00:00:00Z")
    tip = git(owned_tree.path, "rev-parse", "vmfwupdate")
    patch = next(workdir.patches.glob("0001-*.patch"))
    patch.write_text(patch.read_text().replace("return 1;", "return 3;"))
    with pytest.raises(HarnessError) as info:
        series.apply(owned_tree, workdir.patches, runner)
    assert "--force" in (info.value.hint or "") and "export" in (info.value.hint or "")
    assert git(owned_tree.path, "rev-parse", "vmfwupdate") == tip
    forced = series.apply(owned_tree, workdir.patches, runner, force=True)
    assert forced.action == "applied"
    assert "return 3;" in (owned_tree.path / "hw/misc/new.c").read_text()


def test_own_checkout_branch_never_reset_without_force(
    workdir: Workdir, runner: Runner, tmp_path: Path, owned_tree: QemuTree
):
    make_series(owned_tree, workdir.patches)
    checkout = make_checkout(tmp_path / "my-qemu")
    git(checkout, "checkout", "-q", "-b", "vmfwupdate")
    commit_file(checkout, "mine.c", "mine\n", "my own work", "2026-02-01T00:00:00Z")
    mine = git(checkout, "rev-parse", "vmfwupdate")
    git(checkout, "checkout", "-q", "master")
    tree = prepare(str(checkout), workdir, runner)
    with pytest.raises(HarnessError, match="did not make"):
        series.apply(tree, workdir.patches, runner)
    assert git(checkout, "rev-parse", "vmfwupdate") == mine
    # a new branch on the developer's HEAD works, and round-trips
    before = snapshot(workdir.patches)
    result = series.apply(tree, workdir.patches, runner, branch="vmfwupdate-v3")
    assert result.base == git(checkout, "rev-parse", "master").strip()
    assert git(checkout, "rev-parse", "vmfwupdate") == mine
    export.export(tree, workdir.patches, runner, branch="vmfwupdate-v3")
    after = snapshot(workdir.patches)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == ["0000-cover-letter.patch"]  # only base-commit differs: another base
    assert b"base-commit: " + result.base.encode() in after["0000-cover-letter.patch"]


def test_series_file_sets_order(owned_tree: QemuTree, workdir: Workdir, runner: Runner):
    make_series(owned_tree, workdir.patches)
    names = sorted(p.name for p in workdir.patches.glob("000[1-3]-*.patch"))
    listed = names[:2]
    (workdir.patches / "series").write_text("# order\n" + "\n".join(listed) + "\n")
    result = series.apply(owned_tree, workdir.patches, runner)
    assert result.patches == len(listed)
    (workdir.patches / "series").write_text("missing.patch\n")
    with pytest.raises(HarnessError, match="missing file"):
        series.apply(owned_tree, workdir.patches, runner)


def test_three_way_conflict_on_own_checkout_is_aborted_cleanly(
    workdir: Workdir, runner: Runner, tmp_path: Path, owned_tree: QemuTree
):
    make_series(owned_tree, workdir.patches)
    checkout = make_checkout(tmp_path / "my-qemu")
    a_text = (checkout / "hw/misc/a.c").read_text().replace("a7 = 7", "a7 = 77")
    commit_file(checkout, "hw/misc/a.c", a_text, "upstream fix", "2026-02-01T00:00:00Z")
    head = git(checkout, "rev-parse", "HEAD")
    tree = prepare(str(checkout), workdir, runner)
    with pytest.raises(HarnessError) as info:
        series.apply(tree, workdir.patches, runner)
    details = info.value.details or ""
    assert "0002-hw-misc-teach-b.c-to-count.patch (2 of 3)" in details
    assert "CONFLICT (content): Merge conflict in hw/misc/a.c" in details
    assert git(checkout, "rev-parse", "HEAD") == head
    assert git(checkout, "symbolic-ref", "--short", "HEAD").strip() == "master"
    assert git(checkout, "status", "--porcelain") == ""
    assert git(checkout, "branch", "--list", "vmfwupdate") == ""
    assert "a7 = 77;" in (checkout / "hw/misc/a.c").read_text()
