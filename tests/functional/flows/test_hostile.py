"""A hostile guest: a long seeded random sequence of agent operations against the model.

Operations come from `harness.interface.v6_hostile` (any file, any value, any length,
junk lines, resets by every method, reads of everything). After every
operation: QEMU is alive and answers QMP, every vmfwupdate file reads back
what the model says (opaque through its CRC32), and after a reset the
firmware that boots is the one the model predicts (identity and CRC32).

    pytest tests/functional/flows/test_hostile.py --hostile-seed 1234 --hostile-ops 500
    pytest tests/functional/flows/test_hostile.py --hostile-long       # 10,000 operations

A failure prints the seed and the failing step; the same seed and count
replay it exactly.

On an ABI with room for a bigger firmware (a `rom_room`, v7's `rom-max-size`)
the host gets ROOM and an image of that size is among the placed ones; the
model takes the region's size from the device (`region_size`: fw_rom_size),
so images up to it are armed and booted.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from checks import assert_runs, guest_ram, reset, status
from vms import STAGE1, Booted, Booter

from harness.guest.protocol import HOST_RESET_METHOD
from harness.interface.abis import abi as abi_declaration
from harness.interface.hostile import (
    NO_SUCH_FILE,
    OK,
    READ_ONLY_FILE,
    HostileWorld,
    Image,
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
from harness.interface.hostile_worlds import WORLDS
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


@dataclass
class World:
    """The booted VM, the ABI's model and generator, the images by identity, the RO blob."""

    b: Booted
    model: HostileWorld
    ops: OpSource
    paths: dict[str, Path]
    ro: bytes


def setup_world(boot: Booter, tmp_path: Path, seed: int) -> World:
    ro_data = random.Random(7).randbytes(200)
    ro = tmp_path / "hostile-ro.bin"
    ro.write_bytes(ro_data)
    room = abi_declaration(boot.abi).rom_room is not None
    placed = IMAGES + ROOM_IMAGES if room else IMAGES
    paths = {ident: boot.image(size, ident) for ident, size, _ in placed}
    blobs = {f"opt/vmfwtest/{ident}": path for ident, path in paths.items()}
    b = boot(
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
    model, ops = WORLDS[b.abi](guest_ram(b.vm), region, images, STAGE1, seed)
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
    check_state(b, model)


def drive(boot: Booter, tmp_path: Path, seed: int, count: int) -> Run:
    w = setup_world(boot, tmp_path, seed)
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
    summary = (
        f"hostile: seed {seed}: {run.done} operations, {run.resets} resets, "
        f"{run.rejected_writes} refused writes, {took:.1f} s"
    )
    print(summary)
    # kept beside the VM's logs, so that a passing run's seed is on record too
    (w.b.vm.logs.directory / "hostile-summary.txt").write_text(summary + "\n")
    return run


# TCG only (not a core check): under the slow PVM KVM here a run would take many minutes.
def test_hostile_guest(boot: Booter, pytestconfig: pytest.Config, tmp_path: Path) -> None:
    seed, count = seed_and_ops(pytestconfig, 200)
    run = drive(boot, tmp_path, seed, count)
    assert run.done == count


def test_hostile_guest_long(
    boot: Booter, pytestconfig: pytest.Config, tmp_path: Path, accel: str
) -> None:
    if not pytestconfig.getoption("--hostile-long"):
        pytest.skip(f"{LONG_OPS} operations: run with --hostile-long (make ... SLOW=1)")
    seed, count = seed_and_ops(pytestconfig, LONG_OPS)
    run = drive(boot, tmp_path, seed, max(count, LONG_OPS))
    assert run.done >= LONG_OPS
