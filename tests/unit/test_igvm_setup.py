"""libigvm's set-up (harness/build/igvm.py): the stamp and the cache, the pkg-config file as
pkg-config reads it, cargo missing, the pins, and the generated C headers against files
made by the pinned igvm-wrap."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.build import igvm, igvm_cbindgen
from harness.build.qemu import igvm_summary
from harness.errors import HarnessError
from harness.runner import Runner
from harness.workdir import find_repo_root

REPO = find_repo_root()
INSTALLED = igvm.Layout.for_repo(REPO)
SEABIOS = Path("/usr/share/seabios/bios-256k.bin")


def needs_prefix() -> None:
    if not igvm.complete(INSTALLED.prefix, igvm.input_hash(INSTALLED)):
        pytest.skip(f"no up-to-date libigvm in {INSTALLED.prefix}: run `make setup`")


def copy_inputs(repo: Path) -> None:
    """A repository with this one's IGVM inputs (the same hash) and nothing else."""
    shutil.copytree(INSTALLED.source, repo / igvm.SOURCE, ignore=shutil.ignore_patterns("target"))
    for path in igvm.RECIPE:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, repo / path)


def pkg_config(pc_dir: Path, *args: str) -> str:
    env = {**os.environ, "PKG_CONFIG_PATH": str(pc_dir)}
    cmd = ["pkg-config", *args, igvm.PKG_CONFIG_NAME]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def include_dir(cflags: str) -> Path:
    """The directory of ``-I<dir>`` (the .pc file's ${pcfiledir}/../.. left as is)."""
    assert cflags.startswith("-I") and " " not in cflags, cflags
    return Path(cflags[2:]).resolve()


# --- the stamp and the cache ---------------------------------------------------------


def test_input_hash_covers_the_lock_the_configs_and_the_recipe(tmp_path: Path) -> None:
    copy_inputs(tmp_path)
    layout = igvm.Layout(tmp_path, tmp_path / "cache")
    first = igvm.input_hash(layout)
    assert first == igvm.input_hash(INSTALLED)  # paths are relative: any clone, one hash
    for changed in (
        layout.lock,
        layout.source / "cbindgen-igvm_defs.toml",
        tmp_path / "harness/build/igvm_cbindgen.py",
    ):
        original = changed.read_bytes()
        changed.write_bytes(original + b"\n")
        assert igvm.input_hash(layout) != first, changed
        changed.write_bytes(original)
    assert igvm.input_hash(layout) == first


def test_a_prefix_counts_only_with_its_stamp_and_every_file(tmp_path: Path) -> None:
    needs_prefix()
    prefix = tmp_path / "prefix"
    shutil.copytree(INSTALLED.prefix, prefix)
    digest = igvm.input_hash(INSTALLED)
    assert igvm.complete(prefix, digest)
    assert not igvm.complete(prefix, "0" * 64)  # built from other inputs
    (prefix / "include" / "igvm" / "igvm_defs.h").unlink()
    assert not igvm.complete(prefix, digest)  # a file is missing
    assert not igvm.complete(tmp_path / "nothing", digest)


def test_another_clone_copies_the_cached_prefix_then_does_nothing(tmp_path: Path) -> None:
    """A fresh clone on the same machine: the prefix comes from the cache, no cargo needed
    (PATH without it); the second set-up does nothing, well under a second."""
    needs_prefix()
    repo = tmp_path / "clone"
    copy_inputs(repo)
    layout = igvm.Layout(repo, tmp_path / "cache")
    digest = igvm.input_hash(layout)
    shutil.copytree(INSTALLED.prefix, layout.cached_prefix(digest))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    runner = Runner(out=io.StringIO())

    first = igvm.ensure(layout, runner, env)
    assert first.action == "copied from cache"
    assert igvm.complete(layout.prefix, digest)
    # relocatable: pkg-config names the clone's own prefix
    cflags = pkg_config(layout.pkg_config_path, "--cflags")
    assert include_dir(cflags) == (layout.prefix / "include").resolve()

    start = time.monotonic()
    second = igvm.ensure(layout, runner, env)
    assert second.action == "up to date"
    assert time.monotonic() - start < 1.0
    assert igvm.require(layout) == igvm.pkg_config_digest(layout.prefix)


