"""``vmfwupdate send`` and ``changelog`` on a real git repository, with the real b4: ``b4 prep``,
``b4 send --output-dir`` (a dry run) and ``b4 diff``.

The QEMU-like tree carries a ``.b4-config`` with QEMU's keys and small stand-ins for QEMU's
``scripts/get_maintainer.pl`` and ``scripts/checkpatch.pl`` that read the patch on stdin and
print in the formats b4 reads (the real ones need the whole QEMU tree); everything else (git,
format-patch, patch-id, am, b4) is real.
"""

from __future__ import annotations

import io
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo_helpers import git, make_checkout

from harness.cli import make_parser
from harness.errors import HarnessError
from harness.posting import changelog, results, send
from harness.posting import cli as posting_cli
from harness.runner import Runner
from harness.workdir import Workdir

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("perl") is None, reason="perl is needed for the tree's scripts"
)

# QEMU 10.2.2's .b4-config, with the same keys and arguments
B4_CONFIG = """[b4]
    send-series-to = devel@lists.example.invalid
    send-auto-to-cmd = echo
    send-auto-cc-cmd = scripts/get_maintainer.pl --noroles --norolestats --nogit --nogit-fallback
    prep-perpatch-check-cmd = scripts/checkpatch.pl -q --terse --no-summary --mailback -
"""

GET_MAINTAINER = r"""#!/usr/bin/perl
# like QEMU's get_maintainer.pl --noroles --norolestats on a patch on stdin: one address a
# line, from the MAINTAINERS of the tree it runs in (a title line, then M:, R:, F: lines)
my (@areas, $area);
open(my $m, "<", "MAINTAINERS") or die "no MAINTAINERS here";
while (<$m>) {
    chomp;
    if ($_ eq "") { undef $area; next; }
    if (!$area) { $area = {people => [], files => []}; push @areas, $area; next; }
    if (/^[MR]:\s*(.+)$/) { push @{$area->{people}}, $1; }
    elsif (/^F:\s*(\S+)$/) { push @{$area->{files}}, $1; }
}
my %seen;
while (<STDIN>) {
    next unless m{^\+\+\+ b/(\S+)};
    my $file = $1;
    for my $a (@areas) {
        next unless grep { index($file, $_) == 0 } @{$a->{files}};
        for my $who (@{$a->{people}}) { print "$who\n" unless $seen{$who}++; }
    }
}
"""

MAINTAINERS = """Misc devices
M: Mia Maintainer <mia@example.invalid>
R: Rob Reviewer <rob@example.invalid>
F: hw/misc/

Documentation
M: Doc Supporter <doc@example.invalid>
F: docs/
"""

CHECKPATCH = r"""#!/usr/bin/perl
# reports like QEMU's checkpatch.pl -q --terse --no-summary on a patch on stdin:
# trailing whitespace is an ERROR, a line over 80 columns a WARNING
my ($n, $bad) = (0, 0);
while (<STDIN>) {
    $n++;
    next unless /^\+[^+]/;
    chomp;
    if (/\s$/) { print "-:$n: ERROR: trailing whitespace\n"; $bad = 1; }
    if (length($_) > 81) { print "-:$n: WARNING: line over 80 characters\n"; $bad = 1; }
}
exit $bad;
"""

COVER_TEXT = "hw/misc: the frobnicator and its documentation"
SOB = "\n\nSigned-off-by: Ada Developer <ada@example.invalid>\n"

# The tree and the b4 worktree send leaves.
WORKTREES = 2
# The test series: two patches, so three messages with the cover letter.
PATCHES = 2
MESSAGES = PATCHES + 1


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user git configuration, an identity for git and b4, b4's cache per test."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for kind in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{kind}_NAME", "Sam Sender")
        monkeypatch.setenv(f"GIT_{kind}_EMAIL", "sam@example.invalid")


@pytest.fixture
def runner() -> Runner:
    return Runner(verbose=False, out=io.StringIO())


def make_tree(path: Path) -> Path:
    make_checkout(path)
    for name, text in (("get_maintainer.pl", GET_MAINTAINER), ("checkpatch.pl", CHECKPATCH)):
        script = path / "scripts" / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(text, encoding="utf-8")
        script.chmod(0o755)
    (path / "MAINTAINERS").write_text(MAINTAINERS, encoding="utf-8")
    (path / ".b4-config").write_text(B4_CONFIG, encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "scripts")
    return path


