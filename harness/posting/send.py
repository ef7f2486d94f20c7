"""``vmfwupdate send``: a thin wrapper around b4 that posts ``patches/<series>/``.

1. builds: every patch must have a recorded successful build of itself on top of the ones
   before it (``ci/bisect-build`` records them, :mod:`harness.posting.results`; b4 does not
   know about builds); ``--build`` runs ci/bisect-build first.
2. a b4 branch: the series applied (``git am``) on its ``base-commit:`` as branch
   ``b4/vmfwupdate-<series>`` of the QEMU tree, in a scratch worktree, enrolled with
   ``b4 prep --enroll``; the cover letter's subject and text become b4's cover letter,
   the subject prefix its revision (``--force-revision``) and prefixes.
3. ``b4 prep --check``: the tree's ``prep-perpatch-check-cmd`` (checkpatch.pl) on each
   patch; an error refuses.
4. ``b4 prep --auto-to-cc``: the recipients, with the tree's ``send-series-to`` and
   ``send-auto-cc-cmd`` (get_maintainer.pl on each patch).
5. ``b4 send -o .work/outgoing/<series>/``: the messages as they would go out (a dry run:
   b4 connects nowhere); the table of who gets what is read from them. ``--send`` then
   runs ``b4 send``, which shows the same and asks before it sends.
"""

from __future__ import annotations

import email
import email.policy
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.posting import b4tool, results
from harness.runner import Runner, base_env
from harness.tree.patchfile import COVER_LETTER, parse_cover_letter, series_files

STEP = "send"
CHECK_SUMMARY = re.compile(r"^Success: (\d+), Warning: (\d+), Error: (\d+)\s*$", re.M)
PLACEHOLDERS = ("*** SUBJECT HERE ***", "*** BLURB HERE ***")
# b4 picks kernel.org's web endpoint when no mail transport is configured and the tree has
# a top-level Kconfig (QEMU's has): a dry run names a server so that b4 signs nothing
DRY_RUN_CONFIG = ("-c", "sendemail.smtpserver=localhost")


@dataclass(frozen=True)
class Message:
    """One message b4 wrote: its subject and recipients."""

    subject: str
    to: tuple[str, ...]
    cc: tuple[str, ...]


@dataclass(frozen=True)
class Cover:
    """What b4's cover letter takes from ``0000-cover-letter.patch``."""

    text: str  # the subject (without its [PATCH ...] prefix), a blank line, the blurb
    revision: int | None
    prefixes: tuple[str, ...]  # subject prefix words other than PATCH and vN (RFC, ...)


def series_paths(series_dir: Path) -> tuple[Path, list[Path]]:
    patches = series_files(series_dir)
    cover = series_dir / COVER_LETTER
    if not patches or not cover.is_file():
        raise HarnessError(
            STEP,
            f"{series_dir} has no patches or no {COVER_LETTER}",
            path=series_dir,
            hint="run `vmfwupdate export` (it writes the series with its cover letter)",
        )
    return cover, patches


def read_cover(cover: Path, revision: int | None) -> Cover:
    """The cover letter for b4; ``revision`` when its subject names no version."""
    text = cover.read_text(encoding="utf-8", errors="replace")
    placeholder = next((p for p in PLACEHOLDERS if p in text), None)
    if placeholder:
        raise HarnessError(
            STEP,
            f"the cover letter still has the placeholder {placeholder!r}",
            path=cover,
            hint="write its subject and text (e.g. the `vmfwupdate changelog` draft)",
        )
    parsed = parse_cover_letter(text)
    found = re.search(r"^Subject: (.*(?:\n[ \t].*)*)", "".join(parsed.headers), re.M)
    subject = " ".join(found.group(1).split()) if found else ""
    match = re.match(r"^\[([^\]]*)\]\s*(.*)$", subject)
    words = match.group(1).split() if match else []
    title = match.group(2) if match else subject
    versions = [int(w[1:]) for w in words if re.fullmatch(r"v\d+", w)]
    prefixes = tuple(w for w in words if w != "PATCH" and not re.fullmatch(r"(v\d+|\d+/\d+)", w))
    return Cover(
        text=f"{title}\n\n{parsed.blurb.strip()}\n",
        revision=versions[0] if versions else revision,
        prefixes=prefixes,
    )


