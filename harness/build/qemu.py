"""Configure and build QEMU out of tree: profiles, no needless reconfigure, visible progress,
option ROMs."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.build import igvm
from harness.build import packages as toolchain
from harness.build.ninja_progress import NinjaProgress
from harness.errors import HarnessError
from harness.runner import Runner, base_env
from harness.workdir import Workdir

logger = logging.getLogger(__name__)

STEP = "build"
MARKER = "vmfwupdate-configure.json"
TARGETS = ("qemu-system-x86_64", "qemu-img")
OPTION_ROMS = ("kvmvapic.bin", "linuxboot_dma.bin", "multiboot_dma.bin", "pvh.bin")

COMMON_FLAGS = (
    "--target-list=x86_64-softmmu",
    "--without-default-features",
    "--enable-tcg",
    "--enable-kvm",
    "--disable-docs",
    "--enable-werror",
    "--disable-install-blobs",
    "--enable-tools",
    "--enable-fdt=system",
    "--enable-slirp",
    # against the libigvm `make setup` builds (harness/build/igvm.py; PKG_CONFIG_PATH)
    "--enable-igvm",
)


@dataclass(frozen=True)
class Profile:
    """What one build profile configures and builds."""

    flags: tuple[str, ...] = ()
    cc: str | None = None  # None: the system compiler (cc/c++)
    cxx: str | None = None
    targets: tuple[str, ...] = TARGETS
    option_roms: bool = True
    binary: str = "qemu-system-x86_64"
    packages: tuple[str, ...] = ()  # Debian packages beyond `make setup`'s
    firmware_path: str | None = None  # configured --firmwarepath, linked into the bundle
    bundled_blobs: bool = False  # link BLOB_SOURCES into the bundle's data directory
    # how many times slower than a default build its QEMU runs the tests, for their timeouts
    slowdown: int = 1


# The fuzzer runs the machine without any guest code, but `pc` still loads its -bios file;
# the +ds tarball has none, so the fuzz build looks in Debian's SeaBIOS directory. Run from
# the build tree, QEMU maps that path into <build>/qemu-bundle, where link_firmware() puts
# a link to the real directory.
SEABIOS_DIR = "/usr/share/seabios"
FUZZ_FIRMWARE_PATH = SEABIOS_DIR


@dataclass(frozen=True)
class BlobSource:
    """Firmware files QEMU's default machines load, and where they come from."""

    directory: str  # absolute, or relative to the build directory
    pattern: str
    package: str | None  # the Debian package that has them; None: this build makes them


# The other profiles keep QEMU's own firmware path; run from the build tree, QEMU looks in
# the bundle's data directory, and the +ds tarball puts no blobs there. QEMU's own tests
# that start a default machine without -bios (fw_cfg-test, in the in-tree suite) need the
# pc BIOS, the VGA BIOSes, the NIC's option ROM and kvmvapic.bin: link_blobs() links them,
# the ROMs this tree built first, so a distribution file never stands in for one of them.
BLOB_SOURCES = (
    BlobSource("pc-bios/optionrom", "*.bin", None),
    BlobSource(SEABIOS_DIR, "*.bin", "seabios"),
    BlobSource("/usr/lib/ipxe/qemu", "*.rom", "ipxe-qemu"),
)

PROFILES: dict[str, Profile] = {
    "default": Profile(bundled_blobs=True),
    # The series' qtests also run for qemu-system-i386 (a default target) and on builds
    # without KVM, where optional QOM types such as sev-guest do not exist.
    "i386-tcg": Profile(
        flags=("--target-list=i386-softmmu,x86_64-softmmu", "--disable-kvm"),
        targets=("qemu-system-i386", *TARGETS),
        bundled_blobs=True,
    ),
    # ASan and UBSan: the v7 qtest (90 subtests) ran past meson's 180 s (60 s x3) on a
    # loaded machine (2026-12-07)
    "asan": Profile(flags=("--enable-asan", "--enable-ubsan"), bundled_blobs=True, slowdown=3),
    "fuzz": Profile(
        flags=(
            "--enable-fuzzing",
            "--enable-asan",
            "--enable-ubsan",
            f"--firmwarepath={FUZZ_FIRMWARE_PATH}",
        ),
        cc="clang-16",
        cxx="clang++-16",
        # qemu-system-x86_64 too: it reads the fw_cfg directory for the seeds over qtest
        targets=("qemu-fuzz-x86_64", "qemu-system-x86_64"),
        option_roms=False,
        binary="qemu-fuzz-x86_64",
        packages=("clang-16", "libfuzzer-16-dev", "libclang-rt-16-dev"),
        firmware_path=FUZZ_FIRMWARE_PATH,
    ),
}


