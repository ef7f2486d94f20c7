"""libigvm and the IGVM tools, built from pinned crates into ``.work/igvm/prefix``.

QEMU's ``--enable-igvm`` needs libigvm (``dependency('igvm', version: '>= 0.3.0')``,
``<igvm/igvm.h>``, ``<igvm/igvm_defs.h>``); the tests need ``igvm-wrap`` and
``igvm-inspect`` to make and read IGVM files. Everything comes from crates.io, at the
versions and checksums of ``third_party/igvm/Cargo.lock``:

    prefix/lib/libigvm.a             the igvm crate's C API (feature igvm-c), static
    prefix/include/igvm/igvm.h       generated with cbindgen (harness/build/igvm_cbindgen.py
    prefix/include/igvm/igvm_defs.h  and the configs in third_party/igvm)
    prefix/lib/pkgconfig/igvm.pc     relocatable (${pcfiledir}); PKG_CONFIG_PATH points here
    prefix/bin/igvm-wrap, igvm-inspect   from virtfw-igvm-tools

`make setup` runs this module (``python -m harness.build.igvm``). The prefix carries a stamp
with the hash of everything it is built from (`input_hash`); when the stamp matches, set-up
does nothing. A finished prefix is also kept in ``$XDG_CACHE_HOME/vmfwupdate/igvm-<hash>``,
so another clone on the same machine copies it instead of building (cargo's own target
directory is kept there too). The QEMU build step reads `pkg_config_path` and refuses to
configure against a prefix whose stamp does not match (`require`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.build import igvm_cbindgen
from harness.errors import HarnessError
from harness.runner import Runner, base_env
from harness.workdir import find_repo_root

logger = logging.getLogger(__name__)

STEP = "setup"

# The crates set-up builds; their versions are whatever Cargo.lock pins.
IGVM_CRATE = "igvm"
DEFS_CRATE = "igvm_defs"
TOOLS_CRATE = "virtfw-igvm-tools"
CBINDGEN_CRATE = "cbindgen"
CAPI_PACKAGE = "vmfwupdate-igvm-capi"  # ours: third_party/igvm/capi
CAPI_ARCHIVE = "libigvm_capi.a"
CRATES = (IGVM_CRATE, DEFS_CRATE, TOOLS_CRATE, CBINDGEN_CRATE)
TOOLS = ("igvm-wrap", "igvm-inspect")
LIBRARY = "libigvm.a"
HEADERS = ("igvm.h", "igvm_defs.h")
PKG_CONFIG_NAME = "igvm"
# QEMU 10.2.2's meson.build: dependency('igvm', version: '>= 0.3.0')
QEMU_MIN_IGVM = "0.3.0"
# The oldest Rust that builds every locked crate (their largest `rust-version`; a unit
# test compares). Debian 12's rustc 1.63 is older.
MIN_RUST = "1.85"
JOBS = 2

SOURCE = Path("third_party") / "igvm"  # in the repository
STAMP = "vmfwupdate-igvm.json"  # in the prefix
# Files of the repository that decide what the prefix holds, besides SOURCE.
RECIPE = (Path("harness/build/igvm.py"), Path("harness/build/igvm_cbindgen.py"))


@dataclass(frozen=True)
class Layout:
    """Where the inputs, the prefix and the caches are."""

    repo: Path
    cache_home: Path  # $XDG_CACHE_HOME or ~/.cache

    @classmethod
    def for_repo(cls, repo: Path, env: dict[str, str] | None = None) -> Layout:
        env = dict(os.environ) if env is None else env
        cache = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
        return cls(repo, Path(cache))

    @property
    def source(self) -> Path:
        return self.repo / SOURCE

    @property
    def lock(self) -> Path:
        return self.source / "Cargo.lock"

    @property
    def root(self) -> Path:
        return self.repo / ".work" / "igvm"

    @property
    def prefix(self) -> Path:
        return self.root / "prefix"

    @property
    def log(self) -> Path:
        return self.root / "build.log"

    @property
    def generated(self) -> Path:
        """The crate sources as cbindgen reads them, and the configs it was given."""
        return self.root / "cbindgen"

    @property
    def cache(self) -> Path:
        return self.cache_home / "vmfwupdate"

    @property
    def cargo_target(self) -> Path:
        """cargo's target directory, shared by the clones on this machine (cargo locks it)."""
        return self.cache / "igvm-target"

    def cached_prefix(self, digest: str) -> Path:
        return self.cache / f"igvm-{digest[:16]}"

    @property
    def pkg_config_path(self) -> Path:
        return self.prefix / "lib" / "pkgconfig"

    def tool(self, name: str) -> Path:
        return self.prefix / "bin" / name


