"""Registers the ``conformance`` marker (kept here so pyproject.toml stays untouched)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "conformance: compares our flamepy's public surface with flamepy 0.6.0 from PyPI "
        "(needs the network once, to install it into .venv-flame060)",
    )