@dataclass(frozen=True)
class BuildResult:
    build_dir: Path
    qemu: Path
    configured: bool
    seconds: float
    log: Path


def configure_python(executable: str) -> str:
    """The interpreter named in ``--python=``: one path per interpreter, however it was started.

    ``make`` runs the toolkit as ``.venv/bin/python`` and the console script as
    ``.venv/bin/python3`` (its shebang); both are the same venv, so both give the venv's
    ``bin/python``. The venv path itself is kept (not resolved to the base interpreter):
    configure needs the venv's meson and pycotap. Outside a venv the symlinks are resolved,
    so ``/usr/bin/python3`` and ``/usr/bin/python3.11`` are one interpreter too."""
    path = Path(executable).absolute()
    venv = path.parent.parent
    canonical = venv / "bin" / "python"
    if (venv / "pyvenv.cfg").is_file() and canonical.exists():
        if canonical.resolve() == path.resolve():
            return str(canonical)
        return str(path)  # a venv whose python and python3 differ: keep what was run
    return str(path.resolve())


def configure_args(profile: str, python: str, ccache: bool) -> list[str]:
    if profile not in PROFILES:
        raise HarnessError(
            STEP,
            f"unknown build profile {profile!r}",
            hint=f"use one of: {', '.join(PROFILES)}",
        )
    spec = PROFILES[profile]
    args = []
    if ccache:
        args = [f"--cc=ccache {spec.cc or 'cc'}", f"--cxx=ccache {spec.cxx or 'c++'}"]
    elif spec.cc is not None:
        args = [f"--cc={spec.cc}", f"--cxx={spec.cxx}"]
    args.append(f"--python={python}")
    return args + list(COMMON_FLAGS) + list(spec.flags)


def build_env(workdir: Workdir) -> dict[str, str]:
    """ccache paths relative to .work so another clone of this repository hits the cache;
    pkg-config finds the toolkit's libigvm first (configure, and meson when it reruns)."""
    pkg_config = str(igvm.Layout.for_repo(workdir.repo).pkg_config_path)
    if os.environ.get("PKG_CONFIG_PATH"):
        pkg_config += os.pathsep + os.environ["PKG_CONFIG_PATH"]
    return base_env(
        {
            "CCACHE_BASEDIR": str(workdir.root),
            "CCACHE_NOHASHDIR": "true",
            "PKG_CONFIG_PATH": pkg_config,
        }
    )


IGVM_SUMMARY = re.compile(r"^\s*IGVM support\s*:\s*(?P<value>.+?)\s*$", re.MULTILINE)


def igvm_summary(build_dir: Path) -> str | None:
    """What meson's summary said about IGVM at the last configure (``YES 0.5.0``)."""
    try:
        text = (build_dir / "meson-logs" / "meson-log.txt").read_text(errors="replace")
    except OSError:
        return None
    found = IGVM_SUMMARY.findall(text)
    return re.sub(r"\x1b\[[0-9;]*m", "", found[-1]) if found else None


def needs_configure(build_dir: Path, wanted: dict[str, object]) -> bool:
    marker = build_dir / MARKER
    if not (build_dir / "build.ninja").is_file() or not marker.is_file():
        return True
    try:
        return json.loads(marker.read_text(encoding="utf-8")) != wanted
    except ValueError:
        return True


