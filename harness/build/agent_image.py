"""Build guest agent firmware images from the sources in harness/agent/.

An image is a flat x86 firmware of 64 KiB .. 16 MiB (64 KiB steps) that QEMU
maps below 4 GiB with ``-bios``. Building compiles the agent sources with the
GNU toolchain (objects cached per output directory and reused until a source,
the flags or the toolchain change), links them for the requested size,
converts the ELF to a flat binary and checks the result (exact size, reset
vector jumps to the 16-bit entry, no undefined symbols).

    python -m harness.build.agent_image --size 0x10000 --identity a --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

AGENT_DIR = Path(__file__).resolve().parents[1] / "agent"

KIB = 1024
MIN_SIZE = 64 * KIB
MAX_SIZE = 16 * KIB * KIB
SIZE_STEP = 64 * KIB
FOUR_GIB = 1 << 32
RESET_VECTOR = FOUR_GIB - 16

IDENTITY_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")

C_SOURCES = ("main.c", "serial.c", "idle.c", "fwcfg.c", "crc32.c", "reset.c", "lib.c")
ASM_SOURCES = ("entry.S",)
HEADERS = ("io.h", "serial.h", "idle.h", "fwcfg.h", "crc32.h", "reset.h")
LINKER_SCRIPT = "agent.ld"
ENTRY16_SYMBOL = "entry16"

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

APT_HINT = "install the cross toolchain: apt-get install gcc-i686-linux-gnu binutils-i686-linux-gnu"


class PayloadError(HarnessError):
    """A build step failed; the message names the step, the file and what to do."""

    def __init__(
        self,
        step: str,
        message: str,
        path: Path | None = None,
        output: str = "",
        hint: str | None = None,
    ):
        super().__init__(step, message, path=path, hint=hint, details=output.strip() or None)
        self.output = output

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path is not None else ""
        text = f"agent build step '{self.step}' failed{where}: {self.problem}"
        if self.details:
            text += "\n" + self.details
        if self.hint:
            text += f"\nwhat to do: {self.hint}"
        return text


@dataclass(frozen=True)
class Toolchain:
    """Commands used to build the agent (cross toolchain or host gcc -m32)."""

    cc: tuple[str, ...]
    ld: str
    objcopy: str
    nm: str

    def describe(self) -> str:
        return " ".join(self.cc)


@dataclass(frozen=True)
class AgentImage:
    """A built agent image and the facts its boot banner will report."""

    path: Path
    size: int
    identity: str
    crc32: int
    rebuilt: bool
    seconds: float

    @property
    def rom_base(self) -> int:
        return FOUR_GIB - self.size

    def banner(self) -> str:
        return (
            f"VMFWAGENT v1 identity={self.identity} rom-base=0x{self.rom_base:08x} "
            f"rom-size=0x{self.size:08x} crc32=0x{self.crc32:08x}"
        )


def validate_size(size: int) -> int:
    """Return size if it is a valid image size, else raise PayloadError."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise PayloadError("validate", f"image size must be an integer, got {size!r}")
    if size < MIN_SIZE or size > MAX_SIZE or size % SIZE_STEP:
        raise PayloadError(
            "validate",
            f"image size {size:#x} is invalid: use a multiple of 64 KiB (0x10000) "
            f"from {MIN_SIZE:#x} to {MAX_SIZE:#x}",
        )
    return size


def validate_identity(identity: str) -> str:
    """Return identity if it is 1..32 characters of [A-Za-z0-9._-], else raise."""
    if not isinstance(identity, str) or not IDENTITY_RE.fullmatch(identity):
        raise PayloadError(
            "validate",
            f"identity {identity!r} is invalid: use 1 to 32 characters from [A-Za-z0-9._-]",
        )
    return identity


def image_name(identity: str, size: int) -> str:
    return f"agent-{identity}-{size}.bin"


def find_toolchain() -> Toolchain:
    """Prefer the i686 cross toolchain; fall back to the host gcc with -m32."""
    cross = [f"i686-linux-gnu-{tool}" for tool in ("gcc", "ld", "objcopy", "nm")]
    if all(shutil.which(tool) for tool in cross):
        return Toolchain(cc=(cross[0],), ld=cross[1], objcopy=cross[2], nm=cross[3])
    host = ["gcc", "ld", "objcopy", "nm"]
    if all(shutil.which(tool) for tool in host):
        return Toolchain(cc=("gcc", "-m32"), ld="ld", objcopy="objcopy", nm="nm")
    raise PayloadError("toolchain", "no i686-linux-gnu-gcc or gcc/binutils in PATH", hint=APT_HINT)


