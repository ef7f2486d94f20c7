"""Who gets each patch: the QEMU tree's own ``scripts/get_maintainer.pl`` on the patch file.

get_maintainer.pl prints one address a line with its roles, e.g.
``Paolo Bonzini <pbonzini@redhat.com> (maintainer:Kconfig)`` or
``qemu-devel@nongnu.org (open list:All patches CC here)``. The split follows the usual
kernel/QEMU practice (and b4's): maintainers, supporters and odd fixers of the touched
areas go to To:, reviewers, mailing lists and everyone else to Cc:; a patch whose files
have no maintainer goes To: its lists. The cover letter gets the union of all patches (an
address that is To: on any patch is To: there).

get_maintainer.pl reads ``MAINTAINERS`` from the tree it runs in, so it runs in the tree as it
is after the whole series (:func:`series_applied`): an entry the series adds for its own new
files then counts for every patch that touches them, as it will once the series is merged.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner

log = logging.getLogger(__name__)

STEP = "send"
LINE = re.compile(r"^(?P<addr>.*?\S)\s+\((?P<roles>[^()]*)\)\s*$")
TO_ROLES = ("maintainer", "supporter", "odd fixer")
EMAIL = re.compile(r"<([^<>]+)>|(\S+@\S+)")


def email_of(address: str) -> str:
    """The bare, lower-case address of ``Name <a@b>`` or ``a@b`` (for de-duplication)."""
    match = EMAIL.search(address)
    if not match:
        return address.strip().lower()
    return (match.group(1) or match.group(2)).strip().lower()


@dataclass
class Recipients:
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # address -> get_maintainer's roles

    def add(self, address: str, *, to: bool, roles: str = "") -> None:
        key = email_of(address)
        in_to = [a for a in self.to if email_of(a) == key]
        in_cc = [a for a in self.cc if email_of(a) == key]
        if roles and address not in self.roles:
            self.roles[address] = roles
        if in_to:
            return
        if to:
            self.cc = [a for a in self.cc if email_of(a) != key]
            self.to.append(in_cc[0] if in_cc else address)
        elif not in_cc:
            self.cc.append(address)

    def extend(self, other: Recipients) -> None:
        for address in other.to:
            self.add(address, to=True, roles=other.roles.get(address, ""))
        for address in other.cc:
            self.add(address, to=False, roles=other.roles.get(address, ""))

    @property
    def everyone(self) -> list[str]:
        return self.to + self.cc


def parse(output: str) -> Recipients:
    """To: the maintainers; when the patch's files have none, its mailing lists."""
    result = Recipients()
    lists = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line or "@" not in line:
            continue
        match = LINE.match(line)
        address, roles = (match.group("addr"), match.group("roles")) if match else (line, "")
        to = any(role.strip().startswith(TO_ROLES) for role in roles.split(","))
        result.add(address, to=to, roles=roles)
        if "list" in roles:
            lists.append(address)
    if not result.to:
        for address in lists:
            result.add(address, to=True)
    return result


def for_patch(tree: Path, patch: Path, runner: Runner) -> Recipients:
    script = tree / "scripts" / "get_maintainer.pl"
    if not script.is_file():
        raise HarnessError(
            STEP,
            "the QEMU tree has no scripts/get_maintainer.pl",
            path=script,
            hint="pass --qemu-src with a complete QEMU tree (checkout or the fetched tarball)",
        )
    proc = runner.run(
        ["perl", script, patch.resolve()],
        step=STEP,
        cwd=tree,
        hint="get_maintainer.pl must run in the QEMU tree the series applies to",
    )
    recipients = parse(proc.stdout)
    for note in proc.stderr.strip().splitlines():  # e.g. "No maintainers found, ..."
        runner.say(f"send: {patch.name}: {note.strip()}")
    log.debug("%s: to %s, cc %s", patch.name, recipients.to, recipients.cc)
    return recipients


def union(all_recipients: Iterable[Recipients]) -> Recipients:
    result = Recipients()
    for recipients in all_recipients:
        result.extend(recipients)
    return result


@contextmanager
def series_applied(
    tree: Path, base: str | None, patches: Sequence[Path], runner: Runner
) -> Iterator[Path]:
    """A scratch git worktree of ``tree`` at ``base`` with every patch applied in order
    (removed on exit). Without a base (no ``base-commit:`` in the cover letter) the tree is
    used as it is, and that is said."""
    if base is None:
        runner.say(
            "send: WARNING: the series names no base commit: get_maintainer.pl runs in the "
            "tree as it is, without the MAINTAINERS entries the series adds"
        )
        yield tree
        return
    with tempfile.TemporaryDirectory(prefix="vmfwupdate-send-") as scratch:
        worktree = Path(scratch) / "tree"
        runner.run(
            ["git", "worktree", "add", "--detach", "--quiet", worktree, base],
            step=STEP,
            cwd=tree,
            hint=f"the series' base commit {base[:12]} must be in the QEMU tree "
            "(pass --qemu-src with the tree the series was exported from)",
        )
        try:
            for patch in patches:
                proc = runner.run(
                    ["git", "apply", "--index", patch.resolve()],
                    step=STEP,
                    cwd=worktree,
                    check=False,
                )
                if proc.returncode != 0:
                    raise HarnessError(
                        STEP,
                        f"{patch.name} does not apply on the series' base {base[:12]} "
                        "(with the patches before it); nothing was sent",
                        path=patch,
                        details=proc.stderr.strip(),
                        hint="rebase the series onto its base, `vmfwupdate export`, then send "
                        "again",
                    )
            yield worktree
        finally:
            runner.run(
                ["git", "worktree", "remove", "--force", worktree],
                step=STEP,
                cwd=tree,
                check=False,
            )
