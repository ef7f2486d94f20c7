"""Get a QEMU source tree: a git checkout used in place, or a pinned tarball (file or URL)
unpacked into ``.work/src/qemu-<version>`` and turned into a git repository with a
deterministic base commit (and, for Debian ``+ds`` tarballs, a preparation commit)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import Runner
from harness.tree.git import FIXED_DATE, Git, user_identity
from harness.tree.state import TreeState
from harness.workdir import Workdir

logger = logging.getLogger(__name__)

STEP = "fetch"
PINNED_VERSION = "10.2.2"
DEFAULT_TARBALL = "qemu_10.2.2+ds.orig.tar.xz"

# Known tarballs and their sha256 (Debian orig tarballs, same as ../shared/qemu/SHA256SUMS).
PINNED_SHA256: dict[str, str] = {
    "qemu_10.2.2+ds.orig.tar.xz": (
        "be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb"
    ),
    "qemu_10.0.13+ds.orig.tar.xz": (
        "6a0888e806c2ffc0c5f0733e974f9aea55491950d3c47c98669c8b236dde59ae"
    ),
}

BASE_BRANCH = "base"
PREP_MESSAGE = "prep: skip edk2 blob unpack (+ds tarball has no blobs)"
EDK2_LINE_OLD = "if unpack_edk2_blobs\n"
EDK2_LINE_NEW = "if unpack_edk2_blobs and false\n"
URL_SCHEMES = ("http://", "https://", "ftp://", "file://")
UNPACK_PREFIX = ".unpack-"
QEMU_MARKERS = ("VERSION", "configure", "meson.build", "hw", "include/qemu")


@dataclass(frozen=True)
class QemuTree:
    """A QEMU source tree the toolkit can apply the series to and build."""

    path: Path
    kind: str  # "tarball" (owned by the toolkit, under .work/src) or "git" (the user's)
    version: str
    base: str | None  # commit the series goes on; None for a user's checkout
    origin: str  # tarball file or checkout path, for messages

    @property
    def owned(self) -> bool:
        return self.kind == "tarball"


def resolve_spec(cli_value: str | None, workdir: Workdir) -> str:
    """--qemu-src beats $QEMU_SRC beats the pinned tarball beside the repository."""
    if cli_value:
        return cli_value
    env_value = os.environ.get("QEMU_SRC", "").strip()
    if env_value:
        return env_value
    return str(workdir.shared_qemu / DEFAULT_TARBALL)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_qemu_tree(path: Path) -> str:
    """Return the QEMU version of the tree at ``path`` or explain why it is not one."""
    missing = [m for m in QEMU_MARKERS if not (path / m).exists()]
    if missing:
        raise HarnessError(
            STEP,
            f"{path} is not a QEMU source tree (missing: {', '.join(missing)})",
            path=path,
            hint="point --qemu-src / QEMU_SRC at a QEMU git checkout, a QEMU release "
            f"tarball or its URL (default: ../shared/qemu/{DEFAULT_TARBALL})",
        )
    return (path / "VERSION").read_text(encoding="utf-8").strip()


def prepare(
    spec: str,
    workdir: Workdir,
    runner: Runner,
    *,
    sha256: str | None = None,
) -> QemuTree:
    """Resolve ``spec`` (checkout path, tarball path or URL) into a ready QEMU tree."""
    if spec.startswith(URL_SCHEMES):
        tarball = download(spec, workdir, runner, sha256=sha256)
        return from_tarball(tarball, workdir, runner, sha256=sha256)
    path = Path(spec).expanduser()
    if not path.exists():
        kept = unpacked_earlier(path, workdir, runner)
        if kept is not None:
            return kept
        raise HarnessError(
            STEP,
            f"QEMU source not found: {path}",
            path=path,
            hint="pass --qemu-src PATH|URL or set QEMU_SRC; CI expects the pinned tarball at "
            f"../shared/qemu/{DEFAULT_TARBALL} beside this repository. A tree unpacked from "
            f"that tarball earlier (.work/<series>/src/qemu-{PINNED_VERSION}) is used without "
            "it; `run` and `test` with --no-build need no source at all",
        )
    if path.is_dir():
        return from_checkout(path.resolve(), runner)
    return from_tarball(path.resolve(), workdir, runner, sha256=sha256)


def from_checkout(path: Path, runner: Runner) -> QemuTree:
    """Use a developer's own QEMU git checkout in place (never modified here)."""
    version = check_qemu_tree(path)
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or Path(proc.stdout.strip()).resolve() != path:
        raise HarnessError(
            STEP,
            f"{path} is a QEMU tree but not the top of a git checkout",
            path=path,
            hint="pass the top directory of a QEMU git checkout, or a release tarball "
            "(the toolkit turns a tarball into a git repository itself)",
        )
    logger.info(f"fetch: using QEMU {version} git checkout {path}")
    return QemuTree(path=path, kind="git", version=version, base=None, origin=str(path))


