"""``vmfwupdate send`` and ``changelog`` on a real git repository, with real
``git send-email --dry-run`` and ``git range-diff``.

The QEMU-like tree carries small stand-ins for QEMU's ``scripts/get_maintainer.pl`` and
``scripts/checkpatch.pl`` that print in the same formats (the real ones need the whole QEMU
tree); everything else (git, format-patch, patch-id, am, range-diff, send-email) is real.
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
from harness.posting import changelog, maintainers, results, send
from harness.posting import cli as posting_cli
from harness.runner import Runner
from harness.workdir import Workdir

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("perl") is None, reason="perl is needed for the tree's scripts"
)

GET_MAINTAINER = r"""#!/usr/bin/perl
# prints like QEMU's get_maintainer.pl: one address a line with its roles, from the
# MAINTAINERS of the tree it runs in (sections: a title line, then M:, R:, S:, F: lines)
my (@areas, $area);
open(my $m, "<", "MAINTAINERS") or die "no MAINTAINERS here";
while (<$m>) {
    chomp;
    if ($_ eq "") { undef $area; next; }
    if (!$area) {
        $area = {title => $_, people => [], files => [], status => ""};
        push @areas, $area;
        next;
    }
    if (/^([MR]):\s*(.+)$/) { push @{$area->{people}}, [$1, $2]; }
    elsif (/^S:\s*(.+)$/) { $area->{status} = $1; }
    elsif (/^F:\s*(\S+)$/) { push @{$area->{files}}, $1; }
}
my %seen;
open(my $fh, "<", $ARGV[0]) or die "cannot open $ARGV[0]";
while (<$fh>) {
    next unless m{^\+\+\+ b/(\S+)};
    my $file = $1;
    for my $a (@areas) {
        next unless grep { index($file, $_) == 0 } @{$a->{files}};
        for my $p (@{$a->{people}}) {
            my ($kind, $who) = @$p;
            my $role = $kind eq "R" ? "reviewer"
                     : $a->{status} eq "Supported" ? "supporter" : "maintainer";
            my $line = "$who ($role:$a->{title})";
            print "$line\n" unless $seen{$line}++;
        }
    }
}
print "devel\@lists.example.invalid (open list:All patches CC here)\n";
"""

MAINTAINERS = """Misc devices
M: Mia Maintainer <mia@example.invalid>
R: Rob Reviewer <rob@example.invalid>
S: Maintained
F: hw/misc/