def check_builds(base: str, patches: Sequence[Path], results_file: Path, tree: Path) -> str:
    """Refuse unless every patch has a recorded successful build (see module doc)."""
    try:
        keys = results.keys_for_files(base, patches, tree)
        recorded = results.Results(results_file)
    except results.ResultsError as exc:
        raise HarnessError(STEP, str(exc), path=results_file) from exc
    found = [recorded.builds.get(key) for key in keys]
    failed = [
        f"{p.name} (commit {r.commit[:12]}, {r.when})"
        for p, r in zip(patches, found, strict=True)
        if r is not None and not r.ok
    ]
    missing = [p.name for p, r in zip(patches, found, strict=True) if r is None]
    if failed:
        raise HarnessError(
            STEP,
            f"{len(failed)} patch(es) do not build: {', '.join(failed)}; nothing was sent",
            path=results_file,
            hint="fix the build of that patch (bisect-build log), export, then send again",
        )
    if missing:
        raise HarnessError(
            STEP,
            f"no build result for {len(missing)} patch(es) as they are now: "
            f"{', '.join(missing)}; nothing was sent",
            path=results_file,
            hint="run `bash ci/bisect-build` (builds each patch and records it) or pass --build",
        )
    return f"send: every patch builds (results of ci/bisect-build in {results_file})"


def git_common_dir(path: Path) -> Path | None:
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(proc.stdout.strip()).resolve() if proc.returncode == 0 else None


def checkout(tree: Path, worktree: Path, branch: str, base: str, runner: Runner) -> None:
    """``worktree``, a worktree of ``tree``, on ``branch`` reset to ``base``: the one of the
    last run if it is still there (only the files the series touched are checked out again),
    else a new one."""
    if worktree.exists() and git_common_dir(worktree) == git_common_dir(tree):
        runner.run(["git", "am", "--abort"], step=STEP, cwd=worktree, check=False)
        reset = ["git", "checkout", "--quiet", "--force", "-B", branch, base]
        if runner.run(reset, step=STEP, cwd=worktree, check=False).returncode == 0:
            return
    shutil.rmtree(worktree, ignore_errors=True)
    runner.run(["git", "worktree", "prune"], step=STEP, cwd=tree, check=False)
    runner.run(
        ["git", "worktree", "add", "--quiet", "--force", "-B", branch, worktree, base],
        step=STEP,
        cwd=tree,
        env=base_env(),
        hint=f"the series' base {base[:12]} must be in the QEMU tree, and {branch} not "
        "checked out elsewhere (pass --qemu-src with the tree the series was exported from)",
    )


def prepare_branch(
    tree: Path,
    base: str,
    patches: Sequence[Path],
    cover: Cover,
    branch: str,
    worktree: Path,
    runner: Runner,
) -> None:
    """``worktree`` (of ``tree``) on ``branch`` = ``base`` + the patches, enrolled in b4 with
    the cover letter. It stays, so that b4 can be used there directly."""
    checkout(tree, worktree, branch, base, runner)
    runner.run(
        ["git", "am", "--quiet", "--3way", *[p.resolve() for p in patches]],
        step=STEP,
        cwd=worktree,
        env=base_env(),
        hint="the series must apply on its base-commit; git needs your identity "
        "(git config user.name / user.email): b4 sends as you",
    )
    b4tool.run(["prep", "--enroll", base], step=STEP, cwd=worktree, runner=runner)
    with tempfile.TemporaryDirectory(prefix="vmfwupdate-cover-") as scratch:
        text = Path(scratch) / "cover.txt"
        text.write_text(cover.text, encoding="utf-8")
        editor = {"GIT_EDITOR": shlex.join(["cp", str(text)])}
        b4tool.run(["prep", "--edit-cover"], step=STEP, cwd=worktree, runner=runner, env=editor)
    if cover.revision is not None:
        revision = ["prep", "--force-revision", str(cover.revision)]
        b4tool.run(revision, step=STEP, cwd=worktree, runner=runner)
    if cover.prefixes:
        prefixes = ["prep", "--set-prefixes", *cover.prefixes]
        b4tool.run(prefixes, step=STEP, cwd=worktree, runner=runner)


def check(worktree: Path, runner: Runner) -> str:
    """``b4 prep --check``; refuse on any error. Returns b4's report."""
    report = b4tool.run(["prep", "--check"], step=STEP, cwd=worktree, runner=runner)
    summary = CHECK_SUMMARY.search(report)
    if summary is None:
        raise HarnessError(STEP, "b4 prep --check printed no summary line", details=report[-4000:])
    if int(summary.group(3)):
        raise HarnessError(
            STEP,
            f"b4 prep --check (checkpatch.pl) reports {summary.group(3)} error(s); "
            "nothing was sent",
            details=report[-4000:],
            hint="fix them in the QEMU tree (commit --amend / rebase -i), `vmfwupdate export`, "
            "then send again",
        )
    return report


