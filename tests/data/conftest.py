"""A small raw dataset per test: drawn once per session, copied for each test."""

import shutil
from pathlib import Path

import pytest

from .factory import make_raw

CLASSES = ["apple", "banana", "corn", "sweetcorn"]


@pytest.fixture(scope="session")
def raw_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Drawn once: rendering the pictures is the slow part, copying them is not."""
    return make_raw(tmp_path_factory.mktemp("raw-template") / "raw", CLASSES)


@pytest.fixture
def raw(tmp_path: Path, raw_template: Path) -> Path:
    """tmp_path/raw/{train,validation,test}/<class>/Image_<n>.jpg, the test's own copy."""
    return Path(shutil.copytree(raw_template, tmp_path / "raw"))
