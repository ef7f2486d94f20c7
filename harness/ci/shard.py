"""Splitting a collected test list into N deterministic, balanced shards.

Every shard process collects the same tests and computes the same partition on its own, so
the shards need no coordination: the partition depends only on the collected test ids, N and
the durations file (the same file for every shard of a pipeline, e.g. from a CI cache).

- With durations (a previous run's, see :func:`load_durations`): greedy LPT, longest test
  first onto the shard with the least work so far. Tests without a recorded duration count
  as the median of the recorded ones.
- Without: every test weighs the same and the order is a stable hash of the test id
  (sha256, not Python's per-process randomized ``hash()``), so the shards differ by at most
  one test and a test's shard does not depend on the collection order.

Within a shard the tests keep their collection order (module and class fixtures stay
together).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DURATIONS_VERSION = 1
NODEID_PROPERTY = "nodeid"  # JUnit <property> the shard plugin adds to every testcase
SHARD_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A shard specification or durations file that cannot be used."""


@dataclass(frozen=True)
class ShardSpec:
    index: int  # 1-based, as GitLab's CI_NODE_INDEX
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_spec(text: str) -> ShardSpec:
    """``INDEX/TOTAL`` with 1 <= INDEX <= TOTAL (GitLab's CI_NODE_INDEX/CI_NODE_TOTAL)."""
    match = SHARD_SPEC.match(text)
    if not match:
        raise ShardError(f"expected INDEX/TOTAL (e.g. 2/4, 1-based), not {text!r}")
    index, total = int(match.group(1)), int(match.group(2))
    if total < 1 or not 1 <= index <= total:
        raise ShardError(f"shard {text!r}: INDEX must be between 1 and TOTAL (1-based)")
    return ShardSpec(index, total)


def stable_key(test_id: str) -> int:
    """The same number for the same id in every process (unlike ``hash()``)."""
    return int.from_bytes(hashlib.sha256(test_id.encode("utf-8")).digest()[:8], "big")


def junit_key(classname: str, name: str) -> str:
    """How a test without the nodeid property is named: JUnit's ``classname::name``."""
    return f"{classname}::{name}" if classname else name


def mangled(nodeid: str) -> str:
    """A pytest node id as pytest's junitxml writes it (``classname::name``).

    ``tests/unit/test_a.py::TestX::test_y[1]`` -> ``tests.unit.test_a.TestX::test_y[1]``.
    """
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return junit_key(".".join(names[:-1]), names[-1])


def testcase_id(case: ET.Element) -> str:
    """The pytest node id of a JUnit testcase: its nodeid property, else classname::name."""
    for prop in case.iter("property"):
        if prop.get("name") == NODEID_PROPERTY and prop.get("value"):
            return str(prop.get("value"))
    return junit_key(case.get("classname", ""), case.get("name", ""))


def durations_from_junit(path: Path) -> dict[str, float]:
    root = ET.parse(path).getroot()
    durations: dict[str, float] = {}
    for case in root.iter("testcase"):
        try:
            seconds = float(case.get("time", "0"))
        except ValueError:
            continue
        durations[testcase_id(case)] = seconds
    return durations


def load_durations(path: Path) -> dict[str, float]:
    """Test id -> seconds from a durations JSON (``write_durations``) or a JUnit XML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ShardError(f"cannot read the durations file {path}: {exc.strerror}") from exc
    if text.lstrip().startswith("<"):
        try:
            return durations_from_junit(path)
        except ET.ParseError as exc:
            raise ShardError(f"{path}: not a valid JUnit XML file ({exc})") from exc
    try:
        data = json.loads(text)
        raw = data["durations"]
        return {str(key): float(value) for key, value in raw.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ShardError(
            f"{path}: not a durations file (expected JSON with a 'durations' object or "
            f"a JUnit XML report): {exc}"
        ) from exc


def write_durations(path: Path, durations: Mapping[str, float]) -> None:
    """The durations file the next run's shards balance on (sorted, so diffs stay small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": DURATIONS_VERSION,
        "durations": {key: round(durations[key], 4) for key in sorted(durations)},
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def weights(ids: Sequence[str], durations: Mapping[str, float] | None) -> dict[str, float]:
    """Each test's weight: its recorded duration (by node id or JUnit name), else the median
    of the recorded ones; 1.0 for every test when nothing is recorded."""
    if not durations:
        return dict.fromkeys(ids, 1.0)
    found: dict[str, float] = {}
    for test_id in ids:
        value = durations.get(test_id)
        if value is None:
            value = durations.get(mangled(test_id))
        if value is not None:
            found[test_id] = max(value, 0.0)
    if not found:
        return dict.fromkeys(ids, 1.0)
    default = statistics.median(found.values())
    return {test_id: found.get(test_id, default) for test_id in ids}


