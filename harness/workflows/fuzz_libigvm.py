"""``vmfwupdate fuzz-libigvm``: coverage-guided fuzzing of libigvm itself, as the device
hands it a guest's IGVM image (``igvm_new_from_binary``, then the header calls
backends/igvm.c makes).

Builds the fuzz target (`harness.build.igvm_fuzz`: the pinned igvm crate with
SanitizerCoverage, stable Rust), wraps the seed firmware (the agent, Debian's SeaBIOS and
OVMF) with the pinned igvm-wrap in each `Wrap` kind, writes the seed set
(`harness.fuzz.igvm_seeds`) and a dictionary of the header types, runs the target on a kept
corpus with the progress lines and summary of ``vmfwupdate fuzz``, and turns a finding into
a kept input and a replay command.

By default the target refuses what a device-side check on the fixed header would (the
variable headers must end inside the file; libigvm 0.5.0 panics when their offset plus
size wraps in u32), so that the run measures the rest of the parser; ``--unguarded`` hands
libigvm every input as QEMU does today. ``--profile`` picks the build
(`harness.build.igvm_fuzz.PROFILES`): ``as-linked`` (default) panics only where QEMU's
libigvm.a would abort; ``checked`` also at every u32 wrap-around and debug assertion.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from harness.build import igvm_fuzz
from harness.build.agent_image import build_agent_image
from harness.build.igvm import Layout
from harness.build.igvm_images import Wrap, wrap
from harness.build.qemu import PC_BIOS, SEABIOS_DIR
from harness.errors import HarnessError
from harness.fuzz import igvm_seeds, libfuzzer
from harness.runner import Runner
from harness.workdir import Workdir
from harness.workflows.fuzz import finding_error, run_libfuzzer, write_seeds

logger = logging.getLogger(__name__)

STEP = igvm_fuzz.STEP
NAME = "libigvm"
AGENT_SIZE = 0x10000  # the smallest agent image: the seed the damaged ones come from
AGENT_IDENTITY = "igvm-seed"
SEABIOS = Path(SEABIOS_DIR) / PC_BIOS
OVMF = Path("/usr/share/ovmf/OVMF.fd")
DAMAGE_FROM = f"agent-{Wrap.PLAIN.label}"
GUARD_VARIABLE = "VMFWUPDATE_IGVM_GUARD"  # third_party/igvm-fuzz/src/main.rs reads it


@dataclass(frozen=True)
class Place:
    """Where the run keeps its build, seeds, corpus and findings (``.work/fuzz-libigvm``)."""

    root: Path
    corpus: Path

    @classmethod
    def under(cls, workdir: Workdir, corpus: Path | None) -> Place:
        root = (workdir.root / "fuzz-libigvm").resolve()
        return cls(root, (corpus or root / "corpus").resolve())

    @property
    def seeds(self) -> Path:
        return self.root / "seeds"

    @property
    def crashes(self) -> Path:
        return self.root / "crashes"

    @property
    def dictionary(self) -> Path:
        return self.root / "igvm.dict"

    @property
    def firmware(self) -> Path:
        """The agent image and the IGVM files wrapped from the firmware."""
        return self.root / "firmware"

    @property
    def cargo_target(self) -> Path:
        return self.root / "target"

    @property
    def build_log(self) -> Path:
        return self.root / "build.log"

    @property
    def log(self) -> Path:
        return self.root / "fuzz.log"


def seed_firmware(where: Place, runner: Runner) -> dict[str, Path]:
    """The classic firmware images the seeds are wrapped from, by name."""
    agent = build_agent_image(AGENT_SIZE, AGENT_IDENTITY, where.firmware, runner=runner)
    found = {"agent": agent.path, "seabios": SEABIOS, "ovmf": OVMF}
    for name, path in found.items():
        if not path.is_file():
            raise HarnessError(
                STEP,
                f"the {name} image {path} is missing",
                path=path,
                hint="install Debian's seabios and ovmf packages (`make setup` does)",
            )
    return found


def wrapped_seeds(
    firmware: dict[str, Path], where: Place, layout: Layout, runner: Runner
) -> dict[str, bytes]:
    """Every firmware image wrapped in every `Wrap` kind: ``<name>-<kind>`` -> IGVM file."""
    return {
        f"{name}-{kind.label}": wrap(
            image, where.firmware, kind, layout=layout, runner=runner
        ).read_bytes()
        for name, image in firmware.items()
        for kind in Wrap
    }


def fuzz(
    binary: Path, where: Place, limits: libfuzzer.Limits, guarded: bool, runner: Runner
) -> libfuzzer.Outcome:
    """Run the target; return what libFuzzer printed, or raise on a finding."""
    for directory in (where.corpus, where.crashes):
        directory.mkdir(parents=True, exist_ok=True)
    options = [*libfuzzer.engine_options(where.crashes, limits), f"-dict={where.dictionary}"]
    cmd = [binary, *options, where.corpus, where.seeds]
    env = {"RUST_BACKTRACE": "1", GUARD_VARIABLE: "1" if guarded else "0"}
    mode = "guarded" if guarded else "unguarded"
    logger.info(f"fuzz {NAME}: running {binary.parent.name}, {mode} (log: {where.log})")
    finding = run_libfuzzer(NAME, cmd, env, where.crashes, where.log, runner)
    if finding.outcome.failed or finding.code != 0:
        raise finding_error(
            NAME,
            finding,
            lambda artifact: libfuzzer.replay_line([binary, artifact], env),
            "run the replay command above: it prints the panic and its stack",
            STEP,
        )
    return finding.outcome


def run(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    for name, value in (("--time", args.time), ("--runs", args.runs)):
        if value is not None and value < 1:
            raise HarnessError(STEP, f"{name} must be at least 1, not {value}")
    where = Place.under(workdir, args.corpus)
    where.root.mkdir(parents=True, exist_ok=True)
    logger.info(f"fuzz {NAME}: building the target (log: {where.build_log})")
    binary = igvm_fuzz.build(
        workdir.repo, where.cargo_target, args.profile, where.build_log, runner
    )
    firmware = seed_firmware(where, runner)
    layout = Layout.for_repo(workdir.repo)
    seeds = igvm_seeds.seeds(wrapped_seeds(firmware, where, layout, runner), DAMAGE_FROM)
    write_seeds(where.seeds, seeds)
    defs = layout.prefix / "include" / "igvm" / "igvm_defs.h"
    types = igvm_seeds.header_types(defs.read_text(encoding="utf-8"))
    if not types:
        raise HarnessError(STEP, "no IGVM_VHT_* header types in igvm_defs.h", path=defs)
    where.dictionary.write_text(igvm_seeds.dictionary(types), encoding="utf-8")
    longest = max(len(data) for data in seeds.values())
    logger.info(
        f"fuzz {NAME}: {len(seeds)} seeds in {where.seeds}, the longest {longest:,} bytes; "
        f"{len(types)} header types in {where.dictionary}"
    )
    limits = libfuzzer.Limits(
        seconds=args.time,
        runs=args.runs,
        timeout=args.timeout,
        max_len=args.max_len or longest,
    )
    fuzz(binary, where, limits, not args.unguarded, runner)
    return 0
