"""Build guest agent firmware images from the sources in harness/agent/.

An image is a flat x86 firmware of 64 KiB .. 16 MiB (64 KiB steps) that QEMU
maps below 4 GiB with ``-bios``. Building writes `agent_protocol.h` (the
protocol's limits, from `harness.guest.protocol`), compiles the agent sources
with the GNU toolchain (objects cached per output directory and reused until a
source, the generated header, the flags or the toolchain change), links them
for the requested size, converts the ELF to a flat binary and checks the
result (`harness.build.image_checks`). Every command goes through `Runner`.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

from harness.build.agent_toolchain import APT_HINT, CFLAGS, LDFLAGS, Toolchain, find_toolchain
from harness.build.image_checks import check_image, check_undefined
from harness.errors import AgentBuildError, HarnessError
from harness.guest import protocol
from harness.guest.image import AgentImage, image_name, validate_identity, validate_size
from harness.runner import Runner, base_env

AGENT_DIR = Path(__file__).resolve().parents[1] / "agent"

C_SOURCES = ("main.c", "serial.c", "idle.c", "fwcfg.c", "crc32.c", "reset.c", "lib.c")
ASM_SOURCES = ("entry.S",)
HEADERS = ("io.h", "serial.h", "idle.h", "fwcfg.h", "crc32.h", "reset.h")
GENERATED_HEADER = "agent_protocol.h"
LINKER_SCRIPT = "agent.ld"
ENTRY16_SYMBOL = "entry16"
NM_FIELDS = 3


def _tool(runner: Runner, step: str, cmd: Sequence[str], path: Path | None) -> str:
    """Run one toolchain command; its failure is an AgentBuildError naming step and file."""
    try:
        proc = runner.run(cmd, step=step, env=base_env({"LC_ALL": "C"}), check=False)
    except HarnessError as exc:  # the command is not installed
        raise AgentBuildError(step, exc.problem, path, hint=APT_HINT) from exc
    if proc.returncode != 0:
        raise AgentBuildError(
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
            raise AgentBuildError("sources", f"cannot read agent source: {exc}", path) from exc
        digest.update(name.encode() + b"\0" + data + b"\0")
    digest.update(GENERATED_HEADER.encode() + b"\0" + protocol.c_header().encode())
    return digest.hexdigest()


def _compile_objects(
    toolchain: Toolchain, key: str, out_dir: Path, agent_dir: Path, runner: Runner
) -> list[Path]:
    """Compile the shared objects once per key; return their paths."""
    obj_dir = out_dir / f".agent-obj-{key[:16]}"
    names = [Path(src).with_suffix(".o").name for src in (*ASM_SOURCES, *C_SOURCES)]
    if (obj_dir / "complete").is_file():
        return [obj_dir / name for name in names]
    tmp_dir = Path(tempfile.mkdtemp(prefix=".agent-obj-tmp-", dir=out_dir))
    try:
        (tmp_dir / GENERATED_HEADER).write_text(protocol.c_header())
        for src in (*ASM_SOURCES, *C_SOURCES):
            src_path = agent_dir / src
            obj = tmp_dir / Path(src).with_suffix(".o").name
            cmd = [
                *toolchain.cc,
                *CFLAGS,
                "-I",
                str(tmp_dir),
                "-I",
                str(agent_dir),
                "-c",
                str(src_path),
                "-o",
                str(obj),
            ]
            _tool(runner, "compile", cmd, src_path)
        (tmp_dir / "complete").write_text(key + "\n")
        try:
            tmp_dir.rename(obj_dir)
        except OSError as exc:
            if not (obj_dir / "complete").is_file():  # lost a race only if the winner finished
                raise AgentBuildError("compile", "cannot move objects into place", obj_dir) from exc
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return [obj_dir / name for name in names]


def _symbols(toolchain: Toolchain, elf: Path, runner: Runner) -> dict[str, int]:
    out = _tool(runner, "nm", [toolchain.nm, str(elf)], elf)
    symbols: dict[str, int] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == NM_FIELDS:
            symbols[fields[2]] = int(fields[0], 16)
    return symbols


def build_agent_image(
    size: int,
    identity: str,
    out_dir: Path,
    *,
    toolchain: Toolchain | None = None,
    agent_dir: Path = AGENT_DIR,
    verbose: bool = False,
    runner: Runner | None = None,
) -> AgentImage:
    """Build (or reuse) out_dir/agent-<identity>-<size>.bin and describe it."""
    start = time.monotonic()
    validate_size(size)
    validate_identity(identity)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AgentBuildError("output", f"cannot create output directory: {exc}", out_dir) from exc
    toolchain = toolchain or find_toolchain()
    runner = runner or Runner(verbose=verbose)
    key = source_key(toolchain, agent_dir)
    image_path = out_dir / image_name(identity, size)
    stamp_path = image_path.with_name(image_path.name + ".key")

    if image_path.is_file() and stamp_path.is_file() and stamp_path.read_text().strip() == key:
        data = image_path.read_bytes()
        if len(data) == size:
            return AgentImage(
                image_path, size, identity, zlib.crc32(data), False, time.monotonic() - start
            )

    objects = _compile_objects(toolchain, key, out_dir, agent_dir, runner)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".agent-link-tmp-", dir=out_dir))
    try:
        ident_src = tmp_dir / "identity.c"
        ident_src.write_text(f'const char agent_identity[] = "{identity}";\n')
        ident_obj = tmp_dir / "identity.o"
        _tool(
            runner,
            "compile",
            [*toolchain.cc, *CFLAGS, "-c", str(ident_src), "-o", str(ident_obj)],
            ident_src,
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
        _tool(runner, "link", link, script)
        check_undefined(_tool(runner, "nm", [toolchain.nm, "-u", str(elf)], elf), elf)
        symbols = _symbols(toolchain, elf, runner)
        if ENTRY16_SYMBOL not in symbols:
            raise AgentBuildError("check-reset-vector", f"symbol {ENTRY16_SYMBOL} missing", elf)

        binary = tmp_dir / "agent.bin"
        _tool(runner, "objcopy", [toolchain.objcopy, "-O", "binary", str(elf), str(binary)], elf)
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
