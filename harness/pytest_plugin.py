"""pytest plugin loaded for every run from this checkout (``-p harness.pytest_plugin`` in
pyproject.toml's addopts): less fixed cost per pytest process.

pytest's start-up leaves ~10^5 long-lived objects (its modules, then the test modules and
the harness), and every full garbage collection walks all of them: pytest itself runs two at
the end of each session (unraisable-exception check), ~30 ms each on the 2-core machine.
`gc.freeze()` moves what exists at that point into the permanent generation, which no
collection walks; objects made by the tests are collected as before.
"""

from __future__ import annotations

import gc

import pytest

gc.freeze()  # pytest and its plugins, imported before this module


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()  # the test modules, conftests and what they import