def commit(tree: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        git(tree, "add", name)
    git(tree, "commit", "-q", "-m", message)
    return git(tree, "rev-parse", "HEAD").strip()


def export(tree: Path, base: str, tip: str, out: Path, prefix: str) -> Path:
    git(
        tree,
        "-c",
        "diff.algorithm=histogram",
        "format-patch",
        "-q",
        "--zero-commit",
        "--cover-letter",
        f"--subject-prefix={prefix}",
        f"--base={base}",
        "-o",
        str(out),
        f"{base}..{tip}",
    )
    cover = out / "0000-cover-letter.patch"
    text = cover.read_text(encoding="utf-8")
    text = text.replace("*** SUBJECT HERE ***", COVER_TEXT).replace("*** BLURB HERE ***", "Hi.")
    cover.write_text(text, encoding="utf-8")
    return out


@pytest.fixture
def series(tmp_path: Path) -> tuple[Path, Path, str, list[str]]:
    """(tree, series dir, base, commits): two patches on the tree's base, exported; the
    second carries a Cc: trailer."""
    tree = make_tree(tmp_path / "qemu")
    base = git(tree, "rev-parse", "HEAD").strip()
    first = commit(tree, {"hw/misc/a.c": "int a0 = 1;\n"}, "hw/misc: frobnicate" + SOB)
    second = commit(
        tree,
        {"docs/frob.rst": "Frobnicator\n===========\n"},
        "docs: describe the frobnicator" + SOB + "Cc: Carl Contributor <carl@example.invalid>\n",
    )
    out = export(tree, base, second, tmp_path / "series", "PATCH v2")
    git(tree, "checkout", "-q", "--detach", base)  # the tree as fetched: the series not in it
    return tree, out, base, [first, second]


def record(tree: Path, base: str, commit_sha: str, status: str, results_file: Path) -> None:
    argv = ["record", "--tree", str(tree), "--base", base, "--commit", commit_sha]
    assert results.main([*argv, "--results", str(results_file), status]) == 0


@pytest.fixture
def smtp_listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on 127.0.0.1 that records every connection (and closes it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.1)
    connections: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            connections.append(f"{peer[0]}:{peer[1]}")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join(timeout=5)
    server.close()


def run_send(
    tree: Path, series_dir: Path, tmp_path: Path, runner: Runner, **kwargs: object
) -> list[send.Message]:
    return send.send(
        tree,
        series_dir,
        runner,
        outgoing=tmp_path / "outgoing",
        results_file=tmp_path / "results.json",
        branch="b4/test-series",
        worktree=tmp_path / "b4",
        **kwargs,  # type: ignore[arg-type]
    )


def test_dry_run_addresses_each_patch_and_connects_nowhere(
    series: tuple[Path, Path, str, list[str]],
    tmp_path: Path,
    runner: Runner,
    smtp_listener: tuple[int, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree, series_dir, base, commits = series
    for c in commits:
        record(tree, base, c, "ok", tmp_path / "results.json")
    port, connections = smtp_listener
    # the tree's own sendemail.* configuration: an SMTP server that is listening
    git(tree, "config", "sendemail.smtpServer", "127.0.0.1")
    git(tree, "config", "sendemail.smtpServerPort", str(port))
    messages = run_send(tree, series_dir, tmp_path, runner, cc=["extra@example.invalid"])
    assert [m.subject for m in messages] == [
        f"[PATCH v2 0/2] {COVER_TEXT}",
        "[PATCH v2 1/2] hw/misc: frobnicate",
        "[PATCH v2 2/2] docs: describe the frobnicator",
    ]
    cover, misc, docs = messages
    # To: send-series-to; Cc: get_maintainer.pl over every patch (b4 addresses the series
    # as a whole), --cc, the author; the Cc: trailer of patch 2 goes to it and the cover only
    everyone = {
        "Mia Maintainer <mia@example.invalid>",
        "Rob Reviewer <rob@example.invalid>",
        "Doc Supporter <doc@example.invalid>",
        "extra@example.invalid",
        "Ada Developer <ada@example.invalid>",
    }
    for message in messages:
        assert message.to == ("devel@lists.example.invalid",)
        assert everyone <= set(message.cc)
    carl = "Carl Contributor <carl@example.invalid>"
    assert carl in docs.cc
    assert carl in cover.cc
    assert carl not in misc.cc
    out = capsys.readouterr().out
    assert f"[PATCH v2 2/2] docs: describe the frobnicator\n  +Cc: {carl}\n" in out
    assert "would be sent (dry run: nothing was sent; --send sends)" in out
    assert connections == []  # the dry run did not connect to the configured server
    assert len(list((tmp_path / "outgoing").glob("*.eml"))) == MESSAGES
    said = runner.out.getvalue()  # type: ignore[attr-defined]
    assert "b4 prep --check (checkpatch.pl): 2 ok, 0 warning(s)" in said
    # the b4 branch and its worktree stay (b4 can be used there); the tree is untouched
    assert git(tmp_path / "b4", "branch", "--show-current").strip() == "b4/test-series"
    assert git(tree, "worktree", "list", "--porcelain").count("worktree ") == WORKTREES
    assert git(tree, "rev-parse", "HEAD").strip() == base
    # a second run reuses the worktree: the same messages, without the first run's --cc
    again = run_send(tree, series_dir, tmp_path, runner)
    assert [m.subject for m in again] == [m.subject for m in messages]
    assert "extra@example.invalid" not in again[1].cc
    assert git(tree, "worktree", "list", "--porcelain").count("worktree ") == WORKTREES

    # the same with --send does connect (so the check above can fail): b4 asks, the
    # answer is Enter, the listener closes the connection, b4 fails, and send says so
    with pytest.raises(HarnessError, match="b4 send failed"):
        run_send(tree, series_dir, tmp_path, runner, really=True, build_check=False, answer="\n")
    assert len(connections) == 1


def test_send_refuses_without_a_mail_transport(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, _base, _commits = series
    with pytest.raises(HarnessError, match="no mail transport configured"):
        run_send(tree, series_dir, tmp_path, runner, really=True, build_check=False)
    assert not (tmp_path / "outgoing").exists()


def test_checkpatch_error_refuses(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, _base, _commits = series
    patch = next(series_dir.glob("0001-*.patch"))
    patch.write_text(
        patch.read_text(encoding="utf-8").replace("+int a0 = 1;\n", "+int a0 = 1; \n"),
        encoding="utf-8",
    )
    with pytest.raises(HarnessError) as err:
        run_send(tree, series_dir, tmp_path, runner, build_check=False)
    assert "reports 1 error(s); nothing was sent" in err.value.problem
    assert "ERROR: trailing whitespace" in (err.value.details or "")
    assert not list((tmp_path / "outgoing").glob("*.eml"))


def test_builds_must_be_recorded_for_the_patches_as_they_are(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, base, commits = series
    results_file = tmp_path / "results.json"
    with pytest.raises(HarnessError, match="no build result for 2 patch"):
        run_send(tree, series_dir, tmp_path, runner)
    record(tree, base, commits[0], "ok", results_file)
    record(tree, base, commits[1], "failed", results_file)
    with pytest.raises(HarnessError) as err:
        run_send(tree, series_dir, tmp_path, runner)
    assert "1 patch(es) do not build: 0002-docs-describe-the-frobnicator.patch" in str(err.value)
    record(tree, base, commits[1], "ok", results_file)
    assert send.check_builds(
        base,
        sorted(series_dir.glob("000[1-9]-*.patch")),
        results_file,
        tree,
    ).startswith("send: every patch builds")
    # a changed first patch: neither it nor the one on top of it has a result any more
    patch = next(series_dir.glob("0001-*.patch"))
    patch.write_text(
        patch.read_text(encoding="utf-8").replace("+int a0 = 1;", "+int a0 = 2;"),
        encoding="utf-8",
    )
    with pytest.raises(HarnessError, match="no build result for 2 patch"):
        run_send(tree, series_dir, tmp_path, runner)


def test_maintainers_entries_the_series_adds_count_for_its_own_files(
    tmp_path: Path, runner: Runner
) -> None:
    """b4 runs get_maintainer.pl in the b4 branch, the tree after the whole series: a
    MAINTAINERS entry added by patch 1 addresses patch 2 too."""
    tree = make_tree(tmp_path / "qemu")
    base = git(tree, "rev-parse", "HEAD").strip()
    entry = "\nFrobnicator\nM: Fred Frob <fred@example.invalid>\nF: hw/frob/\n"
    commit(
        tree,
        {"hw/frob/frob.c": "int frob;\n", "MAINTAINERS": MAINTAINERS + entry},
        "hw/frob: add the frobnicator" + SOB,
    )
    second = commit(tree, {"hw/frob/frob.c": "int frob = 1;\n"}, "hw/frob: start at one" + SOB)
    series_dir = export(tree, base, second, tmp_path / "series", "PATCH v3")
    git(tree, "checkout", "-q", "--detach", base)
    messages = run_send(tree, series_dir, tmp_path, runner, build_check=False)
    assert all("Fred Frob <fred@example.invalid>" in m.cc for m in messages)
    assert [m.subject[:14] for m in messages] == [
        "[PATCH v3 0/2]",
        "[PATCH v3 1/2]",
        "[PATCH v3 2/2]",
    ]


def test_a_series_that_does_not_apply_on_its_base_is_refused(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, base, _commits = series
    other = commit(tree, {"hw/misc/a.c": "int a0 = 2;\n"}, "hw/misc: conflicting change")
    cover = series_dir / "0000-cover-letter.patch"
    text = cover.read_text(encoding="utf-8")
    cover.write_text(text.replace(f"base-commit: {base}", f"base-commit: {other}"), "utf-8")
    with pytest.raises(HarnessError, match="git am --quiet --3way") as error:
        run_send(tree, series_dir, tmp_path, runner, build_check=False)
    assert "the series must apply on its base-commit" in (error.value.hint or "")
    # the next run starts again from a clean worktree
    cover.write_text(text, "utf-8")
    assert len(run_send(tree, series_dir, tmp_path, runner, build_check=False)) == MESSAGES


def test_placeholder_cover_letter_is_refused(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, _base, _commits = series
    cover = series_dir / "0000-cover-letter.patch"
    cover.write_text(
        cover.read_text(encoding="utf-8").replace(COVER_TEXT, "*** SUBJECT HERE ***"),
        encoding="utf-8",
    )
    with pytest.raises(HarnessError, match="placeholder"):
        run_send(tree, series_dir, tmp_path, runner, build_check=False)


def test_cover_letter_gives_b4_its_text_revision_and_prefixes(tmp_path: Path) -> None:
    cover = tmp_path / "0000-cover-letter.patch"
    cover.write_text(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: Ada Developer <ada@example.invalid>\n"
        "Subject: [RFC PATCH v4 0/2] hw/misc: a subject long enough to be\n"
        " folded\n\nThe blurb.\n\nAda Developer (2):\n  one\n  two\n\n"
        " hw/misc/a.c | 1 +\n 1 file changed, 1 insertion(+)\n\nbase-commit: " + "a" * 40 + "\n",
        encoding="utf-8",
    )
    parsed = send.read_cover(cover, revision=9)
    assert parsed.text == "hw/misc: a subject long enough to be folded\n\nThe blurb.\n"
    assert (parsed.revision, parsed.prefixes) == (4, ("RFC",))
    unversioned = cover.read_text(encoding="utf-8").replace("RFC PATCH v4", "PATCH")
    cover.write_text(unversioned, encoding="utf-8")
    series_name_version = 6  # what --series v6 says when the subjects name no version
    assert send.read_cover(cover, series_name_version).revision == series_name_version


def test_send_command_line_checks_the_series_version(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, _base, _commits = series
    repo = tmp_path / "harness"
    shutil.copytree(series_dir, repo / "patches" / "v7")
    # the subjects say v2: --series v7 is refused rather than mailing v2 as v7
    args = make_parser().parse_args(
        ["send", "--qemu-src", str(tree), "--series", "v7", "--no-build-check"]
    )
    with pytest.raises(HarnessError, match=r"--series v7, but the patches in .* are \[PATCH v2"):
        posting_cli.dispatch(args, Workdir(repo, "v7"), runner)


# --- changelog --------------------------------------------------------------------------


def two_versions(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(tree, v1 dir, v2 dir): v2 changes patch 1's code and message, drops patch 2 and
    adds a new patch."""
    tree = make_tree(tmp_path / "qemu")
    base = git(tree, "rev-parse", "HEAD").strip()
    commit(tree, {"hw/misc/a.c": "int a0 = 1;\n"}, "hw/misc: frobnicate" + SOB)
    commit(tree, {"docs/frob.rst": "Frob\n"}, "docs: describe the frobnicator" + SOB)
    commit(tree, {"hw/misc/b.c": "int b0 = 0;\n"}, "hw/misc: count frobs" + SOB)
    v1 = export(tree, base, "HEAD", tmp_path / "v1", "PATCH v1")
    git(tree, "checkout", "-q", "-b", "v2", base)
    commit(
        tree, {"hw/misc/a.c": "int a0 = 2;\n"}, "hw/misc: frobnicate\n\nNow with two frobs." + SOB
    )
    commit(tree, {"hw/misc/b.c": "int b0 = 0;\n"}, "hw/misc: count frobs" + SOB)
    commit(tree, {"hw/misc/c.c": "int c0;\n"}, "hw/misc: unfrobnicate" + SOB)
    v2 = export(tree, base, "HEAD", tmp_path / "v2", "PATCH v2")
    git(tree, "checkout", "-q", "master")
    return tree, v1, v2


def test_changelog_of_two_series_directories(tmp_path: Path, runner: Runner) -> None:
    tree, v1, v2 = two_versions(tmp_path)
    head = git(tree, "rev-parse", "HEAD")
    text, raw = changelog.changelog(
        tree, changelog.load_version("v1", v1), changelog.load_version("v2", v2), runner
    )
    assert "hw/misc: frobnicate" in raw
    assert text.splitlines() == [
        "Changes in v2:",
        "- 1/3 hw/misc: frobnicate: commit message; hw/misc/a.c (range-diff +3/-1)",
        "- dropped: docs: describe the frobnicator (was 2/3)",
        "- new: 3/3 hw/misc: unfrobnicate",
        "- unchanged: patch 2",
    ]
    assert git(tree, "rev-parse", "HEAD") == head  # the tree was not touched
    assert git(tree, "status", "--porcelain") == ""
    assert git(tree, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_changelog_command_takes_series_names(tmp_path: Path, runner: Runner) -> None:
    tree, v1, v2 = two_versions(tmp_path)
    repo = tmp_path / "harness"
    shutil.copytree(v1, repo / "patches" / "v6")
    shutil.copytree(v2, repo / "patches" / "v7")
    workdir = Workdir(repo, "v7")
    args = make_parser().parse_args(["changelog", "--qemu-src", str(tree), "--version", "5"])
    old, new = (posting_cli.version_of(s, workdir) for s in ("v6", "v7"))
    assert (old.files[0].parent, new.files[0].parent) == (repo / "patches/v6", repo / "patches/v7")
    assert posting_cli.dispatch(args, workdir, runner) == 0
    args = make_parser().parse_args(["changelog", "--qemu-src", str(tree), "v6"])
    with pytest.raises(HarnessError, match="give both OLD and NEW"):
        posting_cli.dispatch(args, workdir, runner)


def test_patch_ids_of_files_and_commits_give_the_same_keys(
    series: tuple[Path, Path, str, list[str]],
) -> None:
    tree, series_dir, base, commits = series
    files = sorted(series_dir.glob("000[1-9]-*.patch"))
    assert results.base_of_series(series_dir / "0000-cover-letter.patch") == base
    keys = results.keys_for_files(base, files, tree)
    assert keys == [results.key_for_commit(tree, base, c) for c in commits]
    assert len(set(keys)) == PATCHES


def test_build_option_runs_bisect_build_and_reads_its_series_results(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    """--build runs the checkout's ci/bisect-build (with QEMU_SRC = the tree), which records
    into the series' own .work/<series>/logs/ (here one that records without compiling);
    send for v7 does not see v6's results."""
    tree, series_dir, base, commits = series
    repo = tmp_path / "harness"
    v6 = Workdir(repo, "v6")
    script = repo / "ci" / "bisect-build"
    script.parent.mkdir(parents=True)
    script.write_text(
        "set -e\n"
        f"for c in {' '.join(commits)}; do\n"
        f"  PYTHONPATH={REPO} {sys.executable} -m harness.posting.results record "
        f'--tree "$QEMU_SRC" --base {base} --commit "$c" --results {v6.build_results} ok\n'
        "done\n",
        encoding="utf-8",
    )
    args = make_parser().parse_args(
        ["send", "--qemu-src", str(tree), "--patches", str(series_dir), "--build"]
    )
    assert posting_cli.dispatch(args, v6, runner) == 0
    said = runner.out.getvalue()  # type: ignore[attr-defined]
    assert f"results of ci/bisect-build in {v6.build_results}" in said
    assert len(results.Results(v6.build_results).builds) == PATCHES
    assert (repo / ".work" / "outgoing" / "series").is_dir()
    args = make_parser().parse_args(["send", "--qemu-src", str(tree), "--patches", str(series_dir)])
    with pytest.raises(HarnessError, match=r"no build result for 2 patch\(es\)"):
        posting_cli.dispatch(args, Workdir(repo, "v7"), runner)
