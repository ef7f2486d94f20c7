"""A hostile guest: a long seeded random sequence of agent operations against the model.

Operations come from the ABI's generator (`harness.interface.v6_hostile`,
`v7_hostile`: any file, any value, any length, junk lines, resets by every
method, reads of everything, and on v7 IGVM images and flips of their bytes in
guest RAM). After every operation: QEMU is alive and answers QMP, every
vmfwupdate file reads back what the model says (opaque through its CRC32), and
after a reset the firmware that boots is the one the model predicts (identity
and CRC32).

On an ABI that takes IGVM images (v7) the test also places IGVM files in guest
RAM: agent images wrapped by the pinned igvm-wrap (`igvm_files`), of 64 KiB to
1 MiB (the largest pages lie outside the ROM region and its room, and outside
the memory of a host started from a 256 KiB IGVM file: BAD_LAYOUT). The model
knows each file's pages (igvm-inspect) and the bytes libigvm's checks cover
(`v7_igvm_files`); the guest arms them as they are and damaged, and damages
them after arming (APPLY_FAIL at the reset). It runs on both boot kinds
(`boot_kind`): a guest started from an IGVM file has no ROM region, and only
FORMAT_IGVM is offered there.

    pytest tests/functional/flows/test_hostile.py --hostile-seed 1234 --hostile-ops 500
    pytest tests/functional/flows/test_hostile.py --hostile-long       # 10,000 operations

A failure prints the seed and the failing step; the same seed and count
replay it exactly. `hostile-summary.txt` beside the VM's logs records the seed,
the counts (resets, refused writes, IGVM images armed and refused by status,
applied or failed at a reset, flips) and the time.

On an ABI with room for a bigger firmware (a `rom_room`, v7's `rom-max-size`)
the -bios host gets ROOM and an image of that size is among the placed ones; the
model takes the region's size from the device (`region_size`: fw_rom_size),
so images up to it are armed and booted.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from checks import assert_runs, guest_ram, image_facts, load, reset, status
from igvm_files import BIOS, IgvmFiles
from vms import STAGE1, Booted, Booter

from harness.guest.protocol import HOST_RESET_METHOD
from harness.interface.abis import abi as abi_declaration
from harness.interface.hostile import (
    NO_SUCH_FILE,
    OK,
    READ_ONLY_FILE,
    Flip,
    HostileWorld,
    Junk,
    Op,
    OpSource,
    Read,
    Reset,
    Write,
    by_crc,
    expected_read,
    state_mismatches,
)
from harness.interface.hostile_guest import Guest, Image, PlacedIgvm
from harness.interface.hostile_worlds import WORLDS
from harness.interface.v7_igvm_files import rom_region_memory
from harness.platform import KIB, MIB

REGION = 256 * KIB
SCRATCH = 32 * MIB  # where large files are loaded to take their CRC32
IMAGES = (
    ("h64", 64 * KIB, 16 * MIB),
    ("h128", 128 * KIB, 17 * MIB),
    ("h256", REGION, 18 * MIB),
)
# Room (where the ABI has it) and an image that fills it.
ROOM = 2 * REGION
ROOM_IMAGES = (("h512", ROOM, 19 * MIB),)
# Agent images wrapped as IGVM files (identity, agent size, where the file lies in RAM).
IGVM_IMAGES = (
    ("g64", 64 * KIB, 20 * MIB),
    ("g256", REGION, 21 * MIB),
    ("g512", ROOM, 22 * MIB),
    ("g1m", MIB, 23 * MIB),
)
LONG_OPS = 10_000


@dataclass
class Run:
    seed: int
    ops: int
    done: int = 0
    resets: int = 0
    rejected_writes: int = 0


def seed_and_ops(config: pytest.Config, default_ops: int) -> tuple[int, int]:
    seed = config.getoption("--hostile-seed")
    ops = config.getoption("--hostile-ops") or default_ops
    return (seed if seed is not None else random.SystemRandom().randrange(1 << 32)), ops


@pytest.fixture
def host(igvm_host: Booter, boot_kind: str, igvm_files: IgvmFiles) -> Host:
    """Boots the host agent as `boot_kind` says (-bios, or from its IGVM file)."""
    return Host(igvm_host, boot_kind, igvm_files)


@dataclass
class World:
    """The booted VM, the ABI's model and generator, the images by identity, the RO blob."""

    b: Booted
    model: HostileWorld
    ops: OpSource
    paths: dict[str, Path]
    ro: bytes