Documentation
M: Doc Supporter <doc@example.invalid>
R: Mia Maintainer <mia@example.invalid>
S: Supported
F: docs/
"""

CHECKPATCH = r"""#!/usr/bin/perl
# reports like QEMU's checkpatch.pl --terse: trailing whitespace is an ERROR,
# a line over 80 columns a WARNING; exit 1 on either
my $file = $ARGV[-1];
my ($errors, $warnings, $n) = (0, 0, 0);
open(my $fh, "<", $file) or die "cannot open $file";
while (<$fh>) {
    $n++;
    next unless /^\+[^+]/;
    chomp;
    if (/\s$/) { print "$file:$n: ERROR: trailing whitespace\n"; $errors++; }
    if (length($_) > 81) { print "$file:$n: WARNING: line over 80 characters\n"; $warnings++; }
}
print "total: $errors errors, $warnings warnings, $n lines checked\n" if $errors || $warnings;
exit(($errors || $warnings) ? 1 : 0);
"""

COVER_TEXT = "hw/misc: the frobnicator and its documentation"

# The test series: two patches, so three messages with the cover letter.
PATCHES = 2
MESSAGES = PATCHES + 1


@pytest.fixture(autouse=True)
def no_user_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def runner() -> Runner:
    return Runner(verbose=False, out=io.StringIO())


def make_tree(path: Path) -> Path:
    make_checkout(path)
    for name, text in (("get_maintainer.pl", GET_MAINTAINER), ("checkpatch.pl", CHECKPATCH)):
        script = path / "scripts" / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(text, encoding="utf-8")
    (path / "MAINTAINERS").write_text(MAINTAINERS, encoding="utf-8")
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
    """(tree, series dir, base, commits): two patches on the tree's base, exported."""
    tree = make_tree(tmp_path / "qemu")
    base = git(tree, "rev-parse", "HEAD").strip()
    first = commit(
        tree,
        {"hw/misc/a.c": "int a0 = 1;\n"},
        "hw/misc: frobnicate\n\nSigned-off-by: Ada Developer <ada@example.invalid>\n",
    )
    second = commit(
        tree,
        {"docs/frob.rst": "Frobnicator\n===========\n"},
        "docs: describe the frobnicator\n\nSigned-off-by: Ada Developer <ada@example.invalid>\n",
    )
    out = export(tree, base, second, tmp_path / "series", "PATCH v2")
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
    # the tree's own sendemail.* configuration applies: an SMTP server that is listening
    git(tree, "config", "sendemail.smtpServer", "127.0.0.1")
    git(tree, "config", "sendemail.smtpServerPort", str(port))
    messages = run_send(tree, series_dir, tmp_path, runner, cc=["extra@example.invalid"])
    assert [m.subject for m in messages] == [
        f"[PATCH v2 0/2] {COVER_TEXT}",
        "[PATCH v2 1/2] hw/misc: frobnicate",
        "[PATCH v2 2/2] docs: describe the frobnicator",
    ]
    cover, misc, docs = messages
    assert misc.to == ["Mia Maintainer <mia@example.invalid>"]
    # git send-email itself adds the author (From: and Signed-off-by:) to Cc
    assert "Ada Developer <ada@example.invalid>" in misc.cc
    assert [a for a in misc.cc if "ada@" not in a] == [
        "Rob Reviewer <rob@example.invalid>",
        "devel@lists.example.invalid",
        "extra@example.invalid",
    ]
    # Mia reviews docs (Cc) but maintains hw/misc (To): on the cover letter she is To
    assert docs.to == ["Doc Supporter <doc@example.invalid>"]
    assert "Mia Maintainer <mia@example.invalid>" in docs.cc
    assert cover.to == [
        "Mia Maintainer <mia@example.invalid>",
        "Doc Supporter <doc@example.invalid>",
    ]
    assert set(cover.cc) >= {
        "Rob Reviewer <rob@example.invalid>",
        "devel@lists.example.invalid",
        "extra@example.invalid",
    }
    assert all(m.ok for m in messages)
    out = capsys.readouterr().out
    assert "[PATCH v2 1/2] hw/misc: frobnicate\n  To: Mia Maintainer <mia@example.invalid>\n" in out
    assert "would be sent (dry run: nothing was sent; --send sends)" in out
    assert connections == []  # --dry-run did not connect to the configured server
    written = (tmp_path / "outgoing" / misc_name(series_dir)).read_text(encoding="utf-8")
    assert "To: Mia Maintainer <mia@example.invalid>\nCc: Rob Reviewer" in written

    # the same with --send does connect (so the check above can fail): the listener
    # closes the connection, git send-email fails, and send says so
    with pytest.raises(HarnessError, match="git send-email failed"):
        run_send(tree, series_dir, tmp_path, runner, really=True)
    assert len(connections) == 1


def misc_name(series_dir: Path) -> str:
    return next(p.name for p in series_dir.glob("0001-*.patch"))


