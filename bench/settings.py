"""How much a benchmark run measures: repetitions, sizes, counts. One place for the full
run (`make bench`, environment knobs) and for the smoke run (one repetition, smallest
sizes) the functional step does to keep every group working."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from harness.platform import KIB, MIB

RESET_SIZES = (64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 16 * MIB)
SLOPE_COUNTS = (1, 10, 50)
# IGVM files of random pages of about these sizes, and of empty pages with these directive
# counts (4,128: 16 MiB of pages, the most that fits the device's largest ROM room).
IGVM_SIZES = (1 * MIB, 10 * MIB, 100 * MIB)
IGVM_DIRECTIVES = (10, 1_000, 4_128, 100_000)
# The functional test the edit-rebuild-test loop reruns (and the smoke narrows the suite to).
LOOP_TEST = "test_update_applied_on_reset and pc and cf9"


class SettingsError(ValueError):
    """A knob has a value that is not a whole number."""


@dataclass(frozen=True)
class Settings:
    """What one run measures. `smoke`: every group once at its smallest, nothing built."""

    reps: int
    reset_sizes: tuple[int, ...] = RESET_SIZES
    slope_counts: tuple[int, ...] = SLOPE_COUNTS
    igvm_sizes: tuple[int, ...] = IGVM_SIZES
    igvm_directives: tuple[int, ...] = IGVM_DIRECTIVES
    warm_builds: int = 1
    cold_builds: int = 0
    smoke: bool = False

    @property
    def short_reps(self) -> int:
        """Repetitions of the longer figures: the slope and the edit loop."""
        return max(1, self.reps // 2 + 1)

    @property
    def suite_reps(self) -> int:
        return max(1, self.reps // 2)

    @property
    def suite_keyword(self) -> str | None:
        """-k narrowing the quick suite: None for the whole suite, the loop's test in a smoke."""
        return LOOP_TEST if self.smoke else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """BENCH_REPS (5), BENCH_BUILD_REPS (1), BENCH_COLD (0)."""
        env = os.environ if env is None else env
        return cls(
            reps=env_int(env, "BENCH_REPS", 5),
            warm_builds=env_int(env, "BENCH_BUILD_REPS", 1),
            cold_builds=env_int(env, "BENCH_COLD", 0),
        )

    @classmethod
    def smoke_run(cls) -> Settings:
        return cls(
            reps=1,
            reset_sizes=RESET_SIZES[:1],
            slope_counts=(SLOPE_COUNTS[0], SLOPE_COUNTS[0] + 1),  # a slope needs two counts
            igvm_sizes=IGVM_SIZES[:1],
            igvm_directives=IGVM_DIRECTIVES[:1],
            warm_builds=0,
            cold_builds=0,
            smoke=True,
        )


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {env[name]!r}") from None
