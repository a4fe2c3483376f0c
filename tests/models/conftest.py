"""Fixtures for the model and training tests."""

from pathlib import Path

import pytest


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder standing for the repository root, made the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
