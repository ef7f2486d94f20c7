"""The driver's own tests boot the v6 device: the `abi` of every test here is v6
(conftest.py runs them when v6 is among the chosen ABIs)."""

from __future__ import annotations

import pytest

from harness.interface import v6


@pytest.fixture
def abi() -> str:
    return v6.NAME
