"""Sharding: the partition (no test lost or doubled, stable, balanced) and the pytest plugin
(real pytest processes on a tiny test directory, their JUnit reports merged)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from harness.ci import junit_merge, shard
from harness.cli import main, make_parser
from harness.errors import HarnessError
from harness.workflows import devloop

REPO = Path(__file__).resolve().parents[2]

# The sample suite these tests run with real pytest: its test count and test_sleep_a's sleep.
SAMPLE_TESTS = 14
SLEEP_A_SECONDS = 0.3


def ids_of(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        f"tests/functional/test_{rng.randrange(20)}.py::test_{i}[{rng.choice('pq')}-tcg]"
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 5, 7, 64, 265])
@pytest.mark.parametrize("total", [1, 2, 3, 4, 9])
@pytest.mark.parametrize("with_durations", [False, True])
def test_every_test_in_exactly_one_shard(count: int, total: int, with_durations: bool) -> None:
    ids = ids_of(count)
    durations = {t: (i % 13) * 0.7 for i, t in enumerate(ids[::2])} if with_durations else None
    part = shard.partition(ids, total, durations)
    assert len(part.shards) == total
    flat = [t for s in part.shards for t in s]
    assert Counter(flat) == Counter(ids)  # none lost, none twice
    for tests in part.shards:  # collection order kept within a shard
        assert tests == [t for t in ids if t in set(tests)]
    if not with_durations:  # equal weights: counts differ by at most one
        sizes = [len(s) for s in part.shards]
        assert max(sizes) - min(sizes) <= 1


def test_partition_does_not_depend_on_collection_order() -> None:
    ids = ids_of(200)
    durations = {t: float(i % 17) for i, t in enumerate(ids)}
    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    for weights in (None, durations):
        first = shard.partition(ids, 4, weights)
        second = shard.partition(shuffled, 4, weights)
        assert [set(s) for s in first.shards] == [set(s) for s in second.shards]


PARTITION_SCRIPT = """
import json, sys
from harness.ci import shard
ids = json.loads(sys.stdin.read())
print(json.dumps(shard.partition(ids, 4).shards))
"""


def test_partition_is_the_same_in_other_processes() -> None:
    """Each shard is its own process (own PYTHONHASHSEED): all must agree."""
    ids = ids_of(120)
    results = set()
    for seed in ("1", "2", "random"):
        proc = subprocess.run(
            [sys.executable, "-c", PARTITION_SCRIPT],
            input=json.dumps(ids),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=REPO,
        )
        results.add(proc.stdout)
    assert len(results) == 1
    assert json.loads(results.pop()) == shard.partition(ids, 4).shards


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("total", [2, 4, 8])
def test_balanced_within_20_percent_given_durations(seed: int, total: int) -> None:
    rng = random.Random(seed)
    ids = ids_of(265, seed)
    # like the functional suite: many short tests, some long ones (OVMF, migration, hostile)
    durations = {
        t: rng.choice([rng.uniform(0.05, 0.5), rng.uniform(0.5, 3), rng.uniform(5, 20)])
        for t in ids
    }
    part = shard.partition(ids, total, durations)
    loads = [sum(durations[t] for t in s) for s in part.shards]
    assert loads == pytest.approx(part.loads)
    assert max(loads) <= 1.2 * min(loads), loads
    assert part.by_durations


def test_unknown_tests_weigh_the_median_and_junit_names_match() -> None:
    ids = [
        "tests/unit/test_a.py::test_x",
        "tests/unit/test_a.py::TestY::test_z[1-2]",
        "tests/unit/test_b.py::test_new",
    ]
    assert shard.mangled(ids[1]) == "tests.unit.test_a.TestY::test_z[1-2]"
    durations = {"tests/unit/test_a.py::test_x": 4.0, "tests.unit.test_a.TestY::test_z[1-2]": 2.0}
    assert shard.weights(ids, durations) == {ids[0]: 4.0, ids[1]: 2.0, ids[2]: 3.0}
    assert shard.weights(ids, {}) == dict.fromkeys(ids, 1.0)


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "2", "a/b", "-1/3"])
def test_bad_shard_specs_are_refused(text: str) -> None:
    with pytest.raises(shard.ShardError, match="INDEX"):
        shard.parse_spec(text)
    assert shard.parse_spec(" 2 / 4 ") == shard.ShardSpec(2, 4)


def test_durations_file_round_trip_and_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "d" / "durations.json"
    shard.write_durations(path, {"b": 1.23456, "a": 2.0})
    assert shard.load_durations(path) == {"a": 2.0, "b": 1.2346}
    bad = tmp_path / "bad.json"
    bad.write_text('{"x": 1}', encoding="utf-8")
    with pytest.raises(shard.ShardError, match="not a durations file"):
        shard.load_durations(bad)


# --- real pytest runs of a tiny suite -------------------------------------------------------

TINY_SUITE = {
    "test_fast.py": "import pytest\n\n"
    "@pytest.mark.parametrize('n', range(9))\n"
    "def test_param(n):\n    assert n >= 0\n\n"
    "def test_skip():\n    pytest.skip('not here')\n",
    "test_slow.py": "import time\n\n"
    "def test_sleep_a():\n    time.sleep(0.3)\n\n"
    "def test_sleep_b():\n    time.sleep(0.3)\n\n"
    "class TestGroup:\n"
    "    def test_one(self):\n        pass\n\n"
    "    def test_two(self):\n        pass\n",
}


def write_suite(root: Path, extra: dict[str, str] | None = None) -> Path:
    suite = root / "suite"
    suite.mkdir()
    # an empty ini: this directory, not the harness checkout, is the rootdir
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for name, text in {**TINY_SUITE, **(extra or {})}.items():
        (suite / name).write_text(text, encoding="utf-8")
    return suite


def run_shard(
    suite: Path, spec: str, out: Path, *extra: str, seed: str = "0"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "harness.ci.pytest_shard",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--shard={spec}",
            f"--junitxml={out}",
            *extra,
        ],
        cwd=suite,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        check=False,
    )


def run_all(suite: Path, reports: Path, total: int, *extra: str) -> list[Path]:
    files = []
    for index in range(1, total + 1):
        out = reports / f"shard-{index}.xml"
        proc = run_shard(suite, f"{index}/{total}", out, *extra, seed=str(index))
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        files.append(out)
    return files


def remove_testcase(junit: Path, test_id: str) -> None:
    tree = ET.parse(junit)
    for suite in tree.getroot().iter("testsuite"):
        for case in suite.findall("testcase"):
            if shard.testcase_id(case) == test_id:
                suite.remove(case)
                tree.write(junit)
                return
    raise AssertionError(f"{test_id} not in {junit}")


def test_real_shards_merge_and_a_removed_testcase_is_named(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    reports = tmp_path / "reports"
    files = run_all(suite, reports, 3)
    manifests = [shard.Manifest.read(shard.manifest_path(f)) for f in files]
    assert len(manifests[0].collected) == SAMPLE_TESTS
    assert sorted(t for m in manifests for t in m.selected) == sorted(manifests[0].collected)
    result, text = junit_merge.merge([reports], output=tmp_path / "merged.xml")
    assert len(result.cases) == SAMPLE_TESTS
    assert "14 distinct tests, 14 collected; 13 passed, 0 failed, 0 error, 1 skipped" in text
    assert "imbalance: slowest shard" in text
    assert "test_slow.py::test_sleep_" in text.split("slowest")[-1]
    merged = ET.parse(tmp_path / "merged.xml").getroot()
    assert merged.get("tests") == "14"
    assert len(list(merged.iter("testcase"))) == SAMPLE_TESTS

    # one testcase removed from one shard's JUnit by hand: the merge names it
    victim = manifests[1].selected[0]
    remove_testcase(files[1], victim)
    with pytest.raises(HarnessError) as err:
        junit_merge.merge([reports])
    assert victim in err.value.problem
    assert f"did not run in any shard:\n      {victim}\n" in err.value.render()


def test_duplicate_and_failed_tests_fail_the_merge(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, {"test_bad.py": "def test_broken():\n    assert 1 == 2\n"})
    reports = tmp_path / "reports"
    files = run_all(suite, reports, 2)
    # the same shard's report twice (e.g. a retried job's artifact kept): every test twice
    copy = reports / "again" / files[0].name
    copy.parent.mkdir()
    copy.write_bytes(files[0].read_bytes())
    shard.manifest_path(copy).write_bytes(shard.manifest_path(files[0]).read_bytes())
    with pytest.raises(HarnessError) as err:
        junit_merge.merge([reports])
    text = err.value.render()
    assert "ran more than once" in text
    assert "more than one report from shard(s) 1/2" in text
    copy.unlink()
    shard.manifest_path(copy).unlink()
    with pytest.raises(HarnessError) as err:
        junit_merge.merge([reports])
    assert err.value.problem == "failed: test_bad.py::test_broken"
    assert "assert 1 == 2" in err.value.render()


def test_missing_shard_and_missing_manifest_are_reported(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    reports = tmp_path / "reports"
    files = run_all(suite, reports, 3)
    files[2].unlink()
    shard.manifest_path(files[2]).unlink()
    with pytest.raises(HarnessError) as err:
        junit_merge.merge([reports])
    assert "no report from shard(s) 3/3" in err.value.render()
    shard.manifest_path(files[1]).unlink()
    with pytest.raises(HarnessError, match="ran in no shard"):
        junit_merge.merge([reports])
    assert "no shard manifest" in junit_merge.failure_text(
        junit_merge.check(junit_merge.load([reports]))
    )


def test_durations_from_a_merge_balance_the_next_run(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    first = tmp_path / "first"
    run_all(suite, first, 2)
    durations = tmp_path / "durations.json"
    junit_merge.merge([first], durations_out=durations)
    recorded = shard.load_durations(durations)
    assert recorded["test_slow.py::test_sleep_a"] >= SLEEP_A_SECONDS
    second = tmp_path / "second"
    files = run_all(suite, second, 2, f"--shard-durations={durations}")
    manifests = [shard.Manifest.read(shard.manifest_path(f)) for f in files]
    assert all(m.by_durations for m in manifests)
    # the two 0.3 s tests outweigh everything else: one on each shard
    sleepers = [[t for t in m.selected if "sleep" in t] for m in manifests]
    assert [len(s) for s in sleepers] == [1, 1]
    result, text = junit_merge.merge([second])
    assert result.ok
    assert "balanced by: recorded durations" in text
    # a JUnit file of an earlier run works as the durations file too
    again = tmp_path / "again"
    files = run_all(suite, again, 2, f"--shard-durations={first / 'shard-1.xml'}")
    assert all(shard.Manifest.read(shard.manifest_path(f)).by_durations for f in files)


def test_shard_with_xdist_workers_and_k_selection(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    reports = tmp_path / "reports"
    outputs = []
    for index in (1, 2):
        proc = run_shard(
            suite, f"{index}/2", reports / f"shard-{index}.xml", "-n", "2", "-k", "not skip"
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    manifests = [shard.Manifest.read(reports / f"shard-{i}.shard.json") for i in (1, 2)]
    assert len(manifests[0].collected) == SAMPLE_TESTS - 1  # after -k
    for index, (manifest, stdout) in enumerate(zip(manifests, outputs, strict=True), 1):
        # the controller prints the shard line (the workers select, but print nothing)
        assert f"shard {index}/2: {len(manifest.selected)} tests of 13 collected" in stdout
    result, _text = junit_merge.merge([reports])
    assert len(result.cases) == SAMPLE_TESTS - 1


def test_bad_shard_option_is_a_usage_error(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    proc = run_shard(suite, "5/4", tmp_path / "x.xml")
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert "INDEX must be between 1 and TOTAL" in proc.stderr


def test_cli_merge_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path)
    reports = tmp_path / "reports"
    files = run_all(suite, reports, 2)
    assert main(["shards", "merge", str(reports), "-o", str(tmp_path / "m.xml")]) == 0
    assert "every collected test ran exactly once" in capsys.readouterr().err
    victim = shard.Manifest.read(shard.manifest_path(files[0])).selected[-1]
    remove_testcase(files[0], victim)
    assert main(["shards", "merge", str(reports)]) == 1
    err = capsys.readouterr().err
    assert f"vmfwupdate shards merge: error: collected but ran in no shard: {victim}" in err
    assert main(["shards", "merge", str(tmp_path / "nothing")]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_vmfwupdate_test_passes_the_shard_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI_NODE_INDEX", "3")
    monkeypatch.setenv("CI_NODE_TOTAL", "4")
    args = make_parser().parse_args(
        ["test", "--no-build", "--shard", "ci", "--shard-durations", "d.json", "-n", "2"]
    )
    cmd = devloop.pytest_command(args, Path("/q"), "v7", Path("/l"), Path("/r"))
    # --opt=VALUE: pytest takes a separate value of a plugin's option for a path argument
    # when it chooses the rootdir (before plugins are loaded)
    assert "--shard=3/4" in cmd
    # a relative path is the user's: pytest runs in the user's directory, with it absolute
    assert f"--shard-durations={tmp_path / 'd.json'}" in cmd
    monkeypatch.delenv("CI_NODE_INDEX")
    with pytest.raises(SystemExit):
        make_parser().parse_args(["test", "--shard", "ci"])
