"""Fixtures and options for the functional suite (real QEMU, real guest agent).

Options:
  --qemu-bin PATH      QEMU to test, with a single --abi (default: the series' own build,
                       <repo>/.work/<series>/build/default/qemu-system-x86_64)
  --accel tcg|kvm|all  accelerators to run (default all; kvm skipped with the reason
                       when /dev/kvm cannot be opened read-write)
  --abi NAME|all       device ABIs (one per series: v6, v7) to test (default all): the
                       ABI-neutral flows (flows/) run once per ABI on that series' binary;
                       abi_<name>/ and driver/ (pinned to v6) run when their ABI is chosen
                       (else left out; skipped with the reason when named on the command
                       line, e.g. tests/functional/abi_v7 --abi v6)
  --vm-log-dir DIR     per-test QEMU logs (default <repo>/.work/logs/functional)
  --payload-dir DIR    agent images and the IGVM files wrapped from firmware, kept between
                       runs, one subdirectory per xdist worker
                       (default <repo>/.work/payloads/functional)
  --hostile-seed N, --hostile-ops N, --hostile-long
                       hostile-guest run: seed (replay), operation count, the long run

Layout: flows/ are the ABI-neutral flows, run once per device ABI (the `abi`
parameter, like `machine` and `accel`) through the ABI's device view, each on
the QEMU built from that ABI's series; abi_v6/ and abi_v7/ are each layout's
own checks (v6: the five files; v7: the structure, its status codes, the
one-boot trial); driver/ tests the driver and the agent console; bench_smoke/
runs every benchmark group of bench/ once, smallest sizes, per ABI; toolkit/ runs the
toolkit's own commands on the built binary (any ABI chosen).

Markers: tests mark their core checks `core`; `quick` is set on the core
checks that do not use KVM (the quick run stays under a minute) and `slow` on
everything else, so `-m quick` and `-m slow` split the suite in two.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the suite runs from a checkout, installed or not
    sys.path.insert(0, str(REPO))

from igvm_files import BOOT_KINDS, IGVM, IgvmFiles, host_booter  # noqa: E402
from migration import Migrator  # noqa: E402
from vms import Booter, Payloads, VMFactory  # noqa: E402

from harness.build.qemu import PROFILES  # noqa: E402
from harness.interface import v6  # noqa: E402
from harness.interface.abis import ABI_NAMES  # noqa: E402
from harness.machine.cmdline import ACCELS, MACHINES  # noqa: E402
from harness.machine.host import kvm_usable  # noqa: E402
from harness.workdir import Workdir  # noqa: E402

LOG_DIRS = pytest.StashKey[list[Path]]()
HERE = Path(__file__).resolve().parent
FLOWS = HERE / "flows"
# The smoke run of every benchmark group (bench/), once per ABI like the flows.
BENCH_SMOKE = HERE / "bench_smoke"
PER_ABI = (FLOWS, BENCH_SMOKE)
ABI_DIR_PREFIX = "abi_"
DRIVER_DIR = "driver"
DRIVER_ABI = v6.NAME
QEMU_BINARY = PROFILES["default"].binary
KVM_CORE_ONLY = (
    "not a core check: extra cases (more rejection rules, sizes, fw_cfg slots) run on "
    "TCG only; KVM runs the core checks of every flow, which keeps the KVM run short"
)
IGVM_KVM_MARK = "igvm_kvm"
IGVM_KVM_ONE = (
    "not a core check on KVM: the 'igvm' boot kind (a host started from an IGVM file) runs "
    f"one core flow on KVM (marked {IGVM_KVM_MARK}) and its other core checks on TCG, which "
    "keeps the default run within its time limit"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vmfwupdate functional tests")
    group.addoption(
        "--qemu-bin",
        default=None,
        help="QEMU binary built from the series of the one --abi chosen (default: that "
        "series' default build, .work/<series>/build/default/qemu-system-x86_64)",
    )
    group.addoption(
        "--accel",
        choices=("tcg", "kvm", "all"),
        default="all",
        help="accelerators to test; kvm is skipped with the reason if unusable",
    )
    group.addoption(
        "--abi",
        choices=(*ABI_NAMES, "all"),
        default="all",
        help="device ABIs (= series) to test: the flows in flows/ run once per ABI, "
        "abi_<name>/ and driver/ (v6) run when their ABI is chosen (default all: %(choices)s)",
    )
    group.addoption(
        "--vm-log-dir",
        default=str(REPO / ".work" / "logs" / "functional"),
        help="directory for per-test QEMU stderr, console and QMP transcripts",
    )
    group.addoption(
        "--payload-dir",
        default=str(REPO / ".work" / "payloads" / "functional"),
        help="agent images, one subdirectory per xdist worker (default: %(default)s)",
    )
    group.addoption(
        "--hostile-seed",
        type=int,
        default=None,
        help="seed of the hostile-guest operations (default: random, printed); replays a run",
    )
    group.addoption(
        "--hostile-ops", type=int, default=0, help="hostile-guest operations (default 200)"
    )
    group.addoption(
        "--hostile-long",
        action="store_true",
        help="run the long hostile-guest test (10,000 operations) and the leak check",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "core: a core check of a flow (quick when on TCG)")
    config.addinivalue_line(
        "markers", "quick: core checks on TCG, set automatically; the run takes < 1 minute"
    )
    config.addinivalue_line("markers", "slow: everything not quick, set automatically")
    config.addinivalue_line(
        "markers",
        f"{IGVM_KVM_MARK}: the core flow that also runs on KVM for the 'igvm' boot kind "
        "(its other core checks run on TCG only)",
    )


def _accels(config: pytest.Config) -> list[str]:
    choice = config.getoption("--accel")
    return list(ACCELS) if choice == "all" else [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The ABI-neutral flows (flows/) run once per device ABI, through its device view; so
    # does the benchmarks' smoke run (bench_smoke/).
    parents = Path(str(metafunc.definition.path)).parents
    if "abi" in metafunc.fixturenames and any(d in parents for d in PER_ABI):
        choice = metafunc.config.getoption("--abi")
        metafunc.parametrize("abi", list(ABI_NAMES) if choice == "all" else [choice])
    if "machine" in metafunc.fixturenames:
        metafunc.parametrize("machine", MACHINES)
    if "accel" in metafunc.fixturenames:
        metafunc.parametrize("accel", _accels(metafunc.config))
    # how the host firmware starts, for the flows that take it (igvm_files.BOOT_KINDS)
    if "boot_kind" in metafunc.fixturenames:
        metafunc.parametrize("boot_kind", BOOT_KINDS)


def chosen_abis(config: pytest.Config) -> list[str]:
    choice = config.getoption("--abi")
    return list(ABI_NAMES) if choice == "all" else [choice]


def pinned_abi(item: pytest.Item) -> str | None:
    """The ABI a test outside flows/ is pinned to: abi_<name>/, or v6 for driver/."""
    parts = Path(str(item.path)).relative_to(HERE).parts
    if parts[0].startswith(ABI_DIR_PREFIX):
        return parts[0].removeprefix(ABI_DIR_PREFIX)
    return DRIVER_ABI if parts[0] == DRIVER_DIR else None


def named_on_command_line(config: pytest.Config, item: pytest.Item) -> bool:
    """Whether `item` lies in a directory or file the command line names below this suite
    (tests/functional/abi_v7, a file in it, a node id), not just under the suite itself."""
    path = Path(str(item.path)).resolve()
    for arg in config.args:
        named = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if named != HERE and HERE in named.parents and (named == path or named in path.parents):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = chosen_abis(config)
    other = [item for item in items if pinned_abi(item) not in (None, *chosen)]
    # Tests of another ABI are left out; those the command line names (abi_v7/ with --abi
    # v6) are skipped with the reason, so such a run says why nothing ran.
    named = [item for item in other if named_on_command_line(config, item)]
    for item in named:
        item.add_marker(
            pytest.mark.skip(
                reason=f"pinned to ABI {pinned_abi(item)} (its directory), not among the ABIs "
                f"chosen: --abi {config.getoption('--abi')}"
            )
        )
    other = [item for item in other if item not in named]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]
    usable, reason = kvm_usable()
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        accel = params.get("accel")
        core = item.get_closest_marker("core") is not None
        # a host started from an IGVM file: one core flow on KVM, the rest on TCG
        igvm_on_kvm = accel == "kvm" and params.get("boot_kind") == IGVM
        if igvm_on_kvm and item.get_closest_marker(IGVM_KVM_MARK) is None:
            core = False
        if core and accel != "kvm":
            item.add_marker(pytest.mark.quick)
        else:
            item.add_marker(pytest.mark.slow)
        if accel == "kvm" and not usable:
            item.add_marker(pytest.mark.skip(reason=f"KVM: {reason}"))
        elif igvm_on_kvm and not core and item.get_closest_marker("core") is not None:
            item.add_marker(pytest.mark.skip(reason=IGVM_KVM_ONE))
        elif accel == "kvm" and not core:
            item.add_marker(pytest.mark.skip(reason=KVM_CORE_ONLY))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        dirs = item.stash.get(LOG_DIRS, [])
        if dirs:
            lines = []
            for d in dirs:
                lines.append(f"{d}/")
                lines += [f"  {p.name}" for p in sorted(d.iterdir())] if d.is_dir() else []
            report.sections.append(("QEMU logs (stderr, console, QMP, cmdline)", "\n".join(lines)))


@pytest.fixture
def qemu_bin(pytestconfig: pytest.Config, abi: str) -> Path:
    """The QEMU built from series `abi` (each device ABI has its own series and binary)."""
    given = pytestconfig.getoption("--qemu-bin")
    if given is not None and len(chosen_abis(pytestconfig)) > 1:
        pytest.fail("--qemu-bin needs a single --abi: each ABI has its own binary", pytrace=False)
    path = Path(given or Workdir(REPO, abi).build_dir("default") / QEMU_BINARY).resolve()
    if not path.is_file():
        pytest.fail(
            f"QEMU binary {path} (series {abi}) not found: build it first "
            f"(`vmfwupdate build --series {abi}`; make check-vmfwupdate builds both) "
            f"or pass --qemu-bin PATH",
            pytrace=False,
        )
    return path


def worker_name(config: pytest.Config) -> str:
    """This process's pytest-xdist worker id (gw0, gw1, ...), or "main" without xdist."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


