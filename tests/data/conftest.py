"""A small raw dataset per test."""

from pathlib import Path

import pytest

from .factory import make_raw


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return make_raw(tmp_path / "raw", ["apple", "banana", "corn", "sweetcorn"])
