"""``vmfwupdate send``: the series as e-mail, checked, addressed, and dry-run unless --send.

1. checkpatch: the tree's ``scripts/checkpatch.pl`` on every patch; any ERROR refuses
   (warnings are shown, they do not refuse).
2. builds: every patch must have a recorded successful build of itself on top of the ones
   before it (``ci/bisect-build`` records them, see :mod:`harness.posting.results`);
   ``--build`` runs ci/bisect-build first. A failed or missing result refuses.
3. recipients: ``scripts/get_maintainer.pl`` on each patch file, in a scratch worktree of the
   tree with the whole series applied (To: maintainers, Cc: reviewers and lists); the cover
   letter gets the union; ``--to``/``--cc`` are added to every message.
4. the messages: copies of the series files with those To:/Cc: headers in
   ``.work/outgoing/<series>/`` (what would be sent, to read or to send by hand).
5. ``git send-email --dry-run`` on them (``--send``: for real), run in the QEMU tree so that
   its ``sendemail.*`` configuration applies, and a per-message table of who gets what, as
   git send-email reports it (it adds the Signed-off-by and From: addresses itself).
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path

from harness.errors import HarnessError
from harness.posting import maintainers, results
from harness.posting.maintainers import Recipients
from harness.runner import Runner, base_env
from harness.tree.patchfile import COVER_LETTER, series_files

log = logging.getLogger(__name__)

STEP = "send"
TOTAL = re.compile(r"^total: (\d+) errors?, (\d+) warnings?", re.M)
PLACEHOLDERS = ("*** SUBJECT HERE ***", "*** BLURB HERE ***")


@dataclass
class Message:
    """One mail as git send-email reported it."""

    subject: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    rcpt: list[str] = field(default_factory=list)
    ok: bool = False


def series_paths(series_dir: Path) -> tuple[Path | None, list[Path]]:
    patches = series_files(series_dir)
    if not patches:
        raise HarnessError(
            STEP,
            f"{series_dir} has no patches",
            path=series_dir,
            hint="run `vmfwupdate export` (or pass the series directory)",
        )
    cover = series_dir / COVER_LETTER
    return (cover if cover.is_file() else None), patches


def checkpatch(tree: Path, patches: Sequence[Path], runner: Runner) -> None:
    """Refuse when checkpatch.pl reports an ERROR on any patch; show warnings."""
    script = tree / "scripts" / "checkpatch.pl"
    if not script.is_file():
        raise HarnessError(
            STEP, "the QEMU tree has no scripts/checkpatch.pl", path=script, hint="use a QEMU tree"
        )
    failed: list[str] = []
    for patch in patches:
        proc = runner.run(
            ["perl", script, "--terse", "--mailback", patch.resolve()],
            step=STEP,
            cwd=tree,
            check=False,
        )
        output = (proc.stdout + proc.stderr).strip()
        total = TOTAL.search(output)
        errors = int(total.group(1)) if total else (1 if proc.returncode else 0)
        warnings = int(total.group(2)) if total else 0
        runner.say(
            f"send: checkpatch {patch.name}: "
            + (f"{errors} error(s), {warnings} warning(s)" if errors or warnings else "ok")
        )
        if errors:
            failed.append(f"{patch.name}:\n" + "\n".join("  " + x for x in output.splitlines()))
        elif warnings:
            runner.say("\n".join("  " + line for line in output.splitlines()))
    if failed:
        raise HarnessError(
            STEP,
            f"checkpatch reports errors in {len(failed)} patch(es); nothing was sent",
            details="\n".join(failed),
            hint="fix them in the QEMU tree (commit --amend / rebase -i), `vmfwupdate export`, "
            "then send again",
        )


def check_builds(
    tree: Path,
    cover: Path | None,
    patches: Sequence[Path],
    results_file: Path,
    runner: Runner,
) -> None:
    """Refuse unless every patch has a recorded successful build (see module doc)."""
    base = results.base_of_series(cover) if cover is not None else None
    if base is None:
        raise HarnessError(
            STEP,
            "the series names no base (no base-commit: line in its cover letter)",
            path=cover,
            hint="export the series with `vmfwupdate export` (it writes base-commit:)",
        )
    try:
        keys = results.keys_for_files(base, patches, tree)
        recorded = results.Results(results_file)
    except results.ResultsError as exc:
        raise HarnessError(STEP, str(exc), path=results_file) from exc
    failed, missing = [], []
    for patch, key in zip(patches, keys, strict=True):
        result = recorded.builds.get(key)
        if result is None:
            missing.append(patch.name)
        elif not result.ok:
            failed.append(f"{patch.name} (commit {result.commit[:12]}, {result.when})")
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
            + ", ".join(missing)
            + "; nothing was sent",
            path=results_file,
            hint="run `bash ci/bisect-build` (builds each patch and records it) or pass --build",
        )
    runner.say(f"send: every patch builds (results of ci/bisect-build in {results_file})")


def header_end(text: str) -> int:
    end = text.find("\n\n")
    if end < 0:
        raise ValueError("no blank line after the headers")
    return end


def fold(name: str, addresses: Sequence[str]) -> str:
    return f"{name}: " + ",\n ".join(addresses) + "\n"


def with_recipients(text: str, recipients: Recipients) -> str:
    """The mail with its To:/Cc: headers replaced by ``recipients``."""
    end = header_end(text)
    head = text[: end + 1]
    # drop existing To:/Cc: headers with their continuation lines
    kept: list[str] = []
    skipping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (" ", "\t") and skipping:
            continue
        skipping = line.lower().startswith(("to:", "cc:"))
        if not skipping:
            kept.append(line)
    extra = ""
    if recipients.to:
        extra += fold("To", recipients.to)
    if recipients.cc:
        extra += fold("Cc", recipients.cc)
    return "".join(kept) + extra + text[end + 1 :]


def from_header(path: Path) -> str | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    match = re.search(r"^From: (.+)$", text[: header_end(text)], re.M)
    return match.group(1).strip() if match else None


def prepare(
    tree: Path,
    cover: Path | None,
    patches: Sequence[Path],
    outgoing: Path,
    runner: Runner,
    *,
    to: Sequence[str],
    cc: Sequence[str],
) -> list[tuple[Path, Recipients]]:
    """Write the addressed copies of the series into ``outgoing``; returns (file, recipients)."""
    base = results.base_of_series(cover) if cover is not None else None
    with maintainers.series_applied(tree, base, patches, runner) as applied:
        per_patch = [(p, maintainers.for_patch(applied, p, runner)) for p in patches]
    files: list[tuple[Path, Recipients]] = []
    if cover is not None:
        text = cover.read_text(encoding="utf-8", errors="replace")
        placeholder = next((p for p in PLACEHOLDERS if p in text), None)
        if placeholder:
            raise HarnessError(
                STEP,
                f"the cover letter still has the placeholder {placeholder!r}",
                path=cover,
                hint="write its subject and text (e.g. the `vmfwupdate changelog` draft)",
            )
        files.append((cover, maintainers.union(r for _p, r in per_patch)))
    files += per_patch
    outgoing.mkdir(parents=True, exist_ok=True)
    for old in outgoing.glob("*.patch"):
        old.unlink()
    written = []
    for source, recipients in files:
        for address in to:
            recipients.add(address, to=True)
        for address in cc:
            recipients.add(address, to=False)
        target = outgoing / source.name
        text = source.read_text(encoding="utf-8", errors="replace")
        target.write_text(with_recipients(text, recipients), encoding="utf-8")
        written.append((target, recipients))
    return written


def parse_send_email(output: str) -> list[Message]:
    """The messages of ``git send-email`` output: its ``Log says:`` blocks."""
    messages: list[Message] = []
    current: Message | None = None
    header: str | None = None
    for line in output.splitlines():
        if line.endswith("Log says:"):
            current = Message()
            messages.append(current)
            header = None
            continue
        if current is None:
            continue
        if line.startswith("Result: "):
            current.ok = line.strip() in ("Result: OK", "Result: 250")
            current = None
            continue
        if line.startswith("RCPT TO:"):
            current.rcpt.append(line[len("RCPT TO:") :].strip().strip("<>"))
            continue
        if line[:1] in (" ", "\t") and header is not None:
            value = line.strip()
        else:
            name, sep, value = line.partition(":")
            header = name.lower() if sep else None
            value = value.strip()
        if header == "subject":
            current.subject = f"{current.subject} {value}".strip()
        elif header in ("to", "cc") and value:
            target = current.to if header == "to" else current.cc
            target += [a.strip() for a in value.split(",") if a.strip()]
    return messages


def identity_env(sender: str | None) -> dict[str, str]:
    """git send-email asks ``git var GIT_AUTHOR_IDENT`` even with --from, which fails
    where git has no identity: give it the sender's."""
    if not sender:
        return {}
    name, address = parseaddr(sender)
    if not address:
        return {}
    name = name or address
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": address,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": address,
    }


