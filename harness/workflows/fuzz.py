"""``vmfwupdate fuzz``: coverage-guided fuzzing of the device with QEMU's generic-fuzz.

Builds the ``fuzz`` profile (clang + libFuzzer + ASan + UBSan) if needed, reads the fw_cfg
file directory through the fuzz binary to write the series' seed inputs (its ABI's seed
set, ``harness.fuzz.seeds``) for the device's files, runs
``qemu-fuzz-x86_64 --fuzz-target=generic-fuzz-<config>`` on a kept corpus, shows its
progress, and turns any finding into a kept reproducer file and a command that replays it.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.build.igvm import Layout
from harness.errors import HarnessError
from harness.fuzz import fw_cfg_input, libfuzzer
from harness.fuzz.seeds import SeedSet, seed_set
from harness.fuzz.seeds_v7_igvm import IgvmSeedFiles
from harness.fuzz.targets import CONFIGS
from harness.fw_cfg import FwCfgEntry
from harness.machine.cmdline import DEBUG_EXIT_IOBASE
from harness.runner import Runner, base_env, quote
from harness.workdir import Workdir
from harness.workflows import fuzz_igvm_files
from harness.workflows.prepare import up_to_date_binary
from harness.worklock import SeriesLock, series_lock

logger = logging.getLogger(__name__)

STEP = "fuzz"
PROGRESS_SECONDS = 30
PROBE_SECONDS = 120


@dataclass(frozen=True)
class Place:
    """Where one target keeps its corpus, seeds and findings."""

    config: str
    corpus: Path
    seeds: Path
    crashes: Path
    log: Path


def place(workdir: Workdir, config: str, corpus: Path | None, several: bool) -> Place:
    root = workdir.series_root / "fuzz" / config
    if corpus is None:
        corpus = root / "corpus"
    elif several:
        corpus = corpus / config
    return Place(
        config=config,
        corpus=corpus.resolve(),
        seeds=(root / "seeds").resolve(),
        crashes=(root / "crashes").resolve(),
        log=workdir.log(f"fuzz-{config}.log"),
    )


def fuzz_binary(
    args: argparse.Namespace, workdir: Workdir, runner: Runner, lock: SeriesLock
) -> Path:
    return up_to_date_binary(args, workdir, runner, lock, profile="fuzz")


def machine_args(binary: Path, config: str, runner: Runner) -> list[str]:
    """The QEMU arguments the fuzz target starts its machine with (it prints them when
    QTEST_LOG is set), without its own -qtest options."""
    target = libfuzzer.fuzz_target_name(config)
    cmd = [binary, f"--fuzz-target={target}", "-runs=0"]
    with tempfile.TemporaryDirectory(prefix="vmfwupdate-fuzz-") as tmp:
        env = base_env({"QTEST_LOG": "1"})
        proc = runner.run(cmd, step=STEP, env=env, check=False, cwd=Path(tmp))
    args = libfuzzer.machine_args(proc.stdout)
    if args is None or proc.returncode != 0:
        raise HarnessError(
            STEP,
            f"{target} did not start its machine (exit code {proc.returncode})",
            path=binary,
            details=f"$ {quote(cmd)}\n" + (proc.stdout + proc.stderr)[-3000:],
            hint="check that the tree has the series' generic-fuzz configs (its tests/qtest/fuzz "
            "patch) and that the machine starts; the output above is QEMU's",
        )
    return args


def device_files(
    qemu: Path, args: list[str], config: str, seeds: SeedSet, runner: Runner
) -> dict[str, FwCfgEntry]:
    """The device's fw_cfg files as the fuzzed machine lays them out, read over qtest.

    QEMU does not exit when qtest's input ends, so the last command writes to an
    isa-debug-exit port, which adds no fw_cfg file."""
    exit_device = f"isa-debug-exit,iobase={DEBUG_EXIT_IOBASE:#x},iosize=0x04"
    cmd = [str(qemu), *args, "-device", exit_device, "-qtest", "stdio"]
    runner.echo(cmd, None)
    try:
        proc = subprocess.run(
            cmd,
            input=fw_cfg_input.directory_qtest() + f"outb {DEBUG_EXIT_IOBASE:#x} 0x0\n",
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
        output, errors = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        output, errors = _text(exc.stdout), _text(exc.stderr)
    try:
        directory = fw_cfg_input.parse_directory(fw_cfg_input.reply_bytes(output))
        return seeds.device_files(directory)
    except fw_cfg_input.ProbeError as exc:
        raise HarnessError(
            STEP,
            f"could not read the fw_cfg file directory of {config}'s machine: {exc}",
            path=qemu,
            details=f"$ {quote(cmd)}\n" + errors[-3000:],
            hint="the output above is QEMU's; the machine must start with -device vmfwupdate",
        ) from exc


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def write_seeds(directory: Path, seeds: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("seed-*"):
        old.unlink()
    for name, data in seeds.items():
        (directory / f"seed-{name}").write_bytes(data)


class Progress:
    """Prints libFuzzer's figures every PROGRESS_SECONDS (every line with -v is the log)."""

    def __init__(self, runner: Runner, config: str, outcome: libfuzzer.Outcome) -> None:
        self.runner = runner
        self.config = config
        self.outcome = outcome
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, line: str) -> None:
        status = self.outcome.feed(line)
        if status is None or self.runner.verbose:
            return
        now = time.monotonic()
        if status.event == "INITED" or now - self.last >= PROGRESS_SECONDS:
            self.last = now
            logger.info(f"fuzz {self.config}: {now - self.start:6.0f}s  {status.render()}")