def read_messages(directory: Path) -> list[Message]:
    messages = []
    for path in sorted(directory.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        to, cc = (tuple(str(a) for a in getattr(msg[h], "addresses", ())) for h in ("To", "Cc"))
        messages.append(Message(subject=" ".join(str(msg["Subject"]).split()), to=to, cc=cc))
    return messages


def render(messages: Sequence[Message], really: bool) -> str:
    """Who gets what: the To/Cc every message has, then each message with what it adds."""
    common_to = [a for a in messages[0].to if all(a in m.to for m in messages)]
    common_cc = [a for a in messages[0].cc if all(a in m.cc for m in messages)]
    lines = [
        "every message:",
        "  To: " + (", ".join(common_to) or "(nobody)"),
        "  Cc: " + (", ".join(common_cc) or "(nobody)"),
    ]
    for message in messages:
        lines.append(message.subject)
        lines += [f"  +To: {a}" for a in message.to if a not in common_to]
        lines += [f"  +Cc: {a}" for a in message.cc if a not in common_cc]
    everyone = {a for m in messages for a in (*m.to, *m.cc)}
    lines.append(
        f"{len(messages)} message(s) to {len(everyone)} address(es) "
        + ("go to b4 send" if really else "would be sent (dry run: nothing was sent; --send sends)")
    )
    return "\n".join(lines)


def has_transport(tree: Path) -> bool:
    proc = subprocess.run(
        [
            "git",
            "-C",
            str(tree),
            "config",
            "--get-regexp",
            r"^sendemail\.(smtpserver|sendmailcmd)$",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(proc.stdout.strip())


def send(
    tree: Path,
    series_dir: Path,
    runner: Runner,
    *,
    outgoing: Path,
    results_file: Path,
    branch: str,
    worktree: Path,
    revision: int | None = None,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    really: bool = False,
    build_first: bool = False,
    build_check: bool = True,
    repo: Path | None = None,
    answer: str | None = None,
) -> list[Message]:
    """Post the series (see the module doc); ``answer`` is typed at b4 send's question
    (default: the user answers on this terminal)."""
    cover_file, patches = series_paths(series_dir)
    runner.say(f"send: {series_dir}: {len(patches)} patch(es) and a cover letter, tree {tree}")
    cover = read_cover(cover_file, revision)
    base = results.base_of_series(cover_file)
    if base is None:
        raise HarnessError(
            STEP,
            "the series names no base (no base-commit: line in its cover letter)",
            path=cover_file,
            hint="export the series with `vmfwupdate export` (it writes base-commit:)",
        )
    if really and not has_transport(tree):
        raise HarnessError(
            STEP,
            "no mail transport configured for the QEMU tree; nothing was sent",
            path=tree,
            hint="git config sendemail.smtpServer HOST (or sendemail.sendmailCmd CMD) in the "
            "tree or globally; without one b4 would use kernel.org's web endpoint",
        )
    if build_first:
        if repo is None:
            raise HarnessError(STEP, "--build needs the harness checkout")
        runner.say("send: building every patch (ci/bisect-build)")
        code = runner.stream(
            ["bash", repo / "ci" / "bisect-build"],
            log=results_file.with_name("bisect-build.log"),
            cwd=repo,
            env=base_env({"QEMU_SRC": str(tree)}),
        )
        if code != 0:
            runner.say(f"send: ci/bisect-build failed (log {results_file.parent}/bisect-build.log)")
    if build_check:
        runner.say(check_builds(base, patches, results_file, tree))
    else:
        runner.say("send: WARNING: --no-build-check: not checked that every patch builds")
    extra = (["--to", *to] if to else []) + (["--cc", *cc] if cc else [])
    prepare_branch(tree, base, patches, cover, branch, worktree, runner)
    report = check(worktree, runner)
    summary = CHECK_SUMMARY.findall(report)[-1]
    runner.say(f"send: b4 prep --check (checkpatch.pl): {summary[0]} ok, {summary[1]} warning(s)")
    if int(summary[1]):
        runner.say(report.split("---", 1)[-1].rstrip())
    b4tool.run(["prep", "--auto-to-cc"], step=STEP, cwd=worktree, runner=runner)
    outgoing.mkdir(parents=True, exist_ok=True)
    for old in outgoing.glob("*.eml"):
        old.unlink()
    b4tool.run(
        [*DRY_RUN_CONFIG, "send", "--output-dir", outgoing, "--no-sign", *extra],
        step=STEP,
        cwd=worktree,
        runner=runner,
    )
    messages = read_messages(outgoing)
    print(render(messages, really))
    if really:
        runner.echo([b4tool.executable(STEP), "send", *extra], worktree)
        code = subprocess.run(
            [b4tool.executable(STEP), "send", *extra],
            cwd=worktree,
            input=answer,
            text=True,
            check=False,
        ).returncode
        if code != 0:
            raise HarnessError(
                STEP,
                f"b4 send failed (exit code {code})",
                path=worktree,
                hint="see b4's messages above (mail transport: git config sendemail.*)",
            )
    return messages