def input_files(layout: Layout) -> list[Path]:
    """Every file the prefix is built from: third_party/igvm and this recipe."""
    files = [p for p in layout.source.rglob("*") if p.is_file() and "target" not in p.parts]
    return sorted(files) + [layout.repo / path for path in RECIPE]


def input_hash(layout: Layout) -> str:
    digest = hashlib.sha256()
    for path in input_files(layout):
        digest.update(str(path.relative_to(layout.repo)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def locked_versions(lock: Path) -> dict[str, str]:
    """Package name -> version, from a Cargo.lock (one version per name here)."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    versions: dict[str, str] = {}
    for package in data.get("package", []):
        versions.setdefault(package["name"], package["version"])
    return versions


def version_tuple(text: str) -> tuple[int, int, int]:
    """``1.85`` and ``1.85.0`` alike: (1, 85, 0)."""
    parts = [int(part) for part in re.findall(r"\d+", text)[:3]]
    major, minor, patch = [*parts, 0, 0, 0][:3]
    return major, minor, patch


def pkg_config_text(version: str, native_libs: list[str]) -> str:
    """The ``igvm.pc`` file: relocatable, so a prefix copied from the cache works as is.

    The library is static only, so the system libraries Rust's standard library needs go
    into ``Libs`` (not ``Libs.private``): QEMU's meson asks for the shared-link flags."""
    libs = " ".join(["-L${libdir}", "-ligvm", *native_libs])
    return (
        f"# Generated by vmfwupdate-harness (harness/build/igvm.py): the {IGVM_CRATE} crate "
        f"{version}, C API\n"
        "prefix=${pcfiledir}/../..\n"
        "libdir=${prefix}/lib\n"
        "includedir=${prefix}/include\n"
        "\n"
        f"Name: {PKG_CONFIG_NAME}\n"
        "Description: IGVM file parser (the igvm crate's C API, static)\n"
        f"Version: {version}\n"
        f"Libs: {libs}\n"
        "Cflags: -I${includedir}\n"
    )


def pkg_config_digest(prefix: Path) -> str:
    """What QEMU's configure reads of a prefix: its pkg-config file (version, flags). The
    rest needs no reconfigure: meson makes the link depend on libigvm.a, and the compiler's
    dependency files make the objects depend on the headers."""
    pc = prefix / "lib" / "pkgconfig" / f"{PKG_CONFIG_NAME}.pc"
    return hashlib.sha256(pc.read_bytes()).hexdigest()


def read_stamp(prefix: Path) -> dict[str, object] | None:
    try:
        stamp = json.loads((prefix / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def complete(prefix: Path, digest: str) -> bool:
    """The prefix was built from these inputs and has every file it should."""
    stamp = read_stamp(prefix)
    if stamp is None or stamp.get("input_hash") != digest:
        return False
    wanted = [
        prefix / "lib" / LIBRARY,
        prefix / "lib" / "pkgconfig" / f"{PKG_CONFIG_NAME}.pc",
        *(prefix / "include" / "igvm" / name for name in HEADERS),
        *(prefix / "bin" / name for name in TOOLS),
    ]
    return all(path.is_file() for path in wanted)


def missing_cargo_error(found: str | None = None) -> HarnessError:
    problem = (
        f"cargo {found} is older than Rust {MIN_RUST}, which the pinned crates need"
        if found
        else "cargo (Rust) not found: it builds libigvm and igvm-wrap, which QEMU's "
        "--enable-igvm and the IGVM tests need"
    )
    return HarnessError(
        STEP,
        problem,
        hint=f"install Rust {MIN_RUST} or newer with rustup (https://rustup.rs: "
        "`curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y`, then "
        "`. ~/.cargo/env`), or put its cargo on PATH or in $CARGO; Debian 12's cargo "
        "package is too old. Then run `make setup` again",
    )


def find_cargo(env: dict[str, str]) -> Path | None:
    """$CARGO, cargo on PATH, or rustup's default place ($CARGO_HOME/bin, ~/.cargo/bin)."""
    if env.get("CARGO"):
        return Path(env["CARGO"]) if Path(env["CARGO"]).is_file() else None
    found = shutil.which("cargo", path=env.get("PATH", ""))
    if found:
        return Path(found)
    homes = [env.get("CARGO_HOME"), str(Path(env.get("HOME", "~")).expanduser() / ".cargo")]
    for home in homes:
        if home and (Path(home) / "bin" / "cargo").is_file():
            return Path(home) / "bin" / "cargo"
    return None


@dataclass(frozen=True)
class Cargo:
    """One cargo, run in third_party/igvm with the shared target directory."""

    path: Path
    layout: Layout
    runner: Runner

    @property
    def env(self) -> dict[str, str]:
        # rustup's proxies and cargo find rustc next to cargo
        path = str(self.path.parent) + os.pathsep + os.environ.get("PATH", "")
        return base_env({"PATH": path, "CARGO_TARGET_DIR": str(self.layout.cargo_target)})

    def version(self) -> str:
        proc = self.runner.run([self.path, "--version"], step=STEP, env=self.env)
        return proc.stdout.split()[1] if len(proc.stdout.split()) > 1 else proc.stdout

    def stream(self, args: list[str], what: str) -> list[str]:
        """Run ``cargo <args>`` with its output in the build log; return the output lines."""
        lines: list[str] = []
        code = self.runner.stream(
            [self.path, *args],
            cwd=self.layout.source,
            env=self.env,
            log=self.layout.log,
            on_line=lines.append,
        )
        if code != 0:
            raise HarnessError(
                STEP,
                f"cargo failed {what} (exit code {code})",
                path=self.layout.log,
                details="\n".join(lines[-25:]),
                hint="read the log; crates.io must be reachable for the first build "
                "(the versions are fixed by third_party/igvm/Cargo.lock)",
            )
        return lines

    def metadata(self) -> dict[str, Path]:
        """Package name -> source directory, for the locked packages of this host."""
        host = self.runner.run(
            [self.path.parent / "rustc", "-vV"]
            if (self.path.parent / "rustc").exists()
            else ["rustc", "-vV"],
            step=STEP,
            env=self.env,
        ).stdout
        triple = re.search(r"^host: (\S+)$", host, re.MULTILINE)
        args = [self.path, "metadata", "--locked", "--offline", "--format-version", "1"]
        if triple:
            args += ["--filter-platform", triple[1]]
        proc = self.runner.run(args, step=STEP, cwd=self.layout.source, env=self.env)
        packages = json.loads(proc.stdout)["packages"]
        return {p["name"]: Path(p["manifest_path"]).parent for p in packages}


def build_prefix(cargo: Cargo, out: Path, digest: str) -> dict[str, object]:
    """Build everything into ``out`` (an empty directory); return the stamp."""
    layout = cargo.layout
    base = ["--locked", "--release", f"-j{JOBS}"]
    # The capi crate is rebuilt (one small crate) so rustc prints the system libraries a
    # program linking the static library needs.
    cargo.stream(["clean", "--release", "-p", CAPI_PACKAGE], "cleaning the capi crate")
    lines = cargo.stream(
        ["rustc", *base, "-p", CAPI_PACKAGE, "--", "--print", "native-static-libs"],
        "building libigvm",
    )
    native = next(
        (
            line.split("native-static-libs:", 1)[1].split()
            for line in lines
            if "native-static-libs:" in line
        ),
        None,
    )
    if native is None:
        raise HarnessError(
            STEP,
            "rustc did not print the static library's native libraries",
            path=layout.log,
            hint="delete the cargo target directory "
            f"({layout.cargo_target}) and run `make setup` again",
        )
    cargo.stream(
        ["build", *base, "-p", TOOLS_CRATE, *(f"--bin={tool}" for tool in TOOLS)],
        f"building {', '.join(TOOLS)}",
    )
    cargo.stream(["build", *base, "-p", CBINDGEN_CRATE, "--bin=cbindgen"], "building cbindgen")
    release = layout.cargo_target / "release"

    (out / "lib" / "pkgconfig").mkdir(parents=True)
    (out / "bin").mkdir()
    (out / "include" / "igvm").mkdir(parents=True)
    shutil.copy2(release / CAPI_ARCHIVE, out / "lib" / LIBRARY)
    for tool in TOOLS:
        shutil.copy2(release / tool, out / "bin" / tool)
    generate_headers(cargo, release / "cbindgen", out / "include" / "igvm")

    versions = locked_versions(layout.lock)
    (out / "lib" / "pkgconfig" / f"{PKG_CONFIG_NAME}.pc").write_text(
        pkg_config_text(versions[IGVM_CRATE], native), encoding="utf-8"
    )
    check_prefix(out, cargo.runner, layout)
    return {
        "input_hash": digest,
        "versions": {name: versions[name] for name in CRATES},
        "native_libs": native,
        "rust": cargo.version(),
    }


def generate_headers(cargo: Cargo, cbindgen: Path, include: Path) -> None:
    layout = cargo.layout
    sources = cargo.metadata()
    gen = layout.generated
    gen.mkdir(parents=True, exist_ok=True)
    jobs = (
        (DEFS_CRATE, "cbindgen-igvm_defs.toml", "igvm_defs.h"),
        (IGVM_CRATE, "cbindgen-igvm.toml", "igvm.h"),
    )
    for crate, config, header in jobs:
        try:
            entry, changed = igvm_cbindgen.prepare(sources[crate], crate, gen / crate)
        except igvm_cbindgen.PrepareError as exc:
            raise HarnessError(
                STEP,
                f"cannot prepare the {crate} crate for cbindgen: {exc}",
                path=sources[crate],
                hint="the pinned crate changed shape: adapt harness/build/igvm_cbindgen.py",
            ) from exc
        logger.debug("setup: %s for cbindgen: %s", crate, "; ".join(changed))
        include_types = igvm_cbindgen.public_types(gen / crate) if crate == DEFS_CRATE else []
        cfg = igvm_cbindgen.write_config(layout.source / config, gen / config, include_types)
        code = cargo.runner.stream(
            [cbindgen, "--quiet", "--config", cfg, "--output", include / header, entry],
            log=layout.log,
        )
        if code != 0 or not (include / header).is_file():
            raise HarnessError(
                STEP,
                f"cbindgen failed generating {header} (exit code {code})",
                path=layout.log,
                hint=f"read the log; the config is {layout.source / config}",
            )


def check_prefix(prefix: Path, runner: Runner, layout: Layout) -> None:
    """Compile, link and run third_party/igvm/check.c against ``prefix`` with the flags its
    pkg-config file gives, as QEMU's build will."""
    env = base_env({"PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")})
    flags = runner.run(
        ["pkg-config", "--cflags", "--libs", PKG_CONFIG_NAME],
        step=STEP,
        env=env,
        hint="install pkg-config (`make setup` does)",
    ).stdout.split()
    binary = layout.root / "check"
    runner.run(
        [
            "cc",
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror",
            layout.source / "check.c",
            "-o",
            binary,
            *flags,
        ],
        step=STEP,
        hint="the generated headers or the pkg-config flags are wrong: see the compiler's "
        "messages above",
    )
    runner.run([binary], step=STEP, hint="the library does not behave: see its output above")


def install_from(source: Path, prefix: Path) -> None:
    """Replace ``prefix`` with a copy of ``source`` (through a temporary sibling)."""
    staging = prefix.with_name(prefix.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, symlinks=True)
    replace(staging, prefix)


def replace(staging: Path, prefix: Path) -> None:
    old = prefix.with_name(prefix.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if prefix.exists():
        prefix.rename(old)
    staging.rename(prefix)
    shutil.rmtree(old, ignore_errors=True)


CACHE_KEEP = 4  # prefixes kept in the cache (clones on other commits may use older ones)


def prune_cache(cache: Path, keep: int = CACHE_KEEP) -> list[Path]:
    """Delete all but the ``keep`` most recently made cached prefixes; return the deleted."""
    entries = sorted(
        (p for p in cache.glob("igvm-*") if p.is_dir() and p.name != "igvm-target"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return entries[keep:]


def save_to_cache(prefix: Path, cached: Path) -> None:
    """Copy a finished prefix into the cache; another set-up may race us: first one wins."""
    if cached.exists():
        return
    staging = cached.with_name(f"{cached.name}.tmp-{os.getpid()}")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(prefix, staging, symlinks=True)
        staging.rename(cached)
        prune_cache(cached.parent)
    except OSError as exc:  # a cache is an optimisation: say so, do not fail set-up
        logger.warning(f"setup: could not keep a copy in {cached}: {exc}")
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class Outcome:
    action: str  # "up to date", "copied from cache", "built"
    seconds: float
    stamp: dict[str, object]


def ensure(layout: Layout, runner: Runner, env: dict[str, str] | None = None) -> Outcome:
    """Make ``layout.prefix`` match the inputs: nothing, a copy from the cache, or a build."""
    start = time.monotonic()
    env = dict(os.environ) if env is None else env
    digest = input_hash(layout)
    if complete(layout.prefix, digest):
        return Outcome("up to date", time.monotonic() - start, read_stamp(layout.prefix) or {})
    cached = layout.cached_prefix(digest)
    if complete(cached, digest):
        install_from(cached, layout.prefix)
        return Outcome(
            "copied from cache", time.monotonic() - start, read_stamp(layout.prefix) or {}
        )

    found = find_cargo(env)
    if found is None:
        raise missing_cargo_error()
    cargo = Cargo(found, layout, runner)
    version = cargo.version()
    if version_tuple(version) < version_tuple(MIN_RUST):
        raise missing_cargo_error(version)
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.log.write_text("", encoding="utf-8")
    staging = layout.prefix.with_name(layout.prefix.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    versions = locked_versions(layout.lock)
    runner.say(
        f"setup: building libigvm {versions[IGVM_CRATE]}, {', '.join(TOOLS)} "
        f"({TOOLS_CRATE} {versions[TOOLS_CRATE]}) with cargo {version} (minutes the first "
        f"time on a machine, seconds later; log: {layout.log})"
    )
    stamp = build_prefix(cargo, staging, digest)
    (staging / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    replace(staging, layout.prefix)
    save_to_cache(layout.prefix, cached)
    return Outcome("built", time.monotonic() - start, stamp)


def require(layout: Layout, step: str = "build") -> str:
    """Check that the installed prefix matches the inputs; return its `pkg_config_digest`,
    the identity of what QEMU's configure finds through ``PKG_CONFIG_PATH``."""
    if not complete(layout.prefix, input_hash(layout)):
        raise HarnessError(
            step,
            f"libigvm is not installed in {layout.prefix}, or was built from other pins "
            "(QEMU is configured with --enable-igvm against it)",
            path=layout.prefix,
            hint="run `make setup` (it builds libigvm from third_party/igvm once, or copies "
            "it from the cache)",
        )
    return pkg_config_digest(layout.prefix)


def main() -> int:
    """`make setup`'s step: ``python -m harness.build.igvm [--repo DIR]``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    repo = Path(sys.argv[sys.argv.index("--repo") + 1]) if "--repo" in sys.argv else None
    layout = Layout.for_repo((repo or find_repo_root()).resolve())
    try:
        outcome = ensure(layout, Runner())
    except HarnessError as exc:
        print(exc.render().removeprefix("vmfwupdate "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    versions = outcome.stamp.get("versions")
    pins = versions.items() if isinstance(versions, dict) else ()
    names = ", ".join(f"{name} {version}" for name, version in pins)
    print(
        f"setup: libigvm and IGVM tools ({names}) in {layout.prefix}: {outcome.action} "
        f"({outcome.seconds:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