def seed_inputs(
    seeds: SeedSet, files: dict[str, FwCfgEntry], igvm: IgvmSeedFiles | None
) -> dict[str, bytes]:
    found = seeds.seeds(files)
    if seeds.igvm_seeds is not None and igvm is not None:
        found.update(seeds.igvm_seeds(files, igvm))
    return found


def fitting(
    limits: libfuzzer.Limits, inputs: dict[str, bytes], longest: int
) -> tuple[libfuzzer.Limits, dict[str, bytes]]:
    """The seeds no longer than `longest` (or than -max_len), and `limits` with -max_len
    raised to the longest of them, which libFuzzer would cut."""
    cap = max(limits.max_len, longest)
    kept = {name: data for name, data in inputs.items() if len(data) <= cap}
    fitted = max((len(data) for data in kept.values()), default=0)
    return replace(limits, max_len=max(limits.max_len, fitted)), kept


def fuzz_one(
    binary: Path,
    where: Place,
    seeds: SeedSet,
    limits: libfuzzer.Limits,
    runner: Runner,
    igvm: IgvmSeedFiles | None = None,
) -> libfuzzer.Outcome:
    qemu = binary.with_name("qemu-system-x86_64")
    args = machine_args(binary, where.config, runner)
    files = device_files(qemu, args, where.config, seeds, runner)
    made = seed_inputs(seeds, files, igvm)
    fitted, inputs = fitting(limits, made, seeds.longest)
    write_seeds(where.seeds, inputs)
    selectors = ", ".join(f"{n}={f.select:#x}" for n, f in files.items())
    logger.info(
        f"fuzz {where.config}: device files {selectors}; {len(inputs)} seeds in {where.seeds}"
    )
    for name in sorted(set(made) - set(inputs)):
        logger.info(
            f"fuzz {where.config}: seed {name} left out ({len(made[name]):,} bytes, longer "
            f"than {max(limits.max_len, seeds.longest):,})"
        )
    if fitted.max_len != limits.max_len:
        logger.info(f"fuzz {where.config}: -max_len={fitted.max_len} (the longest seed)")
    limits = fitted
    for directory in (where.corpus, where.crashes):
        directory.mkdir(parents=True, exist_ok=True)
    cmd = libfuzzer.command(
        binary, where.config, [where.corpus, where.seeds], where.crashes, limits
    )
    sanitizers = libfuzzer.sanitizer_env(shutil.which("llvm-symbolizer"))
    logger.info(f"fuzz {where.config}: running (log: {where.log})")
    finding = run_libfuzzer(where.config, cmd, sanitizers, where.crashes, where.log, runner)
    if finding.outcome.failed or finding.code != 0:
        raise failure(binary, where, finding, sanitizers)
    return finding.outcome