def place_igvm(b: Booted, files: IgvmFiles, wrapped: dict[str, Path]) -> tuple[PlacedIgvm, ...]:
    """Load each wrapped agent (fw_cfg blob opt/vmfwtest/<identity>.igvm) at its address
    in guest RAM; checks that the guest loaded exactly the file."""
    placed = []
    for ident, _, addr in IGVM_IMAGES:
        loaded = load(b.agent, f"opt/vmfwtest/{ident}.igvm", addr)
        assert loaded == image_facts(wrapped[ident], addr), f"load {ident}: {loaded}"
        placed.append(files.placed(ident, wrapped[ident], addr))
    return tuple(placed)


def setup_world(host: Booter, files: IgvmFiles, boot_kind: str, tmp_path: Path, seed: int) -> World:
    ro_data = random.Random(7).randbytes(200)
    ro = tmp_path / "hostile-ro.bin"
    ro.write_bytes(ro_data)
    declaration = abi_declaration(host.abi)
    room = declaration.rom_room is not None and boot_kind == BIOS  # no ROM region else
    placed = IMAGES + ROOM_IMAGES if room else IMAGES
    paths = {ident: host.image(size, ident) for ident, size, _ in placed}
    blobs = {f"opt/vmfwtest/{ident}": path for ident, path in paths.items()}
    takes_igvm = declaration.igvm_trace is not None
    wrapped = {}
    if takes_igvm:
        for ident, size, _ in IGVM_IMAGES:
            paths[ident] = host.image(size, ident)
            wrapped[ident] = files.agent(size, ident)
            blobs[f"opt/vmfwtest/{ident}.igvm"] = wrapped[ident]
    b = host(
        size=REGION,
        identity=STAGE1,
        blobs={**blobs, READ_ONLY_FILE: ro},
        rom_max_size=ROOM if room else None,
    )
    assert_runs(b.banner, b.image, STAGE1)
    paths[STAGE1] = b.image
    for ident, _, addr in placed:
        b.agent.load(f"opt/vmfwtest/{ident}", addr)
    images = tuple(Image(ident, addr, size) for ident, size, addr in placed)
    reported = b.device.region_size()
    region = REGION if reported is None else reported
    if b.igvm is not None:
        firmware_memory = files.native_pages(b.igvm)  # what the launch made for them
    else:
        firmware_memory = rom_region_memory(declaration, region, REGION)
    guest = Guest(
        guest_ram(b.vm),
        region,
        images,
        STAGE1,
        place_igvm(b, files, wrapped) if takes_igvm else (),
        firmware_memory if takes_igvm else (),
        from_igvm=b.igvm is not None,
    )
    model, ops = WORLDS[b.abi](guest, seed)
    return World(b, model, ops, paths, ro_data)


def check_state(b: Booted, model: HostileWorld) -> None:
    """Every device file reads back what the model says (large ones by CRC32); QEMU runs."""
    large = by_crc(model)
    read = {name: b.agent.read(name) for name in model.files() if name not in large}
    crcs: dict[str, int] = {}
    for name in large:
        size, crcs[name] = b.agent.load(name, SCRATCH)
        assert size == len(model.files()[name]), f"{name} is {size} bytes"
    problems = state_mismatches(read, crcs, model)
    assert not problems, "; ".join(problems)
    assert status(b.vm) == "running"


