"""The toolkit's own commands on the built binary: the `series` parameter (one per ABI
chosen), that series' QEMU, and an empty checkout for the command to run on."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build.qemu import PROFILES
from harness.interface.abis import ABI_NAMES
from harness.workdir import SERIES_DIR, Workdir

REPO = Path(__file__).resolve().parents[3]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "series" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--abi")
        metafunc.parametrize("series", list(ABI_NAMES) if choice == "all" else [choice])


@pytest.fixture
def binary(pytestconfig: pytest.Config, series: str) -> Path:
    """The series' QEMU (--qemu-bin with one --abi, else its default build); skipped if none."""
    given = pytestconfig.getoption("--qemu-bin")
    if given is not None and pytestconfig.getoption("--abi") == "all":
        pytest.skip("--qemu-bin without a single --abi: which series it was built from is unknown")
    path = Path(given or Workdir(REPO, series).build_dir("default") / PROFILES["default"].binary)
    if not path.resolve().is_file():
        pytest.skip(
            f"no QEMU binary at {path} (series {series}): `vmfwupdate build --series {series}` "
            "or --qemu-bin PATH"
        )
    return path.resolve()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "checkout"
    for name in ABI_NAMES:
        (repo / SERIES_DIR / name).mkdir(parents=True)
    return repo
