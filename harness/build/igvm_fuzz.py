"""The libigvm fuzz target (third_party/igvm-fuzz), built with the stable Rust toolchain.

cargo-fuzz needs a nightly toolchain for its sanitizer flags; SanitizerCoverage itself is an
LLVM pass that stable rustc runs when asked (``-Cpasses=sancov-module`` and LLVM's own
options), and libfuzzer-sys links libFuzzer's engine. So the target is an ordinary cargo
binary: the flags below instrument every crate of the target (the igvm crate included, not
only the harness) with 8-bit edge counters, the PC table libFuzzer reports coverage from,
and comparison tracing. Its two cargo profiles (`PROFILES`, third_party/igvm-fuzz/Cargo.toml)
differ in the checks: ``as-linked`` computes as the release libigvm.a that QEMU links does,
``checked`` has overflow checks and debug assertions on. ``--target <host>`` keeps the
flags off build scripts and proc macros. No AddressSanitizer: stable rustc has no
``-Zsanitizer``, and the code is safe Rust but for the C API's pointer handling, which the
target exercises.

Versions come from third_party/igvm-fuzz/Cargo.lock; the igvm crates and every crate they
share with third_party/igvm/Cargo.lock are at the same versions (a unit test compares).
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.build.igvm import find_cargo, missing_cargo_error
from harness.errors import HarnessError
from harness.runner import Runner, base_env

STEP = "fuzz-libigvm"
SOURCE = Path("third_party") / "igvm-fuzz"
BINARY = "fuzz-igvm-c-api"
JOBS = 2
AS_LINKED = "as-linked"
CHECKED = "checked"
PROFILES = (AS_LINKED, CHECKED)
SANCOV_FLAGS = (
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg=fuzzing",
)


def host_triple(rustc_version: str) -> str:
    """The ``host:`` line of ``rustc -vV``."""
    match = re.search(r"^host: (\S+)$", rustc_version, re.MULTILINE)
    if match is None:
        raise ValueError("rustc -vV printed no host line")
    return match[1]


def cargo_command(cargo: Path, triple: str, profile: str) -> list[str]:
    return [
        str(cargo),
        "build",
        "--locked",
        "--profile",
        profile,
        f"-j{JOBS}",
        "--target",
        triple,
        "--bin",
        BINARY,
    ]


def build(repo: Path, target_dir: Path, profile: str, log: Path, runner: Runner) -> Path:
    """Build (or bring up to date) the fuzz target with cargo profile ``profile``; return
    the binary."""
    cargo = find_cargo(base_env())
    if cargo is None:
        raise missing_cargo_error()
    rustc = cargo.parent / "rustc"
    env = base_env({"CARGO_TARGET_DIR": str(target_dir), "RUSTFLAGS": " ".join(SANCOV_FLAGS)})
    version = runner.run([rustc if rustc.exists() else "rustc", "-vV"], step=STEP, env=env)
    triple = host_triple(version.stdout)
    log.write_text("", encoding="utf-8")
    lines: list[str] = []
    code = runner.stream(
        cargo_command(cargo, triple, profile),
        cwd=repo / SOURCE,
        env=env,
        log=log,
        on_line=lines.append,
    )
    if code != 0:
        raise HarnessError(
            STEP,
            f"cargo could not build the libigvm fuzz target (exit code {code})",
            path=log,
            details="\n".join(lines[-25:]),
            hint="crates.io must be reachable for the first build (the versions are fixed "
            f"by {SOURCE / 'Cargo.lock'})",
        )
    return target_dir / triple / profile / BINARY
