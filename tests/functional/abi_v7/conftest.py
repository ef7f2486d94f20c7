"""The v7 layout's own checks: the `abi` of every test here is v7."""

from __future__ import annotations

import pytest

from harness.interface import v7


@pytest.fixture
def abi() -> str:
    return v7.NAME