def configured_source(build_dir: Path) -> Path | None:
    """The QEMU tree `build_dir` was configured from (its marker), or None if the toolkit
    did not configure it or the configure did not finish."""
    try:
        marker = json.loads((build_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("incomplete") or "source" not in marker:
        return None
    return Path(marker["source"])


def configure(
    src: Path,
    build_dir: Path,
    args: list[str],
    runner: Runner,
    env: dict[str, str],
    log: Path,
    inputs: dict[str, object] | None = None,
) -> bool:
    """Run QEMU's configure unless the build dir already has these exact options and
    ``inputs`` (what else configure reads: the libigvm build); return whether it ran."""
    wanted: dict[str, object] = {"source": str(src), "args": args, **(inputs or {})}
    if not needs_configure(build_dir, wanted):
        logger.info(f"build: {build_dir} is configured with the same options, not reconfiguring")
        return False
    if build_dir.exists() and any(build_dir.iterdir()):
        if not (build_dir / MARKER).is_file():
            raise HarnessError(
                STEP,
                f"build directory {build_dir} is not empty and was not made by the toolkit",
                path=build_dir,
                hint="pass an empty or new --build-dir, or delete that directory",
            )
        logger.info(f"build: configure options or source changed, recreating {build_dir}")
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    # Marked as ours but incomplete until configure succeeds: an interrupted configure
    # (Ctrl-C, kill) is then redone from scratch by the next build instead of being refused.
    incomplete = {**wanted, "incomplete": True}
    (build_dir / MARKER).write_text(json.dumps(incomplete, indent=2) + "\n", encoding="utf-8")
    logger.info(f"build: configuring {src} in {build_dir} (log: {log})")
    code = runner.stream([src / "configure", *args], cwd=build_dir, env=env, log=log)
    if code != 0:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise HarnessError(
            STEP,
            f"QEMU configure failed (exit code {code})",
            path=log,
            details=tail(log, 25),
            hint="read the end of the log; missing libraries or tools are installed by "
            "`make setup` (meson>=1.5 and pycotap must be importable by the venv Python)",
        )
    (build_dir / MARKER).write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    return True


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def configured_ninja(build_dir: Path) -> str | None:
    """The ninja QEMU's configure chose (``NINJA=`` in config-host.mak).

    Using the same binary as QEMU's own Makefile matters: ninja 1.11 and 1.12+ hash
    commands differently in ``.ninja_log``, so alternating versions rebuilds everything."""
    try:
        text = (build_dir / "config-host.mak").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("NINJA="):
            value = line.split("=", 1)[1].strip()
            return value if value and Path(value).is_file() else None
    return None


def run_ninja(
    build_dir: Path,
    targets: list[str],
    runner: Runner,
    env: dict[str, str],
    log: Path,
    jobs: int,
    label: str,
) -> None:
    ninja = configured_ninja(build_dir) or shutil.which(
        "ninja", path=env.get("PATH", "") + os.pathsep + str(Path(sys.executable).parent)
    )
    if ninja is None:
        raise HarnessError(STEP, "ninja not found", hint="run `make setup`")
    cmd: list[str | Path] = [ninja, "-C", build_dir, f"-j{jobs}"]
    if runner.verbose:
        cmd.append("-v")
    progress = NinjaProgress(runner, label)
    code = runner.stream([*cmd, *targets], env=env, log=log, on_line=progress)
    progress.finish()
    if code != 0:
        details = "\n".join(progress.errors[-40:]) or tail(log, 40)
        raise HarnessError(
            STEP,
            f"ninja failed building {' '.join(targets)} (exit code {code})",
            path=log,
            details=details,
            hint="fix the compile error shown (the build uses --enable-werror, so warnings "
            "count); then run `vmfwupdate build` again",
        )


def build_option_roms(build_dir: Path, runner: Runner, env: dict[str, str], log: Path) -> None:
    roms = build_dir / "pc-bios" / "optionrom"
    if not (roms / "config.mak").is_file():
        raise HarnessError(
            STEP,
            "configure did not set up pc-bios/optionrom (no i386 cross compiler found)",
            path=roms,
            hint="install gcc-i686-linux-gnu and binutils-i686-linux-gnu (`make setup`), then "
            "delete the build directory and build again",
        )
    cmd: list[str | Path] = ["make", "-C", build_dir, "pc-bios/optionrom/all"]
    if runner.verbose:
        cmd.append("V=1")
    code = runner.stream(cmd, env=env, log=log)
    missing = [name for name in OPTION_ROMS if not (roms / name).is_file()]
    if code != 0 or missing:
        raise HarnessError(
            STEP,
            f"building the option ROMs failed (missing: {', '.join(missing) or 'none'})",
            path=log,
            details=tail(log, 20),
            hint="check the i686 cross toolchain (gcc-i686-linux-gnu) and the log",
        )


PC_BIOS = "bios-256k.bin"


def require_pc_bios(real: Path) -> None:
    if not (real / PC_BIOS).is_file():
        raise HarnessError(
            STEP,
            f"no {PC_BIOS} in {real}, which this build profile takes the pc BIOS from",
            path=real,
            hint="install Debian's seabios package (`make setup` does)",
        )


def link_firmware(build_dir: Path, firmware_path: str) -> None:
    """Make the build tree's qemu-bundle copy of ``firmware_path`` point at the real one."""
    real = Path(firmware_path)
    require_pc_bios(real)
    bundled = build_dir / "qemu-bundle" / firmware_path.lstrip("/")
    if bundled.is_symlink() and bundled.resolve() == real.resolve():
        return
    if bundled.exists() or bundled.is_symlink():
        raise HarnessError(
            STEP,
            f"{bundled} exists and is not a link to {real}",
            path=bundled,
            hint="delete it and build again",
        )
    bundled.parent.mkdir(parents=True, exist_ok=True)
    bundled.symlink_to(real)


def bundle_data_dir(build_dir: Path) -> Path:
    """The data directory QEMU run from the build tree reads (``<prefix>/share/qemu``)."""
    found = sorted((build_dir / "qemu-bundle").glob("**/share/qemu/keymaps"))
    if not found:
        raise HarnessError(
            STEP,
            f"no share/qemu/keymaps below {build_dir / 'qemu-bundle'}: not a built QEMU tree",
            path=build_dir,
            hint="build again; the link step runs after ninja",
        )
    return found[0].parent


def link_blobs(build_dir: Path, sources: tuple[BlobSource, ...] = BLOB_SOURCES) -> list[str]:
    """Link the files of ``sources`` into the bundle's data directory, unless the tree has
    a file of that name there (the first source with a name wins); the names linked."""
    data_dir = bundle_data_dir(build_dir)
    linked: list[str] = []
    for source in sources:
        directory = build_dir / source.directory  # an absolute directory stays itself
        blobs = sorted(directory.glob(source.pattern))
        if not blobs:
            raise HarnessError(
                STEP,
                f"no {source.pattern} files in {directory}, which QEMU's default machines "
                "load their firmware from",
                path=directory,
                hint=f"install Debian's {source.package} package (`make setup` does)"
                if source.package
                else "build again: the option ROM step makes them",
            )
        for blob in blobs:
            target = data_dir / blob.name
            if blob.name in linked or (target.exists() and not target.is_symlink()):
                continue
            target.unlink(missing_ok=True)
            target.symlink_to(blob.resolve())
            linked.append(blob.name)
    return linked


def existing_binary(
    workdir: Workdir, profile: str, build_dir: Path | None = None, option: str = "--no-build"
) -> Path:
    """The binary of a profile's earlier build, for commands run with --no-build (or
    another ``option`` that does not build)."""
    binary = (build_dir or workdir.build_dir(profile)).resolve() / PROFILES[profile].binary
    if not binary.is_file():
        raise HarnessError(
            STEP,
            f"no {binary.name} at {binary} and {option} was given",
            path=binary,
            hint=f"run `vmfwupdate build --profile {profile}` once"
            + (", or drop --no-build" if option == "--no-build" else ""),
        )
    return binary


def build(
    src: Path,
    workdir: Workdir,
    runner: Runner,
    *,
    profile: str = "default",
    build_dir: Path | None = None,
    jobs: int = 2,
    extra_targets: tuple[str, ...] = (),
) -> BuildResult:
    start = time.monotonic()
    build_dir = (build_dir or workdir.build_dir(profile)).resolve()
    log = workdir.log(f"build-{profile}.log")
    log.write_text("", encoding="utf-8")
    env = build_env(workdir)
    ccache = shutil.which("ccache") is not None
    if not ccache:
        logger.info("build: ccache not installed, building without it (`make setup` installs it)")
    args = configure_args(profile, configure_python(sys.executable), ccache)
    spec = PROFILES[profile]
    toolchain.ensure(spec.packages, runner, f"build profile {profile!r}")
    libigvm = igvm.Layout.for_repo(workdir.repo)
    inputs = {"libigvm": igvm.require(libigvm, STEP)}
    configured = configure(src, build_dir, args, runner, env, log, inputs)
    targets = [*spec.targets, *extra_targets]
    run_ninja(build_dir, targets, runner, env, log, jobs, f"build {profile}")
    if spec.option_roms:
        build_option_roms(build_dir, runner, env, log)
    if spec.firmware_path is not None:
        link_firmware(build_dir, spec.firmware_path)
    if spec.bundled_blobs:
        linked = link_blobs(build_dir)
        logger.debug(f"build: linked {len(linked)} firmware file(s) into the bundle")
    qemu = build_dir / spec.binary
    seconds = time.monotonic() - start
    logger.info(
        f"build: IGVM support: {igvm_summary(build_dir) or 'unknown (no meson log)'} "
        f"(libigvm: {libigvm.prefix})"
    )
    logger.info(f"build: {qemu} ready ({seconds:.1f}s, log: {log})")
    return BuildResult(
        build_dir=build_dir,
        qemu=qemu,
        configured=configured,
        seconds=seconds,
        log=log,
    )
