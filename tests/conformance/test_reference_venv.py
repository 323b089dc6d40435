"""Without the flamepy 0.6.0 reference (no network), tests fail in CI and skip elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import reference_venv


@pytest.fixture
def unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(venv: Path = reference_venv.REFERENCE_VENV) -> Path:
        raise reference_venv.ReferenceUnavailable("pip install flamepy==0.6.0 failed (is PyPI reachable?)")

    monkeypatch.setattr(reference_venv, "reference_python", refuse)


@pytest.mark.usefixtures("unavailable")
@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_fails_with_the_reason_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"unavailable: pip install flamepy==0\.6\.0 failed"):
        reference_venv.require_reference_python()


@pytest.mark.usefixtures("unavailable")
@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_skips_with_the_reason_elsewhere(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="is PyPI reachable"):
        reference_venv.require_reference_python()


def test_a_venv_without_flamepy_060_is_not_the_reference(tmp_path: Path) -> None:
    assert not reference_venv.has_reference(reference_venv.venv_python(tmp_path / "none"))