def run_libfuzzer(
    name: str, cmd: list[str | Path], env: dict[str, str], crashes: Path, log: Path, runner: Runner
) -> Finding:
    """Run a libFuzzer command in ``crashes`` with its output in ``log`` (emptied first),
    its progress every PROGRESS_SECONDS and a summary at the end; return how it ended."""
    log.write_text("", encoding="utf-8")
    outcome = libfuzzer.Outcome()
    start = time.monotonic()
    code = runner.stream(
        cmd, log=log, env=base_env(env), cwd=crashes, on_line=Progress(runner, name, outcome)
    )
    summary = report(name, outcome, time.monotonic() - start)
    logger.info(summary)
    if outcome.slow_units:
        logger.info(
            f"fuzz {name}: {len(outcome.slow_units)} slow input(s) kept in "
            f"{crashes} (slow-unit-*: slower than 10 s, not a failure)"
        )
    return Finding(outcome, code, summary, crashes, log)


def report(config: str, outcome: libfuzzer.Outcome, seconds: float) -> str:
    status = outcome.status
    rate = outcome.stats.get("average_exec_per_sec", status.rate)
    parts = [f"{outcome.execs:,} executions in {seconds:.0f}s"]
    if rate is not None:
        parts.append(f"{rate:,} exec/s")
    for label, value in (("cov", status.cov), ("ft", status.ft), ("corpus", status.corpus)):
        if value is not None:
            parts.append(f"{label} {value}")
    if "peak_rss_mb" in outcome.stats:
        parts.append(f"peak rss {outcome.stats['peak_rss_mb']} MB")
    return f"fuzz {config}: " + ", ".join(parts)


def failure(binary: Path, where: Place, finding: Finding, env: dict[str, str]) -> HarnessError:
    return finding_error(
        where.config,
        finding,
        lambda artifact: libfuzzer.reproducer(binary, where.config, artifact, env),
        "run the replay command above (it fails the same way); add QTEST_LOG=1 "
        "FUZZ_SERIALIZE_QTEST=1 to it for the qtest trace of the input "
        "(docs/devel/testing/fuzzing.rst, 'Building Crash Reproducers')",
    )


@dataclass(frozen=True)
class Finding:
    """How a libFuzzer run ended: its outcome, exit code, summary, where it kept inputs
    and its log."""

    outcome: libfuzzer.Outcome
    code: int
    summary: str
    crashes: Path
    log: Path


def finding_error(
    name: str,
    finding: Finding,
    replay: Callable[[Path], str],
    replay_hint: str,
    step: str = STEP,
) -> HarnessError:
    """The error for a run that failed: the findings, each kept input and the command
    (`replay`) that runs it again; without a kept input, the exit code."""
    outcome = finding.outcome
    artifacts = [a if a.is_absolute() else finding.crashes / a for a in outcome.failures]
    lines = [finding.summary, *outcome.findings[:10]]
    for artifact in artifacts:
        lines.append(f"reproducer: {artifact}")
        lines.append(f"replay it:  {replay(artifact)}")
    if artifacts:
        hint = replay_hint
        problem = f"{name}: libFuzzer found a failing input ({len(artifacts)} kept)"
    else:
        hint = "read the end of the log; the fuzzer stopped before finishing"
        problem = f"{name}: the fuzzer exited with code {finding.code}"
    return HarnessError(step, problem, path=finding.log, details="\n".join(lines), hint=hint)


def run(args: argparse.Namespace, workdir: Workdir, runner: Runner) -> int:
    for name, value in (("--time", args.time), ("--runs", args.runs)):
        if value is not None and value < 1:
            raise HarnessError(STEP, f"{name} must be at least 1, not {value}")
    try:
        seeds = seed_set(workdir.series)
    except ValueError as exc:
        raise HarnessError(STEP, str(exc)) from None
    with series_lock(workdir.series_root, STEP, runner.say) as lock:
        return fuzz_all(args, workdir, runner, seeds, fuzz_binary(args, workdir, runner, lock))


def fuzz_all(
    args: argparse.Namespace, workdir: Workdir, runner: Runner, seeds: SeedSet, binary: Path
) -> int:
    configs = CONFIGS if args.target == "all" else (args.target,)
    limits = libfuzzer.Limits(
        seconds=args.time,
        runs=args.runs,
        timeout=args.timeout,
        max_len=args.max_len,
        leaks_per_input=args.leaks == "input",
    )
    igvm = None
    if seeds.igvm_seeds is not None:
        out_dir = workdir.series_root / "fuzz" / "igvm"
        igvm = fuzz_igvm_files.make(out_dir, Layout.for_repo(workdir.repo))
    for config in configs:
        where = place(workdir, config, args.corpus, len(configs) > 1)
        fuzz_one(binary, where, seeds, limits, runner, igvm)
    return 0