@dataclass(frozen=True)
class Partition:
    shards: list[list[str]]  # per shard (index 0 = shard 1), in collection order
    loads: list[float]  # the weights each shard got (seconds when balanced on durations)
    by_durations: bool

    def of(self, spec: ShardSpec) -> list[str]:
        return self.shards[spec.index - 1]


def partition(
    ids: Sequence[str], total: int, durations: Mapping[str, float] | None = None
) -> Partition:
    """Split ``ids`` into ``total`` shards (greedy LPT on the weights, ties by stable hash)."""
    if total < 1:
        raise ShardError(f"the number of shards must be >= 1, not {total}")
    dup = sorted(test_id for test_id, n in Counter(ids).items() if n > 1)
    if dup:
        raise ShardError(f"the collected tests have duplicate ids: {', '.join(dup[:5])}")
    weight = weights(ids, durations)
    by_durations = bool(durations) and any(
        test_id in durations or mangled(test_id) in durations for test_id in ids
    )
    order = sorted(ids, key=lambda test_id: (-weight[test_id], stable_key(test_id), test_id))
    loads = [0.0] * total
    counts = [0] * total
    owner: dict[str, int] = {}
    for test_id in order:
        # least loaded shard; equal loads (e.g. unweighted): fewest tests, then lowest index
        shard = min(range(total), key=lambda s: (loads[s], counts[s], s))
        owner[test_id] = shard
        loads[shard] += weight[test_id]
        counts[shard] += 1
    shards: list[list[str]] = [[] for _ in range(total)]
    for test_id in ids:
        shards[owner[test_id]].append(test_id)
    return Partition(shards=shards, loads=loads, by_durations=by_durations)


def file_digest(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What one shard collected and ran, written beside its JUnit report."""

    spec: ShardSpec
    collected: list[str]
    selected: list[str]
    by_durations: bool
    durations_sha256: str | None
    expected_load: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "shard": self.spec.index,
                "total": self.spec.total,
                "balanced_by": "durations" if self.by_durations else "test id",
                "durations_sha256": self.durations_sha256,
                "expected_load": round(self.expected_load, 4),
                "collected": self.collected,
                "selected": self.selected,
            },
            indent=1,
        )

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                spec=ShardSpec(int(data["shard"]), int(data["total"])),
                collected=[str(i) for i in data["collected"]],
                selected=[str(i) for i in data["selected"]],
                by_durations=data.get("balanced_by") == "durations",
                durations_sha256=data.get("durations_sha256"),
                expected_load=float(data.get("expected_load", 0.0)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ShardError(f"{path}: not a shard manifest ({exc})") from exc


def manifest_path(junit: Path) -> Path:
    """Where a shard's manifest goes: ``shard-2.xml`` -> ``shard-2.shard.json``."""
    return junit.with_suffix(".shard.json")


def describe(part: Partition, ids: Iterable[str]) -> str:
    count = len(list(ids))
    sizes = ", ".join(str(len(s)) for s in part.shards)
    how = "recorded durations" if part.by_durations else "test id (no durations)"
    return f"{count} tests in {len(part.shards)} shards of {sizes}, balanced by {how}"