@pytest.fixture(scope="session")
def payloads(pytestconfig: pytest.Config) -> Payloads:
    """Agent images of this worker, kept between sessions (relinked when the agent's sources
    change): not rebuilt for every run, and not left for pytest to delete from its temporary
    directory at the start of a later, possibly one-test, run."""
    return Payloads(Path(pytestconfig.getoption("--payload-dir")) / worker_name(pytestconfig))


@pytest.fixture(scope="session")
def igvm_files(pytestconfig: pytest.Config, payloads: Payloads) -> IgvmFiles:
    """Firmware wrapped into IGVM files by the pinned igvm-wrap, kept with this worker's
    agent images (in igvm/), made again only when an input or the tool changes."""
    worker = Path(pytestconfig.getoption("--payload-dir")) / worker_name(pytestconfig)
    return IgvmFiles(worker / "igvm", payloads)


def _node_dir(base: Path, nodeid: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.replace("::", "__")).strip("_")
    return base / safe[:200]


@pytest.fixture
def vms(
    request: pytest.FixtureRequest, qemu_bin: Path, pytestconfig: pytest.Config
) -> Iterator[VMFactory]:
    """Start VMs for this test; all are reaped after it, and a bad exit fails it."""
    log_root = _node_dir(Path(pytestconfig.getoption("--vm-log-dir")), request.node.nodeid)
    shutil.rmtree(log_root, ignore_errors=True)
    dirs: list[Path] = []
    request.node.stash[LOG_DIRS] = dirs
    factory = VMFactory(qemu_bin, log_root, dirs)
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture
def migrator(vms: VMFactory) -> Iterator[Migrator]:
    """Migrates a booted VM to a new QEMU (migration.py)."""
    # Unix socket paths are limited to 108 bytes: not under the long log directory.
    with tempfile.TemporaryDirectory(prefix="vmfw-mig-") as sock_dir:
        yield Migrator(vms, Path(sock_dir))


@pytest.fixture
def boot(vms: VMFactory, payloads: Payloads, machine: str, accel: str, abi: str) -> Booter:
    """boot(size=..., identity=..., blobs=..., devices=...) -> Booted, on this machine, accel
    and device ABI (the flows in flows/ run for every ABI; the layout tests in abi_v6/ and
    the driver's own tests pin theirs with a module-level `abi` fixture)."""
    return vms.booter(payloads, machine, accel, abi)


@pytest.fixture
def igvm_host(
    vms: VMFactory,
    payloads: Payloads,
    igvm_files: IgvmFiles,
    machine: str,
    accel: str,
    abi: str,
    boot_kind: str,
) -> Booter:
    """Boots the host agent (that arms ROM or IGVM images) on the test's machine,
    accelerator and ABI, started the way `boot_kind` says (igvm_files.BOOT_KINDS)."""
    return host_booter(vms, payloads, machine, accel, abi, boot_kind, igvm_files)
