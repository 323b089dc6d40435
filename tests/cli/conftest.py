"""Fixtures of the flmctl tests."""

from __future__ import annotations

import pytest
from cli_fakes import CliRunner, FakeFrontend


@pytest.fixture
def frontend() -> FakeFrontend:
    return FakeFrontend()


@pytest.fixture
def flmctl(frontend: FakeFrontend, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("FLAME_ENDPOINT", raising=False)
    monkeypatch.setenv("FLAME_CONFIG", "/nonexistent/flame.yaml")
    return CliRunner(frontend)