def send_email(
    tree: Path,
    files: Sequence[Path],
    runner: Runner,
    *,
    really: bool,
    sender: str | None,
    smtp_server: str | None,
) -> tuple[list[Message], str]:
    cmd = ["git", "send-email", "--confirm=never", "--no-format-patch"]
    if not really:
        cmd.append("--dry-run")
    if sender:
        cmd.append(f"--from={sender}")
    if smtp_server:
        cmd.append(f"--smtp-server={smtp_server}")
    cmd += [str(f) for f in files]
    runner.echo(cmd, tree)
    env = base_env(identity_env(sender))
    try:
        proc = subprocess.run(
            cmd,
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise HarnessError(STEP, "git is not installed", hint="run `make setup`") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        missing = "is not a git command" in output or "Mail::Address" in output
        raise HarnessError(
            STEP,
            f"git send-email {'--dry-run ' if not really else ''}failed "
            f"(exit code {proc.returncode})",
            details=output[-4000:],
            hint="install Debian's git-email and libmailtools-perl (`make setup`)"
            if missing
            else "see git send-email's message above (sendemail.* configuration of the tree)",
        )
    return parse_send_email(output), output


def readable(header: str) -> str:
    """An RFC 2047 encoded header (``=?UTF-8?q?...?=``) as text."""
    try:
        return str(make_header(decode_header(header)))
    except (ValueError, LookupError):
        return header


def render(messages: Sequence[Message], really: bool) -> str:
    lines = []
    for message in messages:
        lines.append(readable(message.subject))
        lines.append("  To: " + (", ".join(map(readable, message.to)) or "(nobody)"))
        if message.cc:
            lines.append("  Cc: " + ", ".join(map(readable, message.cc)))
    everyone = sorted({a for m in messages for a in m.rcpt})
    lines.append(
        f"{len(messages)} message(s) to {len(everyone)} address(es) "
        + ("were sent" if really else "would be sent (dry run: nothing was sent; --send sends)")
    )
    return "\n".join(lines)


def send(
    tree: Path,
    series_dir: Path,
    runner: Runner,
    *,
    outgoing: Path,
    results_file: Path,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    really: bool = False,
    build_first: bool = False,
    build_check: bool = True,
    smtp_server: str | None = None,
    repo: Path | None = None,
) -> list[Message]:
    cover, patches = series_paths(series_dir)
    runner.say(
        f"send: {series_dir}: {len(patches)} patch(es)"
        + (" and a cover letter" if cover else " (no cover letter)")
        + f", QEMU tree {tree}"
    )
    checkpatch(tree, patches, runner)
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
        check_builds(tree, cover, patches, results_file, runner)
    else:
        runner.say("send: WARNING: --no-build-check: not checked that every patch builds")
    addressed = prepare(tree, cover, patches, outgoing, runner, to=to, cc=cc)
    sender = from_header(cover or patches[0])
    messages, _output = send_email(
        tree,
        [path for path, _r in addressed],
        runner,
        really=really,
        sender=sender,
        smtp_server=smtp_server,
    )
    if len(messages) != len(addressed):
        raise HarnessError(
            STEP,
            f"git send-email reported {len(messages)} message(s) for {len(addressed)} files",
            details=_output[-4000:],
        )
    print(render(messages, really))
    return messages
