"""The compilers and flags that build the guest agent (i686 cross toolchain or gcc -m32)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from harness.errors import AgentBuildError

APT_HINT = "install the cross toolchain: apt-get install gcc-i686-linux-gnu binutils-i686-linux-gnu"

CFLAGS = (
    "-march=i686",
    "-ffreestanding",
    "-fno-pic",
    "-fno-pie",
    "-fno-stack-protector",
    "-fno-delete-null-pointer-checks",
    "-fno-asynchronous-unwind-tables",
    "-fno-builtin",
    "-fcf-protection=none",
    "--param=min-pagesize=0",
    "-nostdlib",
    "-Os",
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Werror",
)
LDFLAGS = (
    "-m",
    "elf_i386",
    "-nostdlib",
    "-static",
    "--build-id=none",
    "-z",
    "noexecstack",
    "--no-warn-rwx-segments",
    "--fatal-warnings",
)


@dataclass(frozen=True)
class Toolchain:
    """Commands used to build the agent (cross toolchain or host gcc -m32)."""

    cc: tuple[str, ...]
    ld: str
    objcopy: str
    nm: str

    def describe(self) -> str:
        return " ".join(self.cc)


def find_toolchain() -> Toolchain:
    """Prefer the i686 cross toolchain; fall back to the host gcc with -m32."""
    cross = [f"i686-linux-gnu-{tool}" for tool in ("gcc", "ld", "objcopy", "nm")]
    if all(shutil.which(tool) for tool in cross):
        return Toolchain(cc=(cross[0],), ld=cross[1], objcopy=cross[2], nm=cross[3])
    host = ["gcc", "ld", "objcopy", "nm"]
    if all(shutil.which(tool) for tool in host):
        return Toolchain(cc=("gcc", "-m32"), ld="ld", objcopy="objcopy", nm="nm")
    raise AgentBuildError(
        "toolchain", "no i686-linux-gnu-gcc or gcc/binutils in PATH", hint=APT_HINT
    )
