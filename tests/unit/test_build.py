"""Build configuration: exact configure flags, reconfigure decisions, progress display."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pytest

from harness.build import ninja_progress, qemu
from harness.errors import HarnessError
from harness.runner import Runner

DEV_TREE_FLAGS = [
    "--cc=ccache cc",
    "--cxx=ccache c++",
    "--python=/venv/bin/python3",
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
    "--enable-igvm",
]


def test_default_profile_matches_the_dev_tree_flags() -> None:
    assert qemu.configure_args("default", "/venv/bin/python3", ccache=True) == DEV_TREE_FLAGS


def test_without_ccache_no_compiler_wrapper() -> None:
    args = qemu.configure_args("default", "/venv/bin/python3", ccache=False)
    assert args == DEV_TREE_FLAGS[2:]


def test_asan_profile_adds_sanitizers() -> None:
    args = qemu.configure_args("asan", "/p", ccache=True)
    assert args[-2:] == ["--enable-asan", "--enable-ubsan"]
    assert "--enable-werror" in args


def test_i386_tcg_profile_overrides_targets_and_kvm() -> None:
    # configure takes the last of repeated options: the profile's come after the common ones
    args = qemu.configure_args("i386-tcg", "/p", ccache=True)
    last_targets = [a for a in args if a.startswith("--target-list=")][-1]
    assert last_targets == "--target-list=i386-softmmu,x86_64-softmmu"
    assert args.index("--disable-kvm") > args.index("--enable-kvm")
    assert "qemu-system-i386" in qemu.PROFILES["i386-tcg"].targets


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(HarnessError) as info:
        qemu.configure_args("fast", "/p", ccache=True)
    assert "default" in (info.value.hint or "") and "asan" in (info.value.hint or "")


def test_needs_configure(tmp_path: Path) -> None:
    wanted = {"source": "/src", "args": ["--a"]}
    assert qemu.needs_configure(tmp_path, wanted)
    (tmp_path / "build.ninja").write_text("")
    (tmp_path / qemu.MARKER).write_text(json.dumps(wanted))
    assert not qemu.needs_configure(tmp_path, wanted)
    assert qemu.needs_configure(tmp_path, {"source": "/src", "args": ["--b"]})
    assert qemu.needs_configure(tmp_path, {"source": "/other", "args": ["--a"]})


def test_configured_source_reads_the_marker(tmp_path: Path) -> None:
    assert qemu.configured_source(tmp_path) is None
    wanted = {"source": "/src/qemu", "args": ["--a"]}
    (tmp_path / qemu.MARKER).write_text(json.dumps({**wanted, "incomplete": True}))
    assert qemu.configured_source(tmp_path) is None
    (tmp_path / qemu.MARKER).write_text(json.dumps(wanted))
    assert qemu.configured_source(tmp_path) == Path("/src/qemu")


def test_foreign_build_dir_is_not_wiped(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    (build_dir / "precious").write_text("x")
    with pytest.raises(HarnessError, match="not made by the toolkit"):
        qemu.configure(tmp_path, build_dir, ["--a"], Runner(out=io.StringIO()), {}, tmp_path / "l")
    assert (build_dir / "precious").read_text() == "x"


def test_progress_prints_every_tenth_off_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ninja_progress.__name__)
    progress = qemu.NinjaProgress(Runner(out=io.StringIO()), "build default")
    for i in range(1, 101):
        progress(f"[{i}/100] Compiling C object foo{i}.o")
    progress("FAILED: bar.o")
    progress("bar.c:1:1: error: expected ';'")
    progress("[101/100] Linking")
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "build default: [1/100   1%] Compiling C object foo1.o"
    assert lines[-1].startswith("build default: [100/100 100%]")
    assert len(lines) == 1 + 10  # the first line and one per 10 %
    assert progress.errors == ["FAILED: bar.o", "bar.c:1:1: error: expected ';'"]


def test_interrupted_configure_is_redone(tmp_path: Path) -> None:
    """A build dir whose configure never finished carries the 'incomplete' marker: the
    next build reconfigures it (after wiping) instead of refusing it as foreign."""
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    wanted = {"source": "/src", "args": ["--a"]}
    (build_dir / "build.ninja").write_text("")
    (build_dir / qemu.MARKER).write_text(json.dumps({**wanted, "incomplete": True}))
    assert qemu.needs_configure(build_dir, wanted)
    src = tmp_path / "src"
    src.mkdir()
    (src / "configure").write_text("#!/bin/sh\nexit 3\n")
    (src / "configure").chmod(0o755)
    with pytest.raises(HarnessError, match="configure failed"):
        qemu.configure(src, build_dir, ["--a"], Runner(out=io.StringIO()), {}, tmp_path / "l")
    assert not build_dir.exists()  # a failed configure leaves nothing behind


def make_venv(root: Path) -> Path:
    """A venv's layout as `python -m venv` makes it: python3 -> the interpreter, python and
    python3.11 -> python3."""
    (root / "bin").mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).resolve().parent}\n")
    (root / "bin" / "python3").symlink_to(Path(sys.executable).resolve())
    (root / "bin" / "python").symlink_to("python3")
    (root / "bin" / "python3.11").symlink_to("python3")
    return root


def test_configure_identity_is_the_venv_however_python_was_started(tmp_path: Path) -> None:
    """`make` runs .venv/bin/python, the console script .venv/bin/python3: one configure
    identity, so switching between them never reconfigures (and rebuilds) QEMU."""
    venv = make_venv(tmp_path / "venv")
    names = ("python", "python3", "python3.11")
    pythons = {qemu.configure_python(str(venv / "bin" / name)) for name in names}
    assert pythons == {str(venv / "bin" / "python")}
    wanted = {"source": "/src", "args": qemu.configure_args("default", pythons.pop(), True)}
    (tmp_path / "build.ninja").write_text("")
    (tmp_path / qemu.MARKER).write_text(json.dumps(wanted))
    for name in names:
        args = qemu.configure_args("default", qemu.configure_python(str(venv / "bin" / name)), True)
        assert not qemu.needs_configure(tmp_path, {"source": "/src", "args": args})


def test_configure_identity_differs_for_another_interpreter(tmp_path: Path) -> None:
    venv = qemu.configure_python(str(make_venv(tmp_path / "a") / "bin" / "python3"))
    other_venv = qemu.configure_python(str(make_venv(tmp_path / "b") / "bin" / "python3"))
    base = qemu.configure_python(str(Path(sys.executable).resolve()))
    assert len({venv, other_venv, base}) == len([venv, other_venv, base])
    assert base == str(Path(sys.executable).resolve())  # outside a venv: the real file


def test_fuzz_profile_is_clang_with_libfuzzer_and_sanitizers() -> None:
    args = qemu.configure_args("fuzz", "/p", ccache=True)
    assert args[:2] == ["--cc=ccache clang-16", "--cxx=ccache clang++-16"]
    assert {"--enable-fuzzing", "--enable-asan", "--enable-ubsan"} <= set(args)
    assert qemu.configure_args("fuzz", "/p", ccache=False)[:2] == [
        "--cc=clang-16",
        "--cxx=clang++-16",
    ]
    spec = qemu.PROFILES["fuzz"]
    assert spec.targets[0] == "qemu-fuzz-x86_64" and spec.binary == "qemu-fuzz-x86_64"
    assert not spec.option_roms and spec.firmware_path == "/usr/share/seabios"
    assert "libfuzzer-16-dev" in spec.packages and "clang-16" in spec.packages
    assert not qemu.PROFILES["default"].packages


def test_firmware_link_points_into_the_real_directory(tmp_path: Path) -> None:
    real = tmp_path / "seabios"
    real.mkdir()
    (real / "bios-256k.bin").write_bytes(b"\0")
    build_dir = tmp_path / "build"
    qemu.link_firmware(build_dir, str(real))
    bundled = build_dir / "qemu-bundle" / str(real).lstrip("/")
    assert bundled.resolve() == real.resolve()
    qemu.link_firmware(build_dir, str(real))  # again: nothing to do


def test_missing_firmware_says_which_package(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as info:
        qemu.link_firmware(tmp_path / "b", str(tmp_path / "none"))
    assert "seabios" in (info.value.hint or "")


def blob_tree(tmp_path: Path) -> tuple[Path, Path, tuple[qemu.BlobSource, ...]]:
    """A build tree with a bundle data directory, a distro directory and built ROMs."""
    distro = tmp_path / "seabios"
    distro.mkdir()
    for name in ("bios-256k.bin", "vgabios-stdvga.bin", "kvmvapic.bin", "README"):
        (distro / name).write_bytes(name.encode())
    build_dir = tmp_path / "build"
    data_dir = build_dir / "qemu-bundle" / "usr" / "local" / "share" / "qemu"
    (data_dir / "keymaps").mkdir(parents=True)
    (data_dir / "trace-events-all").write_bytes(b"the tree's own file")
    roms = build_dir / "pc-bios" / "optionrom"
    roms.mkdir(parents=True)
    (roms / "kvmvapic.bin").write_bytes(b"built")
    (roms / "kvmvapic.o").write_bytes(b"object")
    sources = (
        qemu.BlobSource(str(distro), "*.bin", "seabios"),
        qemu.BlobSource("pc-bios/optionrom", "*.bin", None),
    )
    return build_dir, data_dir, sources


def test_blobs_are_linked_into_the_bundle_data_dir(tmp_path: Path) -> None:
    build_dir, data_dir, sources = blob_tree(tmp_path)
    linked = qemu.link_blobs(build_dir, sources)
    assert linked == ["bios-256k.bin", "kvmvapic.bin", "vgabios-stdvga.bin"]
    assert (data_dir / "bios-256k.bin").read_bytes() == b"bios-256k.bin"
    assert (data_dir / "kvmvapic.bin").read_bytes() == b"kvmvapic.bin"  # the first source wins
    assert not (data_dir / "README").exists() and not (data_dir / "kvmvapic.o").exists()
    assert qemu.link_blobs(build_dir, sources) == linked  # again: the same links


def test_blobs_leave_the_trees_own_files(tmp_path: Path) -> None:
    build_dir, data_dir, sources = blob_tree(tmp_path)
    (tmp_path / "seabios" / "trace-events-all.bin").write_bytes(b"x")
    (data_dir / "trace-events-all.bin").write_bytes(b"the tree's")
    assert "trace-events-all.bin" not in qemu.link_blobs(build_dir, sources)
    assert (data_dir / "trace-events-all.bin").read_bytes() == b"the tree's"


def test_missing_blobs_say_which_package(tmp_path: Path) -> None:
    build_dir, _, _ = blob_tree(tmp_path)
    absent = (qemu.BlobSource(str(tmp_path / "ipxe"), "*.rom", "ipxe-qemu"),)
    with pytest.raises(HarnessError) as info:
        qemu.link_blobs(build_dir, absent)
    assert "ipxe-qemu" in (info.value.hint or "")


def test_blobs_need_a_built_tree(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="keymaps"):
        qemu.link_blobs(tmp_path / "nothing")


def test_default_and_asan_builds_bundle_the_blobs() -> None:
    assert qemu.PROFILES["default"].bundled_blobs and qemu.PROFILES["asan"].bundled_blobs
    assert not qemu.PROFILES["fuzz"].bundled_blobs
    assert {s.package for s in qemu.BLOB_SOURCES} == {"seabios", "ipxe-qemu", None}


def test_the_trees_own_roms_come_before_the_distributions() -> None:
    assert qemu.BLOB_SOURCES[0].package is None
