"""The v7 IGVM fuzz seeds on the device itself: each seed (harness/fuzz/seeds_v7_igvm.py,
OVMF's too, which runs leave out) replayed alone by the fuzz build's generic-fuzz target
with the fuzz config's machine and the device's trace events on, on pc and q35. The status
of its last write is the one its name starts with, an accepted one is applied at the reset
that ends the input (or, for the seed whose bytes change before it, refused: APPLY_FAIL),
and nothing else runs into a sanitizer. Skipped without the fuzz build (`make build-fuzz`)
or when --abi chose v6."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from test_run_terminal import REPO

from harness.build import igvm
from harness.build.qemu import PROFILES
from harness.fuzz.seeds import seed_set
from harness.fuzz.seeds_v7_igvm import IgvmSeedFiles, seeds
from harness.fuzz.targets import CONFIGS
from harness.interface.v7 import Status
from harness.runner import Runner
from harness.workdir import Workdir
from harness.workflows import fuzz, fuzz_igvm_files

SERIES = "v7"
CHANGED = "ok-igvm-agent-changed-before-reset"
_WRITE = re.compile(r"vmfwupdate_write_(?:accepted|rejected control \S+ (?P<status>[A-Z_]+):)")
_RESET = re.compile(r"vmfwupdate_reset control \S+ status (?P<status>[A-Z_]+)")
_IGVM_APPLY = re.compile(r"vmfwupdate_igvm .* apply 1: (?P<status>[A-Z_]+)")


def statuses(pattern: re.Pattern[str], text: str) -> list[str]:
    return [m["status"] or Status.OK.name for m in pattern.finditer(text)]


@pytest.fixture(scope="module")
def fuzz_binary(pytestconfig: pytest.Config) -> Path:
    if pytestconfig.getoption("--abi") not in (SERIES, "all"):
        pytest.skip(f"the IGVM seeds are {SERIES}'s; --abi chose another")
    path = Workdir(REPO, SERIES).build_dir("fuzz") / PROFILES["fuzz"].binary
    if not path.is_file():
        pytest.skip(f"no fuzz build at {path}: `make build-fuzz` (series {SERIES})")
    return path


@pytest.fixture(scope="module")
def igvm_files(tmp_path_factory: pytest.TempPathFactory) -> IgvmSeedFiles:
    layout = igvm.Layout.for_repo(REPO)
    if not os.access(layout.tool("igvm-wrap"), os.X_OK):
        pytest.skip("igvm-wrap not installed (`make setup`)")
    return fuzz_igvm_files.make(tmp_path_factory.mktemp("igvm"), layout)


@pytest.mark.parametrize("config", CONFIGS)
def test_each_igvm_seed_leaves_the_status_its_name_says(
    fuzz_binary: Path, igvm_files: IgvmSeedFiles, config: str, tmp_path: Path
) -> None:
    runner = Runner()
    args = fuzz.machine_args(fuzz_binary, config, runner)
    qemu = fuzz_binary.with_name("qemu-system-x86_64")
    files = fuzz.device_files(qemu, args, config, seed_set(SERIES), runner)
    env = {
        **os.environ,
        "QEMU_FUZZ_ARGS": " ".join([*args, "-trace", "vmfwupdate_*"]),
        "QEMU_FUZZ_OBJECTS": "fwcfg*",
        "QEMU_AVOID_DOUBLE_FETCH": "1",
        "UBSAN_OPTIONS": "halt_on_error=1",
    }
    wrong = []
    for name, data in seeds(files, igvm_files).items():
        seed = tmp_path / name
        seed.write_bytes(data)
        cmd = [fuzz_binary, "--fuzz-target=generic-fuzz", "-detect_leaks=0", seed]
        proc = subprocess.run(
            cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
        )
        out = proc.stdout + proc.stderr
        wanted = next(s for s in Status if name.startswith(s.name.lower().replace("_", "-") + "-"))
        written = statuses(_WRITE, out)
        reset = statuses(_RESET, out)
        applied = statuses(_IGVM_APPLY, out)
        if wanted is Status.OK:
            expected_reset = Status.APPLY_FAIL if name == CHANGED else Status.OK
            expected_apply = [Status.LOAD_FAIL.name] if name == CHANGED else [Status.OK.name]
        else:
            expected_reset, expected_apply = Status.OK, []
        found = (proc.returncode, written[-1:], reset[-1:], applied)
        if found != (0, [wanted.name], [expected_reset.name], expected_apply):
            wrong.append(f"{name}: exit, last write, reset, IGVM apply = {found}")
    assert not wrong, "\n".join(wrong)