def test_the_cache_keeps_the_newest_prefixes_and_cargos_target(tmp_path: Path) -> None:
    cache = tmp_path / "vmfwupdate"
    (cache / "igvm-target").mkdir(parents=True)
    made = []
    for n in range(igvm.CACHE_KEEP + 2):
        entry = cache / f"igvm-{n:016x}"
        entry.mkdir()
        os.utime(entry, (1000 + n, 1000 + n))
        made.append(entry)
    deleted = igvm.prune_cache(cache)
    assert sorted(deleted) == made[:2]
    assert sorted(p for p in cache.iterdir()) == [*made[2:], cache / "igvm-target"]


def test_the_qemu_build_refuses_a_missing_or_stale_prefix(tmp_path: Path) -> None:
    copy_inputs(tmp_path)
    layout = igvm.Layout(tmp_path, tmp_path / "cache")
    with pytest.raises(HarnessError, match="libigvm is not installed") as err:
        igvm.require(layout)
    assert "vmfwupdate build: error:" in err.value.render()
    assert "what to do: run `make setup`" in err.value.render()


# --- the pkg-config file ---------------------------------------------------------------


def test_pkg_config_file_satisfies_qemus_meson_check(tmp_path: Path) -> None:
    version = igvm.locked_versions(INSTALLED.lock)[igvm.IGVM_CRATE]
    pc_dir = tmp_path / "prefix" / "lib" / "pkgconfig"
    pc_dir.mkdir(parents=True)
    text = igvm.pkg_config_text(version, ["-lpthread", "-ldl"])
    (pc_dir / "igvm.pc").write_text(text)

    assert pkg_config(pc_dir, "--modversion") == version
    pkg_config(pc_dir, f"--atleast-version={igvm.QEMU_MIN_IGVM}")  # meson's '>= 0.3.0'
    prefix = (tmp_path / "prefix").resolve()
    assert include_dir(pkg_config(pc_dir, "--cflags")) == prefix / "include"
    libs = pkg_config(pc_dir, "--libs").split()
    assert Path(libs[0].removeprefix("-L")).resolve() == prefix / "lib"
    assert libs[1:] == ["-ligvm", "-lpthread", "-ldl"]  # static: its system libraries too


def test_installed_pkg_config_file_has_the_locked_version() -> None:
    needs_prefix()
    locked = igvm.locked_versions(INSTALLED.lock)[igvm.IGVM_CRATE]
    assert pkg_config(INSTALLED.pkg_config_path, "--modversion") == locked
    stamp = igvm.read_stamp(INSTALLED.prefix)
    assert stamp is not None
    assert stamp["versions"] == {
        name: igvm.locked_versions(INSTALLED.lock)[name] for name in igvm.CRATES
    }


# --- cargo missing -----------------------------------------------------------------------


