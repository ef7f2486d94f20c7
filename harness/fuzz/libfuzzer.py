"""libFuzzer as QEMU's fuzz binaries embed it: the command line, and reading its output."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def sanitizer_env(symbolizer: str | None) -> dict[str, str]:
    """UBSan only reports and goes on by default; halting makes libFuzzer keep the input
    as a crash-* artifact like any other sanitizer finding. A symbolizer (Debian's
    llvm-symbolizer) puts function names and lines into the stack traces."""
    ubsan = "halt_on_error=1:print_stacktrace=1"
    if symbolizer is None:
        return {"UBSAN_OPTIONS": ubsan}
    return {
        "UBSAN_OPTIONS": f"{ubsan}:external_symbolizer_path={symbolizer}",
        "ASAN_OPTIONS": f"external_symbolizer_path={symbolizer}",
    }


SLOW_PREFIX = "slow-unit-"


@dataclass(frozen=True)
class Limits:
    seconds: int | None = None  # -max_total_time
    runs: int | None = None  # -runs
    timeout: int = 25  # -timeout: seconds one input may take
    max_len: int = 4096  # -max_len
    # -detect_leaks: LeakSanitizer after every input that allocated more than it freed
    # (a heap scan each time), or only when the process exits
    leaks_per_input: bool = True


def fuzz_target_name(config: str) -> str:
    """``vmfwupdate-pc`` -> ``generic-fuzz-vmfwupdate-pc`` (generic_fuzz.c's naming)."""
    return f"generic-fuzz-{config}"


def engine_options(artifacts: Path, limits: Limits) -> list[str]:
    """libFuzzer's own options: findings go to ``artifacts``, the run stops at ``limits``."""
    options = [
        f"-artifact_prefix={artifacts}/",
        f"-timeout={limits.timeout}",
        f"-max_len={limits.max_len}",
        "-print_final_stats=1",
    ]
    if limits.seconds is not None:
        options.append(f"-max_total_time={limits.seconds}")
    if limits.runs is not None:
        options.append(f"-runs={limits.runs}")
    if not limits.leaks_per_input:
        options.append("-detect_leaks=0")
    return options


def command(
    binary: Path,
    config: str,
    corpus: Sequence[Path],
    artifacts: Path,
    limits: Limits,
) -> list[str]:
    """The fuzzing command: new inputs go to ``corpus[0]``, findings to ``artifacts``."""
    target = [str(binary), f"--fuzz-target={fuzz_target_name(config)}"]
    return target + engine_options(artifacts, limits) + [str(path) for path in corpus]


def replay_line(words: Sequence[str | Path], env: Mapping[str, str]) -> str:
    """A shell command line: ``env`` assignments, then ``words``."""
    prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in sorted(env.items()))
    cmd = shlex.join(str(word) for word in words)
    return f"{prefix} {cmd}" if prefix else cmd


def reproducer(binary: Path, config: str, artifact: Path, env: Mapping[str, str]) -> str:
    """A shell command line that runs one saved input again (it fails the same way)."""
    return replay_line([binary, f"--fuzz-target={fuzz_target_name(config)}", artifact], env)


_ARGUMENTS = re.compile(r"^Starting \S+ with Arguments: (.*)$", re.MULTILINE)
QTEST_OPTIONS = ("-qtest", "-qtest-log")


def machine_args(output: str) -> list[str] | None:
    """The QEMU arguments a fuzz target printed (with QTEST_LOG set), without the -qtest
    options it adds for itself; None if it printed none."""
    match = _ARGUMENTS.search(output)
    if match is None:
        return None
    words = shlex.split(match.group(1))
    kept = []
    for word, previous in zip(words, [None, *words[:-1]], strict=True):
        if word not in QTEST_OPTIONS and previous not in QTEST_OPTIONS:
            kept.append(word)
    return kept


_STATUS = re.compile(r"^#(?P<execs>\d+)\s+(?P<event>[A-Z]+|pulse)\s")
_FIELD = re.compile(r"(cov|ft|corp|exec/s|rss): (\d+)")
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
_FINDING = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|MemorySanitizer|ThreadSanitizer)"
    r"|SUMMARY: \w+Sanitizer|runtime error:"
    r"|^thread '.*'(?: \(\d+\))? panicked at "  # a Rust panic (libigvm's fuzz target)
)


@dataclass
class Status:
    """The last figures libFuzzer printed."""

    execs: int = 0
    cov: int | None = None
    ft: int | None = None
    corpus: int | None = None
    rate: int | None = None
    rss_mb: int | None = None
    event: str = ""

    def render(self) -> str:
        parts = [f"{self.execs:,} execs"]
        if self.rate is not None:
            parts.append(f"{self.rate:,} exec/s")
        if self.cov is not None:
            parts.append(f"cov {self.cov}")
        if self.ft is not None:
            parts.append(f"ft {self.ft}")
        if self.corpus is not None:
            parts.append(f"corpus {self.corpus}")
        if self.rss_mb is not None:
            parts.append(f"rss {self.rss_mb} MB")
        return ", ".join(parts)


@dataclass
class Outcome:
    """What one libFuzzer run printed: progress figures, findings, artifacts, final stats."""

    status: Status = field(default_factory=Status)
    findings: list[str] = field(default_factory=list)
    artifacts: list[Path] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    done_runs: int | None = None
    done_seconds: int | None = None

    def feed(self, line: str) -> Status | None:
        """Take one output line; return the new status if it was a progress line."""
        text = line.strip()
        match = _STATUS.match(text)
        if match:
            fields = dict(_FIELD.findall(text))
            old = self.status
            self.status = Status(
                execs=int(match.group("execs")),
                cov=_int(fields.get("cov"), old.cov),
                ft=_int(fields.get("ft"), old.ft),
                corpus=_int(fields.get("corp"), old.corpus),
                rate=_int(fields.get("exec/s"), old.rate),
                rss_mb=_int(fields.get("rss"), old.rss_mb),
                event=match.group("event"),
            )
            return self.status
        if done := _DONE.match(text):
            self.done_runs, self.done_seconds = int(done.group(1)), int(done.group(2))
        elif stat := _STAT.match(text):
            self.stats[stat.group(1)] = int(stat.group(2))
        elif artifact := _ARTIFACT.search(text):
            self.artifacts.append(Path(artifact.group(1)))
        elif _FINDING.search(text):
            self.findings.append(text)
        return None

    @property
    def execs(self) -> int:
        return self.stats.get("number_of_executed_units", self.status.execs)

    @property
    def failures(self) -> list[Path]:
        """Kept inputs that failed (crash-, timeout-, oom-, leak-...), not slow-unit- ones,
        which libFuzzer keeps for inputs slower than -report_slow_units but not failing."""
        return [a for a in self.artifacts if not a.name.startswith(SLOW_PREFIX)]

    @property
    def slow_units(self) -> list[Path]:
        return [a for a in self.artifacts if a.name.startswith(SLOW_PREFIX)]

    @property
    def failed(self) -> bool:
        return bool(self.findings or self.failures)


def _int(text: str | None, old: int | None) -> int | None:
    return int(text) if text is not None else old
