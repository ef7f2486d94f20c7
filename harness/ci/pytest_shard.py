"""pytest plugin: ``--shard INDEX/TOTAL`` runs this shard's share of the collected tests.

Loaded for every run from this checkout (``-p harness.ci.pytest_shard`` in pyproject.toml's
addopts), unit and functional suites alike. Options:

  --shard I/N             run shard I of N (1-based, GitLab's CI_NODE_INDEX/CI_NODE_TOTAL)
  --shard-durations=PATH  balance on these durations (a durations JSON written by
                          ``vmfwupdate shards merge --durations-out``, or any JUnit XML of an
                          earlier run); a missing file falls back to balancing by test id
  --shard-manifest PATH   where to record what was collected and selected (default: beside
                          --junitxml, ``X.xml`` -> ``X.shard.json``)

Give the path options as ``--opt=PATH``: pytest picks its rootdir before it loads plugins,
and then takes a separate ``PATH`` of an option it does not know yet for a test path.

The selection happens after every other ``pytest_collection_modifyitems`` (``-k``, ``-m``,
the suites' own marker hooks), so the shards split exactly the tests the run would have run.
With pytest-xdist each worker collects and computes the same partition; only the first worker
writes the manifest. When a JUnit report is written, each testcase gets a ``nodeid`` property
(pytest's own classname/name cannot be mapped back to the node id), which the merge step and
the durations reader use.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from harness.ci import shard

log = logging.getLogger(__name__)

SPEC_KEY = pytest.StashKey[shard.ShardSpec | None]()


def shard_arg(text: str) -> shard.ShardSpec:
    try:
        return shard.parse_spec(text)
    except shard.ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vmfwupdate sharding")
    group.addoption(
        "--shard",
        type=shard_arg,
        default=None,
        metavar="INDEX/TOTAL",
        help="run only shard INDEX of TOTAL (1-based) of the collected tests",
    )
    group.addoption(
        "--shard-durations",
        default=None,
        metavar="PATH",
        help="durations JSON or JUnit XML of an earlier run to balance the shards on",
    )
    group.addoption(
        "--shard-manifest",
        default=None,
        metavar="PATH",
        help="record the collected and selected test ids here (default: beside --junitxml)",
    )


def writes_files(config: pytest.Config) -> bool:
    worker = getattr(config, "workerinput", None)
    return worker is None or worker.get("workerid") == "gw0"


def manifest_target(config: pytest.Config) -> Path | None:
    explicit = config.getoption("--shard-manifest")
    if explicit:
        return Path(explicit)
    xmlpath = getattr(config.option, "xmlpath", None)
    if xmlpath and config.getoption("--shard") is not None:
        return shard.manifest_path(Path(xmlpath))
    return None


def durations_for(config: pytest.Config) -> tuple[dict[str, float] | None, Path | None]:
    name = config.getoption("--shard-durations")
    if not name:
        return None, None
    path = Path(name)
    if not path.is_file():
        log.warning("shard: no durations file %s: balancing by test id", path)
        return None, None
    try:
        return shard.load_durations(path), path
    except shard.ShardError as exc:
        raise pytest.UsageError(str(exc)) from None


class XdistShardLine:
    """Under ``-n N`` the workers select; the controller prints the shard line once."""

    def __init__(self, config: pytest.Config, spec: shard.ShardSpec) -> None:
        self.config = config
        self.spec = spec
        self.printed = False

    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        worker = getattr(getattr(node, "gateway", None), "id", None)
        # gw0 writes the manifest before it reports its collection: wait for gw0
        if self.printed or reporter is None or worker not in ("gw0", None):
            return
        self.printed = True
        text = f"shard {self.spec}: {len(ids)} tests"
        target = manifest_target(self.config)
        if target is not None and target.is_file():  # gw0 wrote it before reporting
            try:
                manifest = shard.Manifest.read(target)
            except shard.ShardError:
                manifest = None
            if manifest is not None:
                how = "recorded durations" if manifest.by_durations else "test id"
                text += f" of {len(manifest.collected)} collected, balanced by {how}"
        reporter.write_line(text)


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("--shard")
    config.stash[SPEC_KEY] = spec
    if spec is not None and config.pluginmanager.hasplugin("xdist"):
        numprocesses = getattr(config.option, "numprocesses", None)
        if numprocesses and not hasattr(config, "workerinput"):
            config.pluginmanager.register(XdistShardLine(config, spec), "vmfwupdate-shard-xdist")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    spec = config.stash.get(SPEC_KEY, None)
    target = manifest_target(config)
    if getattr(config.option, "xmlpath", None):
        for item in items:
            item.user_properties.append((shard.NODEID_PROPERTY, item.nodeid))
    if spec is None and target is None:
        return
    ids = [item.nodeid for item in items]
    durations, durations_path = durations_for(config)
    spec = spec or shard.ShardSpec(1, 1)
    try:
        part = shard.partition(ids, spec.total, durations)
    except shard.ShardError as exc:
        raise pytest.UsageError(f"--shard: {exc}") from None
    selected = set(part.of(spec))
    keep = [item for item in items if item.nodeid in selected]
    dropped = [item for item in items if item.nodeid not in selected]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and writes_files(config):
        reporter.write_line(
            f"shard {spec}: {len(keep)} of {shard.describe(part, ids)}"
            + (f" ({durations_path})" if durations_path else "")
        )
    if target is not None and writes_files(config):
        manifest = shard.Manifest(
            spec=spec,
            collected=ids,
            selected=[item.nodeid for item in keep],
            by_durations=part.by_durations,
            durations_sha256=shard.file_digest(durations_path),
            expected_load=part.loads[spec.index - 1],
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(manifest.to_json() + "\n", encoding="utf-8")
        tmp.replace(target)