def test_setup_without_cargo_says_what_to_install(tmp_path: Path) -> None:
    """The real scripts/setup, on a copy of the repository without a prefix, with a PATH and
    a HOME that have no cargo: it stops with set-up's error and what to install."""
    repo = tmp_path / "repo"
    copy_inputs(repo)
    (repo / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "setup", repo / "scripts" / "setup")
    shutil.copy2(REPO / "pyproject.toml", repo / "pyproject.toml")
    # A venv of the copy's own whose python runs this one's, with a stamp that says it is
    # up to date: set-up runs no pip, and nothing it does can reach this checkout's venv.
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    guard = '[ "$1 $2" = "-m pip" ] && { echo "no pip in this test" >&2; exit 99; }'
    python.write_text(f'#!/bin/sh\n{guard}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    version = subprocess.run(
        [str(python), "-V"], capture_output=True, text=True, check=True
    ).stdout.strip()
    digest = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()
    (repo / ".venv" / ".vmfwupdate-setup").write_text(f"{digest} {version}\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LANG": "C.UTF-8",
    }
    assert shutil.which("cargo", path=env["PATH"]) is None
    setup = ["bash", str(repo / "scripts" / "setup")]
    proc = subprocess.run(setup, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Python environment" in proc.stdout and "up to date" in proc.stdout, proc.stdout
    assert "setup: error: cargo (Rust) not found" in proc.stderr
    assert f"what to do: install Rust {igvm.MIN_RUST} or newer with rustup" in proc.stderr
    assert "setup: done" not in proc.stdout
    assert not (repo / ".work" / "igvm" / "prefix").exists()


def test_a_too_old_cargo_is_named(tmp_path: Path) -> None:
    err = igvm.missing_cargo_error("1.63.0")
    assert "cargo 1.63.0 is older than Rust" in err.render()


# --- the pins ----------------------------------------------------------------------------


def test_every_build_input_is_pinned_with_a_checksum() -> None:
    import tomllib  # noqa: PLC0415

    lock = tomllib.loads(INSTALLED.lock.read_text())
    registry = [p for p in lock["package"] if p.get("source", "").startswith("registry+")]
    assert registry, "the lock names no crates.io package"
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.get("checksum", "")) for p in registry)
    names = {p["name"] for p in registry}
    assert set(igvm.CRATES) <= names
    # one igvm for the library and the tools: igvm-wrap writes what libigvm reads
    assert [p["name"] for p in registry].count(igvm.IGVM_CRATE) == 1
    # the wrapper crates pin exact versions, so `cargo update` cannot move them
    for manifest in INSTALLED.source.glob("*/Cargo.toml"):
        for line in manifest.read_text().splitlines():
            if re.match(r"^(igvm|igvm_defs|virtfw-igvm-tools|cbindgen)\s*=", line):
                assert '"=' in line, f"{manifest}: {line}"


