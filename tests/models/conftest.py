"""Fixtures for the model and training tests."""

from pathlib import Path

import pytest


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder standing for the repository root, made the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def float32_policy():
    """Each test starts in float32: training sets Keras' global precision policy."""
    import keras

    yield
    keras.mixed_precision.set_global_policy("float32")