def test_checkpatch_error_refuses_before_anything_is_prepared(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, base, commits = series
    for c in commits:
        record(tree, base, c, "ok", tmp_path / "results.json")
    patch = series_dir / misc_name(series_dir)
    patch.write_text(
        patch.read_text(encoding="utf-8").replace("+int a0 = 1;\n", "+int a0 = 1; \n"),
        encoding="utf-8",
    )
    with pytest.raises(HarnessError) as err:
        run_send(tree, series_dir, tmp_path, runner)
    assert "checkpatch reports errors in 1 patch(es)" in err.value.problem
    assert f"{patch.name}:\n  " in (err.value.details or "")
    assert "ERROR: trailing whitespace" in (err.value.details or "")
    assert not (tmp_path / "outgoing").exists()


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
    assert len(run_send(tree, series_dir, tmp_path, runner)) == MESSAGES
    # a changed first patch: neither it nor the one on top of it has a result any more
    patch = series_dir / misc_name(series_dir)
    patch.write_text(
        patch.read_text(encoding="utf-8").replace("+int a0 = 1;", "+int a0 = 2;"),
        encoding="utf-8",
    )
    with pytest.raises(HarnessError, match="no build result for 2 patch"):
        run_send(tree, series_dir, tmp_path, runner)
    # --no-build-check goes on, and says so
    assert len(run_send(tree, series_dir, tmp_path, runner, build_check=False)) == MESSAGES
    assert "--no-build-check: not checked" in runner.out.getvalue()  # type: ignore[attr-defined]


def test_maintainers_entries_the_series_adds_count_for_its_own_files(
    tmp_path: Path, runner: Runner
) -> None:
    """get_maintainer.pl runs in the tree after the whole series: a MAINTAINERS entry added
    by patch 1 addresses patch 2, which touches only the new files."""
    tree = make_tree(tmp_path / "qemu")
    base = git(tree, "rev-parse", "HEAD").strip()
    entry = "\nFrobnicator\nM: Fred Frob <fred@example.invalid>\nS: Maintained\nF: hw/frob/\n"
    first = commit(
        tree,
        {"hw/frob/frob.c": "int frob;\n", "MAINTAINERS": MAINTAINERS + entry},
        "hw/frob: add the frobnicator\n\nSigned-off-by: Ada Developer <ada@example.invalid>\n",
    )
    second = commit(
        tree,
        {"hw/frob/frob.c": "int frob = 1;\n"},
        "hw/frob: start at one\n\nSigned-off-by: Ada Developer <ada@example.invalid>\n",
    )
    series_dir = export(tree, base, second, tmp_path / "series", "PATCH v3")
    git(tree, "checkout", "-q", "--detach", base)  # the tree as fetched: the series not in it
    for c in (first, second):
        record(tree, base, c, "ok", tmp_path / "results.json")
    _cover, add, follow_up = run_send(tree, series_dir, tmp_path, runner)
    assert add.to == ["Fred Frob <fred@example.invalid>"]
    assert follow_up.to == ["Fred Frob <fred@example.invalid>"]
    # the scratch worktree is gone, the tree is untouched
    assert git(tree, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(tree, "status", "--porcelain") == ""
    assert git(tree, "rev-parse", "HEAD").strip() == base


def test_a_series_that_does_not_apply_on_its_base_is_refused(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    tree, series_dir, base, _commits = series
    other = commit(tree, {"hw/misc/a.c": "int a0 = 2;\n"}, "hw/misc: conflicting change")
    cover = series_dir / "0000-cover-letter.patch"
    text = cover.read_text(encoding="utf-8")
    cover.write_text(text.replace(f"base-commit: {base}", f"base-commit: {other}"), "utf-8")
    with pytest.raises(HarnessError, match="does not apply on the series' base") as error:
        send.send(
            tree,
            series_dir,
            runner,
            outgoing=tmp_path / "outgoing",
            results_file=tmp_path / "results.json",
            build_check=False,
        )
    assert misc_name(series_dir) in str(error.value)
    assert git(tree, "worktree", "list", "--porcelain").count("worktree ") == 1


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


def test_get_maintainer_output_is_split_into_to_and_cc() -> None:
    output = """Paolo Bonzini <pbonzini@redhat.com> (maintainer:Kconfig)
"Michael S. Tsirkin" <mst@redhat.com> (supporter:PC)
Gerd Hoffmann <kraxel@redhat.com> (reviewer:Firmware configur...)
Some One <one@example.invalid> (odd fixer:Thing,reviewer:Other)
Paolo Bonzini <PBONZINI@redhat.com> (reviewer:Other area)
qemu-devel@nongnu.org (open list:All patches CC here)
plain@example.invalid
"""
    r = maintainers.parse(output)
    assert r.to == [
        "Paolo Bonzini <pbonzini@redhat.com>",
        '"Michael S. Tsirkin" <mst@redhat.com>',
        "Some One <one@example.invalid>",
    ]
    assert r.cc == [
        "Gerd Hoffmann <kraxel@redhat.com>",
        "qemu-devel@nongnu.org",
        "plain@example.invalid",
    ]
    orphan = maintainers.parse(
        "Ann Author <ann@example.invalid> (commit_signer:1/1=100%)\n"
        "qemu-devel@nongnu.org (open list:All patches CC here)\n"
    )
    assert orphan.to == ["qemu-devel@nongnu.org"]  # no maintainer: To: the list
    assert orphan.cc == ["Ann Author <ann@example.invalid>"]
    later = maintainers.parse("Gerd Hoffmann <kraxel@redhat.com> (maintainer:X)\n")
    union = maintainers.union([r, later])
    assert "Gerd Hoffmann <kraxel@redhat.com>" in union.to
    assert "Gerd Hoffmann <kraxel@redhat.com>" not in union.cc


def test_send_command_line_uses_the_series_directory(
    series: tuple[Path, Path, str, list[str]],
    tmp_path: Path,
    runner: Runner,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree, series_dir, _base, _commits = series
    repo = tmp_path / "harness"
    v7_dir = repo / "patches" / "v7"
    shutil.copytree(series_dir, v7_dir)
    git(tree, "config", "sendemail.smtpServer", "smtp.invalid")
    # the subjects say v2: --series v7 is refused rather than mailing v2 as v7
    args = make_parser().parse_args(
        ["send", "--qemu-src", str(tree), "--series", "v7", "--no-build-check"]
    )
    with pytest.raises(HarnessError, match=r"--series v7, but the patches in .* are \[PATCH v2"):
        posting_cli.dispatch(args, Workdir(repo, "v7"), runner)
    # --patches names the directory, taken as it is
    args = make_parser().parse_args(
        ["send", "--qemu-src", str(tree), "--patches", str(v7_dir), "--no-build-check"]
    )
    assert posting_cli.dispatch(args, Workdir(repo, "v7"), runner) == 0
    assert f"{MESSAGES} message(s) to" in capsys.readouterr().out
    assert (repo / ".work" / "outgoing" / "v7" / "0000-cover-letter.patch").is_file()
    # patches/<series>/ is the series directory
    assert posting_cli.default_series_dir(Workdir(repo), "v6") == repo / "patches" / "v6"
    assert posting_cli.default_series_dir(Workdir(repo, "v7"), None) == v7_dir


# --- changelog --------------------------------------------------------------------------


def two_versions(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(tree, v1 dir, v2 dir): v2 changes patch 1's code and message, drops patch 2 and
    adds a new patch."""
    tree = make_tree(tmp_path / "qemu")
    base = git(tree, "rev-parse", "HEAD").strip()
    sob = "\n\nSigned-off-by: Ada Developer <ada@example.invalid>\n"
    commit(tree, {"hw/misc/a.c": "int a0 = 1;\n"}, "hw/misc: frobnicate" + sob)
    commit(tree, {"docs/frob.rst": "Frob\n"}, "docs: describe the frobnicator" + sob)
    commit(tree, {"hw/misc/b.c": "int b0 = 0;\n"}, "hw/misc: count frobs" + sob)
    v1 = export(tree, base, "HEAD", tmp_path / "v1", "PATCH v1")
    git(tree, "checkout", "-q", "-b", "v2", base)
    commit(
        tree,
        {"hw/misc/a.c": "int a0 = 2;\n"},
        "hw/misc: frobnicate\n\nNow with two frobs." + sob,
    )
    commit(tree, {"hw/misc/b.c": "int b0 = 0;\n"}, "hw/misc: count frobs" + sob)
    commit(tree, {"hw/misc/c.c": "int c0;\n"}, "hw/misc: unfrobnicate" + sob)
    v2 = export(tree, base, "HEAD", tmp_path / "v2", "PATCH v2")
    git(tree, "checkout", "-q", "master")
    return tree, v1, v2


def test_changelog_of_two_series_directories(tmp_path: Path, runner: Runner) -> None:
    tree, v1, v2 = two_versions(tmp_path)
    head = git(tree, "rev-parse", "HEAD")
    text, raw = changelog.changelog(
        tree, str(v1), str(v2), runner, repo=tmp_path, default_dir=tmp_path / "patches"
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


def test_changelog_of_two_revisions_of_the_harness_repo(tmp_path: Path, runner: Runner) -> None:
    tree, v1, v2 = two_versions(tmp_path)
    repo = tmp_path / "harness"
    (repo / "patches").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    for version in (v1, v2):
        for old in (repo / "patches").glob("*"):
            old.unlink()
        for f in version.glob("*.patch"):
            shutil.copy(f, repo / "patches" / f.name)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"series {version.name}")
    text, _raw = changelog.changelog(
        tree, "main~1", "main", runner, repo=repo, default_dir=repo / "patches", version=5
    )
    assert text.splitlines()[0] == "Changes in v5:"
    assert "- new: 3/3 hw/misc: unfrobnicate" in text
    with pytest.raises(HarnessError, match="neither a series directory nor a revision"):
        changelog.changelog(tree, "nope", "main", runner, repo=repo, default_dir=repo / "patches")


def test_patch_ids_of_files_and_commits_give_the_same_keys(
    series: tuple[Path, Path, str, list[str]],
) -> None:
    tree, series_dir, base, commits = series
    files = sorted(series_dir.glob("000[1-9]-*.patch"))
    assert results.base_of_series(series_dir / "0000-cover-letter.patch") == base
    keys = results.keys_for_files(base, files, tree)
    assert keys == [results.key_for_commit(tree, base, c) for c in commits]
    assert len(set(keys)) == PATCHES


def test_build_option_runs_bisect_build_and_uses_what_it_records(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    """--build runs the checkout's ci/bisect-build (with QEMU_SRC = the tree) and then
    checks the results it recorded; here a bisect-build that records without compiling."""
    tree, series_dir, base, _commits = series
    repo = tmp_path / "harness"
    script = repo / "ci" / "bisect-build"
    script.parent.mkdir(parents=True)
    results_file = tmp_path / "results.json"
    script.write_text(
        "set -e\n"
        f'for c in $(git -C "$QEMU_SRC" rev-list --reverse {base}..HEAD); do\n'
        f"  PYTHONPATH={REPO} {sys.executable} -m harness.posting.results record "
        f'--tree "$QEMU_SRC" --base {base} --commit "$c" --results {results_file} ok\n'
        "done\n",
        encoding="utf-8",
    )
    git(tree, "config", "sendemail.smtpServer", "smtp.invalid")
    messages = run_send(tree, series_dir, tmp_path, runner, build_first=True, repo=repo)
    assert len(messages) == MESSAGES
    assert "every patch builds" in runner.out.getvalue()  # type: ignore[attr-defined]
    assert len(results.Results(results_file).builds) == PATCHES


def test_send_reads_the_build_results_of_its_own_series(
    series: tuple[Path, Path, str, list[str]], tmp_path: Path, runner: Runner
) -> None:
    """Each series keeps its bisect results in its own .work/<series>/logs/ (two CI jobs
    publish them as artifacts side by side): send for v6 finds v6's, send for v7 does not."""
    tree, series_dir, base, commits = series
    repo = tmp_path / "harness"
    v6 = Workdir(repo, "v6")
    for c in commits:
        record(tree, base, c, "ok", v6.build_results)
    assert v6.build_results != Workdir(repo, "v7").build_results
    git(tree, "config", "sendemail.smtpServer", "smtp.invalid")
    args = make_parser().parse_args(["send", "--qemu-src", str(tree), "--patches", str(series_dir)])
    assert posting_cli.dispatch(args, v6, runner) == 0
    said = runner.out.getvalue()  # type: ignore[attr-defined]
    assert f"results of ci/bisect-build in {v6.build_results}" in said
    with pytest.raises(HarnessError, match=r"no build result for 2 patch\(es\)"):
        posting_cli.dispatch(args, Workdir(repo, "v7"), runner)