def test_min_rust_is_the_largest_rust_version_of_the_locked_crates() -> None:
    cargo = igvm.find_cargo(dict(os.environ))
    if cargo is None:
        pytest.skip("no cargo: the check needs `cargo metadata`")
    metadata = [cargo, "metadata", "--locked", "--offline", "--format-version", "1"]
    platform = ["--filter-platform", "x86_64-unknown-linux-gnu"]
    proc = subprocess.run(
        [*metadata, *platform], cwd=INSTALLED.source, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip(f"cargo metadata needs the crates downloaded (`make setup`): {proc.stderr}")
    versions = [p.get("rust_version") for p in json.loads(proc.stdout)["packages"]]
    newest = max((igvm.version_tuple(v) for v in versions if v), default=())
    assert newest == igvm.version_tuple(igvm.MIN_RUST)


# --- the generated headers -------------------------------------------------------------

BITFIELD_SOURCE = """\
/// Flags.
#[bitfield(u32)]
#[derive(IntoBytes, PartialEq)]
pub struct Flags {
    /// first bit
    pub big: bool,
    #[bits(3, default = 1)]
    pub kind: u8,
    // a comment
    #[bits(28)]
    pub reserved: u32,
}
"""


def test_bitfield_structs_become_c_bitfields() -> None:
    text, names = igvm_cbindgen.rewrite_bitfields(BITFIELD_SOURCE, "x.rs")
    assert names == ["Flags"]
    assert "#[repr(C)]" in text and "#[bitfield" not in text
    fields = re.findall(r"/// cbindgen:bitfield=(\d+)\n\s*pub (\w+): (\w+),", text)
    assert fields == [("1", "big", "u32"), ("3", "kind", "u32"), ("28", "reserved", "u32")]


def test_a_bitfield_that_does_not_fill_its_storage_stops_the_build() -> None:
    broken = BITFIELD_SOURCE.replace("#[bits(28)]", "#[bits(27)]")
    with pytest.raises(igvm_cbindgen.PrepareError, match="31 bits, its storage u32"):
        igvm_cbindgen.rewrite_bitfields(broken, "x.rs")


def test_an_annotation_whose_anchor_moved_stops_the_build() -> None:
    annotation = igvm_cbindgen.Annotation("x.rs", "pub enum Gone {", ("cbindgen:x=y",))
    with pytest.raises(igvm_cbindgen.PrepareError, match="found it 0 times"):
        igvm_cbindgen.annotate("pub enum Other {\n}\n", annotation, "x.rs")


def walk(tmp_path: Path, igvm_file: Path) -> list[str]:
    """third_party/igvm/check.c built against the installed prefix, run on ``igvm_file``."""
    flags = pkg_config(INSTALLED.pkg_config_path, "--cflags", "--libs").split()
    binary = tmp_path / "walk"
    source = INSTALLED.source / "check.c"
    subprocess.run(
        ["cc", "-std=gnu11", "-Wall", "-Werror", source, "-o", binary, *flags], check=True
    )
    proc = subprocess.run([binary, igvm_file], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


def wrap(tmp_path: Path, *options: str) -> tuple[Path, str]:
    if not SEABIOS.is_file():
        pytest.skip(f"no {SEABIOS} (Debian's seabios package; `make setup` installs it)")
    out = tmp_path / "seabios.igvm"
    subprocess.run(
        [INSTALLED.tool("igvm-wrap"), "-i", SEABIOS, "-o", out, *options],
        check=True,
        capture_output=True,
    )
    inspect = subprocess.run(
        [INSTALLED.tool("igvm-inspect"), out], check=True, capture_output=True, text=True
    )
    return out, inspect.stdout + inspect.stderr


def page_ranges(lines: list[str]) -> list[tuple[int, int]]:
    """Contiguous ranges of the 4 KiB pages the C walk printed."""
    gpas = sorted(
        int(m[1], 16) for line in lines if (m := re.match(r"page gpa=(0x[0-9a-f]+)", line))
    )
    ranges: list[tuple[int, int]] = []
    for gpa in gpas:
        if ranges and ranges[-1][1] + 1 == gpa:
            ranges[-1] = (ranges[-1][0], gpa + 0xFFF)
        else:
            ranges.append((gpa, gpa + 0xFFF))
    return ranges


def test_headers_read_the_pages_igvm_inspect_sees(tmp_path: Path) -> None:
    """C code built with the generated headers reads a SeaBIOS IGVM file made by the pinned
    igvm-wrap: the same page ranges as igvm-inspect prints, all normal 4 KiB pages with 4 KiB
    of data, one native platform."""
    needs_prefix()
    igvm_file, inspected = wrap(tmp_path)
    lines = walk(tmp_path, igvm_file)
    assert [line for line in lines if line.startswith("platform")] == [
        "platform type=0 mask=0x1 version=1 native"
    ]
    starts = re.findall(r"PageData: gpa (0x[0-9a-f]+)", inspected)
    ends = re.findall(r"PageData: end (0x[0-9a-f]+)", inspected)
    assert page_ranges(lines) == [
        (int(s, 16), int(e, 16)) for s, e in zip(starts, ends, strict=True)
    ]
    pages = [line for line in lines if line.startswith("page ")]
    assert pages and all(
        "flags=0x0 2mb=0 unmeasured=0 type=0 normal=1 data=4096" in line for line in pages
    )
    assert sum(e - s + 1 for s, e in page_ranges(lines)) == SEABIOS.stat().st_size + 128 * 1024


def test_headers_read_the_native_vp_context(tmp_path: Path) -> None:
    """--flat32 adds a native VP context: the C view of IgvmNativeVpContextX64 has the eip
    igvm-inspect prints, protected mode (CR0.PE) and a code selector."""
    needs_prefix()
    igvm_file, inspected = wrap(tmp_path, "--flat32")
    vp = [line for line in walk(tmp_path, igvm_file) if line.startswith("vp_context")]
    assert len(vp) == 1
    eip = re.search(r"eip (0x[0-9a-f]+)", inspected)
    assert eip is not None
    fields = dict(item.split("=") for item in vp[0].split()[1:])
    assert int(fields["rip"], 16) == int(eip[1], 16)
    assert int(fields["cr0"], 16) & 1  # PE
    assert int(fields["code_selector"], 16) != 0
    assert fields["vp"] == "0"


# --- the QEMU build step's summary -------------------------------------------------------


def test_build_summary_reads_meson_igvm_line(tmp_path: Path) -> None:
    logs = tmp_path / "meson-logs"
    logs.mkdir()
    summary = "    IGVM support                 : \x1b[1;32mYES\x1b[0m 0.5.0\n"
    (logs / "meson-log.txt").write_text("  Dependencies\n    libslirp : YES 4.7.0\n" + summary)
    assert igvm_summary(tmp_path) == "YES 0.5.0"
    assert igvm_summary(tmp_path / "none") is None
