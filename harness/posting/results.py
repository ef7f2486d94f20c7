"""Build results of each patch of a series, kept so that ``vmfwupdate send`` can reuse them.

``ci/bisect-build`` builds every commit of the series in turn and records each result here
(``python -m harness.posting.results record ...``). A result is keyed by the patch *and
everything below it*: sha256 over the base commit and the ``git patch-id --stable`` of every
patch from the first up to this one. The same key comes out of a patch file (format-patch)
and out of the commit it was applied as, so ``send`` can look up the files it is about to
mail, and a result never counts for a patch whose content, predecessors or base changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.workdir import DEFAULT_SERIES, SERIES, Workdir

log = logging.getLogger(__name__)

BASE_COMMIT = re.compile(r"^base-commit: ([0-9a-f]{40})\s*$", re.M)


class ResultsError(RuntimeError):
    pass


def patch_id(diff_text: str, cwd: Path) -> str:
    """``git patch-id --stable`` of a patch or ``git show`` output ('' for no diff)."""
    proc = subprocess.run(
        ["git", "patch-id", "--stable"],
        input=diff_text,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if proc.returncode != 0:
        raise ResultsError(f"git patch-id failed: {proc.stderr.strip()}")
    return proc.stdout.split()[0] if proc.stdout.strip() else ""


def chain_keys(base: str, ids: Sequence[str]) -> list[str]:
    """The key of each patch: its own patch-id, those before it and the base."""
    keys = []
    digest = hashlib.sha256(f"base {base}\n".encode())
    for pid in ids:
        digest.update(f"patch {pid}\n".encode())
        keys.append(digest.copy().hexdigest())
    return keys


def keys_for_files(base: str, files: Sequence[Path], cwd: Path) -> list[str]:
    ids = [patch_id(f.read_text(encoding="utf-8", errors="replace"), cwd) for f in files]
    return chain_keys(base, ids)


def git_out(tree: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(tree), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ResultsError(f"git {' '.join(args)} failed in {tree}: {proc.stderr.strip()}")
    return proc.stdout


def key_for_commit(tree: Path, base: str, commit: str) -> str:
    commits = git_out(tree, "rev-list", "--reverse", f"{base}..{commit}").split()
    if not commits:
        raise ResultsError(f"{commit} is not a descendant of the base {base}")
    ids = [
        patch_id(git_out(tree, "-c", "diff.algorithm=histogram", "show", "--format=email", c), tree)
        for c in commits
    ]
    return chain_keys(git_out(tree, "rev-parse", base).strip(), ids)[-1]


def base_of_series(cover_letter: Path) -> str | None:
    """The ``base-commit:`` a format-patch cover letter names."""
    match = BASE_COMMIT.search(cover_letter.read_text(encoding="utf-8", errors="replace"))
    return match.group(1) if match else None


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    commit: str
    subject: str
    when: str


class Results:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.builds: dict[str, BuildResult] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                for key, item in data.get("builds", {}).items():
                    self.builds[key] = BuildResult(
                        ok=bool(item["ok"]),
                        commit=str(item.get("commit", "")),
                        subject=str(item.get("subject", "")),
                        when=str(item.get("when", "")),
                    )
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ResultsError(f"{path}: not a build results file ({exc})") from exc

    def record(self, key: str, result: BuildResult) -> None:
        self.builds[key] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": 1,
            "builds": {
                k: {"ok": r.ok, "commit": r.commit, "subject": r.subject, "when": r.when}
                for k, r in sorted(self.builds.items())
            },
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.posting.results record --tree T --base B --commit C ok|failed``."""
    parser = argparse.ArgumentParser(prog="python -m harness.posting.results")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the build result of one commit of the series")
    rec.add_argument("--tree", type=Path, required=True, help="the QEMU tree")
    rec.add_argument("--base", required=True, help="the commit the series sits on")
    rec.add_argument("--commit", required=True, help="the commit that was built")
    rec.add_argument(
        "--series",
        choices=SERIES,
        default=os.environ.get("SERIES") or DEFAULT_SERIES,
        help=f"the series built (default: $SERIES, else {DEFAULT_SERIES})",
    )
    rec.add_argument(
        "--results",
        type=Path,
        help="results file (default: .work/<series>/logs/build-results.json)",
    )
    rec.add_argument("status", choices=("ok", "failed"))
    args = parser.parse_args(argv)
    path = args.results or Workdir.default(args.series).build_results
    try:
        key = key_for_commit(args.tree, args.base, args.commit)
        subject = git_out(args.tree, "log", "-1", "--format=%s", args.commit).strip()
        commit = git_out(args.tree, "rev-parse", args.commit).strip()
        Results(path).record(
            key,
            BuildResult(
                ok=args.status == "ok",
                commit=commit,
                subject=subject,
                when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            ),
        )
    except ResultsError as exc:
        print(f"results: error: {exc}", file=sys.stderr)
        return 1
    print(f"results: {args.status}: {commit[:12]} {subject} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
