"""Shared fixtures and options. `pytest --bless` rewrites the golden files from the current
output; `pytest --slow` also runs the tests marked `slow` (skipped by default, and named as
skipped)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# PyTorch on one thread, in this process and the ones the tests start (unless OMP_NUM_THREADS
# says otherwise): the networks under test are small, so a second thread gains little on a quiet
# machine, and on a busy one threads that wait for each other multiply the wall time (a tiny
# training run took ten times as long on two threads as on one, at a load of 20 on two cores).
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURES = ROOT / "architectures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bless", action="store_true", help="rewrite golden files with the current output")
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def bless(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--bless"))


@pytest.fixture
def python() -> str:
    return sys.executable