def tarball_version(name: str) -> str | None:
    match = re.match(r"qemu[-_](\d+\.\d+\.\d+(?:-rc\d+)?)", name)
    return match.group(1) if match else None


def verify_checksum(tarball: Path, sha256: str | None) -> str:
    expected = sha256.lower() if sha256 else PINNED_SHA256.get(tarball.name)
    if expected is None:
        known = ", ".join(sorted(PINNED_SHA256))
        raise HarnessError(
            STEP,
            f"no pinned checksum for {tarball.name} (pinned: {known})",
            path=tarball,
            hint="use the pinned tarball, or pass --sha256 <hex> if you trust this file",
        )
    actual = sha256_of(tarball)
    if actual != expected:
        raise HarnessError(
            STEP,
            f"checksum mismatch for {tarball.name}",
            path=tarball,
            details=f"expected sha256 {expected}\nactual   sha256 {actual}",
            hint="the file is corrupt or not the pinned release: get it again "
            "(Debian's qemu source package) and check it with sha256sum",
        )
    return actual


def download(url: str, workdir: Workdir, runner: Runner, *, sha256: str | None) -> Path:
    name = Path(urllib.parse.urlparse(url).path).name
    if not name:
        raise HarnessError(
            STEP,
            f"cannot tell the tarball name from {url}",
            hint="give a URL that ends with the tarball file name",
        )
    dest = workdir.downloads / name
    if dest.is_file():
        return dest
    workdir.downloads.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.part-{os.getpid()}")  # two downloads never share one
    logger.info(f"fetch: downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, part.open("wb") as out:
            shutil.copyfileobj(resp, out)
        expected = sha256 or PINNED_SHA256.get(name)
        actual = sha256_of(part)
        if expected is not None and actual != expected.lower():
            raise HarnessError(
                STEP,
                f"checksum mismatch for {name} downloaded from {url}",
                path=part,
                details=f"expected sha256 {expected}\nactual   sha256 {actual}",
                hint="check the URL; the download was deleted",
            )
        part.replace(dest)
    except (urllib.error.URLError, OSError) as exc:
        raise HarnessError(
            STEP,
            f"download of {url} failed: {exc}",
            hint="check the URL and the network, or download the file yourself and pass its path",
        ) from exc
    finally:
        part.unlink(missing_ok=True)
    return dest


def from_tarball(
    tarball: Path, workdir: Workdir, runner: Runner, *, sha256: str | None
) -> QemuTree:
    if not tarball.name.startswith("qemu") or ".tar" not in tarball.name:
        raise HarnessError(
            STEP,
            f"{tarball} is neither a directory nor a QEMU release tarball (qemu*.tar.*)",
            path=tarball,
            hint="pass a QEMU git checkout, a QEMU tarball or its URL",
        )
    digest = verify_checksum(tarball, sha256)
    version = tarball_version(tarball.name) or "unknown"
    dest = workdir.src / f"qemu-{version}"
    if dest.exists():
        return reuse_tree(dest, tarball, digest, version, runner)
    logger.info(f"fetch: unpacking {tarball.name} into {dest}")
    workdir.src.mkdir(parents=True, exist_ok=True)
    remove_stale_unpacks(workdir.src)
    scratch = Path(tempfile.mkdtemp(prefix=f"{UNPACK_PREFIX}{version}-", dir=workdir.src))
    try:
        top = unpack(tarball, scratch, runner)
        found = check_qemu_tree(top)
        if version not in ("unknown", found):
            raise HarnessError(
                STEP,
                f"{tarball.name} contains QEMU {found}, its name says {version}",
                path=tarball,
                hint="rename the file to match its contents or use the pinned tarball",
            )
        base = make_repository(top, tarball.name, found, runner)
        state = TreeState.load(top / ".git")
        state.source = {"tarball": str(tarball), "sha256": digest, "base": base}
        state.save()
        top.rename(dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info(f"fetch: QEMU {version} ready at {dest} (base {base[:12]})")
    return QemuTree(path=dest, kind="tarball", version=version, base=base, origin=str(tarball))


def unpacked_earlier(tarball: Path, workdir: Workdir, runner: Runner) -> QemuTree | None:
    """The tree `fetch` unpacked from ``tarball`` earlier, when the tarball itself is gone
    (``../shared`` not there): its state records the tarball and its checksum."""
    version = tarball_version(tarball.name)
    dest = workdir.src / f"qemu-{version}"
    if version is None or not (dest / ".git").is_dir():
        return None
    state = TreeState.load(dest / ".git")
    if not state.source.get("base") or Path(state.source.get("tarball", "")).name != tarball.name:
        return None
    ensure_release_tag(Git(dest, runner, STEP), version, state.source["base"])
    logger.info(f"fetch: {tarball} is not there; using the tree unpacked from it, {dest}")
    return QemuTree(
        path=dest, kind="tarball", version=version, base=state.source["base"], origin=str(tarball)
    )


def remove_stale_unpacks(src: Path) -> list[Path]:
    """Delete what a killed fetch left (``.unpack-*``, a whole QEMU tree each). Only called
    holding the series' lock alone (`harness.worklock`): no other fetch is unpacking."""
    stale = sorted(src.glob(UNPACK_PREFIX + "*"))
    for path in stale:
        logger.info(f"fetch: removing {path}, left by an interrupted fetch")
        shutil.rmtree(path, ignore_errors=True)
    return stale


def reuse_tree(dest: Path, tarball: Path, digest: str, version: str, runner: Runner) -> QemuTree:
    state = TreeState.load(dest / ".git") if (dest / ".git").is_dir() else None
    if state is None or not state.source.get("base"):
        raise HarnessError(
            STEP,
            f"{dest} exists but was not made by `vmfwupdate fetch`",
            path=dest,
            hint=f"move it away or delete it (rm -rf {dest}) and run the command again",
        )
    if state.source.get("sha256") != digest:
        raise HarnessError(
            STEP,
            f"{dest} was made from a different tarball ({state.source.get('tarball')})",
            path=dest,
            details=f"tree made from sha256 {state.source.get('sha256')}\n"
            f"requested      sha256 {digest}",
            hint=f"delete {dest} to unpack {tarball.name} again (export your series first)",
        )
    ensure_release_tag(Git(dest, runner, STEP), version, state.source["base"])
    logger.info(f"fetch: QEMU {version} already unpacked at {dest}")
    return QemuTree(
        path=dest, kind="tarball", version=version, base=state.source["base"], origin=str(tarball)
    )


def unpack(tarball: Path, scratch: Path, runner: Runner) -> Path:
    runner.run(
        ["tar", "-xf", tarball, "-C", scratch, "--no-same-owner"],
        step=STEP,
        hint="the tarball is damaged or `tar`/`xz-utils` is missing (run `make setup`)",
    )
    entries = [p for p in scratch.iterdir()]
    if len(entries) != 1 or not entries[0].is_dir():
        raise HarnessError(
            STEP,
            f"{tarball.name} does not unpack into one top-level directory",
            path=tarball,
            hint="use a QEMU release tarball",
        )
    return entries[0]


def make_repository(top: Path, tarball_name: str, version: str, runner: Runner) -> str:
    """git init + deterministic base commit (+ the +ds preparation commit); return the base
    the series is applied on."""
    git = Git(top, runner, STEP)
    fixed = {"GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE}
    git.run("init", "--quiet", f"--initial-branch={BASE_BRANCH}")
    git.run("add", "-A", "-f")
    git.run("commit", "--quiet", "--no-verify", "-m", f"QEMU {version} ({tarball_name})", env=fixed)
    ensure_release_tag(git, version, "HEAD")
    meson = top / "pc-bios" / "meson.build"
    text = meson.read_text(encoding="utf-8") if meson.is_file() else ""
    has_blobs = any((top / "pc-bios").glob("edk2-*.fd.bz2"))
    if EDK2_LINE_OLD in text and not has_blobs:
        meson.write_text(text.replace(EDK2_LINE_OLD, EDK2_LINE_NEW, 1), encoding="utf-8")
        git.run("commit", "--quiet", "--no-verify", "-a", "-m", PREP_MESSAGE, env=fixed)
    return git.out("rev-parse", "HEAD")


def ensure_release_tag(git: Git, version: str, base: str) -> None:
    """Tag the tarball commit ``v<version>``: QEMU's scripts/qemu-version.sh runs
    ``git describe --match 'v*'``, which otherwise prints a git error on every build;
    with the tag, builds identify themselves as e.g. ``v10.2.2-6-g<sha>``."""
    kind = git.run("cat-file", "-t", f"refs/tags/v{version}", check=False).stdout.strip()
    if kind == "tag":
        return
    root = git.out("rev-list", "--max-parents=0", base).split()[0]
    fixed = {"GIT_COMMITTER_DATE": FIXED_DATE}  # annotated (describe needs it), deterministic
    git.run("tag", "-f", "-a", "-m", f"QEMU {version}", f"v{version}", root, env=fixed)


def identity_for(tree: QemuTree) -> tuple[str, str] | None:
    """Committer identity for commits made in ``tree``: the user's in their own checkout."""
    return None if tree.owned else user_identity(tree.path)