def step(w: World, op: Op, run: Run) -> None:
    b, model, a = w.b, w.model, w.b.agent
    if isinstance(op, Write):
        reply = a.command(f"write {op.name} {op.data.hex()}")
        outcome = OK if reply.ok else reply.text.split(" ", 1)[0]
        want = model.write(op.name, op.data)
        assert outcome == want, f"agent answered {outcome!r} ({reply.text}), model says {want!r}"
        run.rejected_writes += outcome != OK  # refused by fw_cfg itself
    elif isinstance(op, Read):
        if op.name == READ_ONLY_FILE:
            assert a.read(op.name) == w.ro
        else:
            reply = a.command(f"read {op.name}")
            want = expected_read(model, op.name)
            if want is None:
                assert not reply.ok and reply.text.startswith(NO_SUCH_FILE), reply
            else:
                assert reply.ok, reply
                got = bytes.fromhex("".join(line[5:] for line in reply.data))
                assert got == want, f"read {op.name}: {got[:16].hex()} != {want[:16].hex()}"
    elif isinstance(op, Reset):
        want = model.reset()
        outcome = reset(b.vm, op.method)
        assert outcome.guest is (op.method != HOST_RESET_METHOD), outcome
        assert_runs(outcome.banner, w.paths[want], want)
        run.resets += 1
    elif isinstance(op, Junk):
        reply = a.command(op.line)
        assert not reply.ok, f"junk line {op.line!r} was accepted: {reply}"
    elif isinstance(op, Flip):
        old = a.mread(op.addr, 1)[0]
        a.mwrite(op.addr, bytes([old ^ op.mask]))
        model.flip(op.addr, op.mask)
    check_state(b, model)


@dataclass(frozen=True)
class Host:
    """How the run's host is booted: the booter, its boot kind, the IGVM files it wraps."""

    boot: Booter
    kind: str
    files: IgvmFiles


def drive(host: Host, tmp_path: Path, seed: int, count: int) -> Run:
    w = setup_world(host.boot, host.files, host.kind, tmp_path, seed)
    run = Run(seed, count)
    history: list[str] = []
    start = time.monotonic()
    for index in range(count):
        op = w.ops.next_op()
        history.append(f"#{index}: {op.describe()}")
        try:
            step(w, op, run)
        except Exception as exc:
            recent = "\n  ".join(history[-12:])
            pytest.fail(
                f"hostile guest failed at operation {index} of {count}, seed {seed}: "
                f"{type(exc).__name__}: {exc}\nlast operations:\n  {recent}\n"
                f"replay: pytest tests/functional/flows/test_hostile.py --hostile-seed {seed} "
                f"--hostile-ops {index + 1}",
                pytrace=False,
            )
        run.done += 1
    took = time.monotonic() - start
    events = "".join(f", {n} {name}" for name, n in sorted(w.model.events.items()))
    summary = (
        f"hostile: seed {seed}: {run.done} operations, {run.resets} resets, "
        f"{run.rejected_writes} refused writes{events}, {took:.1f} s"
    )
    print(summary)
    # kept beside the VM's logs, so that a passing run's seed is on record too
    (w.b.vm.logs.directory / "hostile-summary.txt").write_text(summary + "\n")
    return run


# TCG only (not a core check): under the slow PVM KVM here a run would take many minutes.
def test_hostile_guest(host: Host, pytestconfig: pytest.Config, tmp_path: Path) -> None:
    seed, count = seed_and_ops(pytestconfig, 200)
    run = drive(host, tmp_path, seed, count)
    assert run.done == count


def test_hostile_guest_long(host: Host, pytestconfig: pytest.Config, tmp_path: Path) -> None:
    if not pytestconfig.getoption("--hostile-long"):
        pytest.skip(f"{LONG_OPS} operations: run with --hostile-long (make ... SLOW=1)")
    seed, count = seed_and_ops(pytestconfig, LONG_OPS)
    run = drive(host, tmp_path, seed, max(count, LONG_OPS))
    assert run.done >= LONG_OPS