def _run(step: str, cmd: Sequence[str], path: Path | None, verbose: bool) -> str:
    if verbose:
        print("+ " + " ".join(cmd), file=sys.stderr)
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env, check=False)
    except FileNotFoundError:
        raise PayloadError(step, f"command {cmd[0]!r} not found", path, hint=APT_HINT) from None
    if proc.returncode != 0:
        raise PayloadError(
            step,
            f"{cmd[0]} exited with status {proc.returncode}",
            path,
            proc.stdout + proc.stderr,
        )
    return proc.stdout


def source_key(toolchain: Toolchain, agent_dir: Path = AGENT_DIR) -> str:
    """Hash of everything the objects depend on: sources, headers, flags, tools."""
    digest = hashlib.sha256()
    for part in (*toolchain.cc, toolchain.ld, toolchain.objcopy, toolchain.nm, *CFLAGS, *LDFLAGS):
        digest.update(part.encode() + b"\0")
    for name in (*C_SOURCES, *ASM_SOURCES, *HEADERS, LINKER_SCRIPT):
        path = agent_dir / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PayloadError("sources", f"cannot read agent source: {exc}", path) from None
        digest.update(name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def _compile_objects(
    toolchain: Toolchain, key: str, out_dir: Path, agent_dir: Path, verbose: bool
) -> list[Path]:
    """Compile the shared objects once per key; return their paths."""
    obj_dir = out_dir / f".agent-obj-{key[:16]}"
    names = [Path(src).with_suffix(".o").name for src in (*ASM_SOURCES, *C_SOURCES)]
    if (obj_dir / "complete").is_file():
        return [obj_dir / name for name in names]
    tmp_dir = Path(tempfile.mkdtemp(prefix=".agent-obj-tmp-", dir=out_dir))
    try:
        for src in (*ASM_SOURCES, *C_SOURCES):
            src_path = agent_dir / src
            obj = tmp_dir / Path(src).with_suffix(".o").name
            cmd = [
                *toolchain.cc,
                *CFLAGS,
                "-I",
                str(agent_dir),
                "-c",
                str(src_path),
                "-o",
                str(obj),
            ]
            _run("compile", cmd, src_path, verbose)
        (tmp_dir / "complete").write_text(key + "\n")
        try:
            tmp_dir.rename(obj_dir)
        except OSError:
            if not (obj_dir / "complete").is_file():  # lost a race only if the winner finished
                raise PayloadError("compile", "cannot move objects into place", obj_dir) from None
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return [obj_dir / name for name in names]


def _symbols(toolchain: Toolchain, elf: Path, verbose: bool) -> dict[str, int]:
    out = _run("nm", [toolchain.nm, str(elf)], elf, verbose)
    symbols: dict[str, int] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3:
            symbols[fields[2]] = int(fields[0], 16)
    return symbols


def check_undefined(nm_u_output: str, path: Path | None = None) -> None:
    """Reject an ELF whose `nm -u` output lists any symbol."""
    undefined = [line.split()[-1] for line in nm_u_output.splitlines() if line.strip()]
    if undefined:
        raise PayloadError(
            "check-undefined",
            "undefined symbols: "
            + ", ".join(undefined)
            + " (provide them in harness/agent/lib.c; 64-bit division needs a helper)",
            path,
        )


def reset_vector_target(image: bytes) -> int:
    """Linear address the real-mode jump at 4 GiB - 16 lands on (CS base 0xffff0000)."""
    if len(image) < 16:
        raise PayloadError("check-reset-vector", f"image is only {len(image)} bytes")
    vec = image[-16:]
    ip = RESET_VECTOR & 0xFFFF
    if vec[0] == 0xE9:  # jmp rel16
        rel = int.from_bytes(vec[1:3], "little", signed=True)
        return 0xFFFF0000 | ((ip + 3 + rel) & 0xFFFF)
    if vec[0] == 0xEB:  # jmp rel8
        rel = int.from_bytes(vec[1:2], "little", signed=True)
        return 0xFFFF0000 | ((ip + 2 + rel) & 0xFFFF)
    raise PayloadError(
        "check-reset-vector",
        f"the reset vector holds {vec[:4].hex()}, not a near jump (e9/eb)",
    )


def check_image(image: bytes, size: int, entry16: int, path: Path | None = None) -> None:
    """Post-link checks on a flat image: exact size, reset vector jumps to entry16."""
    if len(image) != size:
        raise PayloadError(
            "check-size",
            f"image is {len(image)} bytes, expected {size} "
            "(check the linker script: a section outside the ROM or too much code)",
            path,
        )
    try:
        target = reset_vector_target(image)
    except PayloadError as exc:
        raise PayloadError(exc.step, exc.problem, path) from None
    if target != entry16 or target < FOUR_GIB - size:
        raise PayloadError(
            "check-reset-vector",
            f"the reset vector jumps to {target:#010x}, "
            f"expected the 16-bit entry at {entry16:#010x}",
            path,
        )


def build_agent_image(
    size: int,
    identity: str,
    out_dir: Path,
    *,
    toolchain: Toolchain | None = None,
    agent_dir: Path = AGENT_DIR,
    verbose: bool = False,
) -> AgentImage:
    """Build (or reuse) out_dir/agent-<identity>-<size>.bin and describe it."""
    start = time.monotonic()
    validate_size(size)
    validate_identity(identity)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PayloadError("output", f"cannot create output directory: {exc}", out_dir) from None
    toolchain = toolchain or find_toolchain()
    key = source_key(toolchain, agent_dir)
    image_path = out_dir / image_name(identity, size)
    stamp_path = image_path.with_name(image_path.name + ".key")

    if image_path.is_file() and stamp_path.is_file() and stamp_path.read_text().strip() == key:
        data = image_path.read_bytes()
        if len(data) == size:
            return AgentImage(
                image_path, size, identity, zlib.crc32(data), False, time.monotonic() - start
            )

    objects = _compile_objects(toolchain, key, out_dir, agent_dir, verbose)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".agent-link-tmp-", dir=out_dir))
    try:
        ident_src = tmp_dir / "identity.c"
        ident_src.write_text(f'const char agent_identity[] = "{identity}";\n')
        ident_obj = tmp_dir / "identity.o"
        _run(
            "compile",
            [*toolchain.cc, *CFLAGS, "-c", str(ident_src), "-o", str(ident_obj)],
            ident_src,
            verbose,
        )

        elf = tmp_dir / "agent.elf"
        script = agent_dir / LINKER_SCRIPT
        link = [
            toolchain.ld,
            *LDFLAGS,
            "-T",
            str(script),
            f"--defsym=ROM_SIZE={size:#x}",
            "-o",
            str(elf),
            *map(str, objects),
            str(ident_obj),
        ]
        _run("link", link, script, verbose)
        check_undefined(_run("nm", [toolchain.nm, "-u", str(elf)], elf, verbose), elf)
        symbols = _symbols(toolchain, elf, verbose)
        if ENTRY16_SYMBOL not in symbols:
            raise PayloadError("check-reset-vector", f"symbol {ENTRY16_SYMBOL} missing", elf)

        binary = tmp_dir / "agent.bin"
        _run("objcopy", [toolchain.objcopy, "-O", "binary", str(elf), str(binary)], elf, verbose)
        data = binary.read_bytes()
        check_image(data, size, symbols[ENTRY16_SYMBOL], binary)

        binary.replace(image_path)
        elf.replace(image_path.with_suffix(".elf"))
        stamp_tmp = tmp_dir / "stamp"
        stamp_tmp.write_text(key + "\n")
        stamp_tmp.replace(stamp_path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return AgentImage(image_path, size, identity, zlib.crc32(data), True, time.monotonic() - start)


def build_agent(
    size: int,
    identity: str,
    out_dir: Path,
    *,
    toolchain: Toolchain | None = None,
    verbose: bool = False,
) -> Path:
    """Build (or reuse) the agent image for size/identity; return its path."""
    return build_agent_image(size, identity, out_dir, toolchain=toolchain, verbose=verbose).path


def _parse_size(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (e.g. 0x10000 or 65536)"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.build.agent_image",
        description="Build a guest agent firmware image.",
    )
    parser.add_argument(
        "--size",
        type=_parse_size,
        required=True,
        help="image size, 64 KiB .. 16 MiB in 64 KiB steps",
    )
    parser.add_argument(
        "--identity", required=True, help="identity string in the banner ([A-Za-z0-9._-], max 32)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the commands run")
    args = parser.parse_args(argv)
    try:
        image = build_agent_image(args.size, args.identity, args.out, verbose=args.verbose)
    except PayloadError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    state = "built" if image.rebuilt else "up to date"
    print(
        f"{image.path} size={image.size:#x} crc32=0x{image.crc32:08x} "
        f"({state}, {image.seconds:.2f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
