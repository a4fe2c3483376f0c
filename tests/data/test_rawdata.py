"""The raw layout check names the folder at fault."""

import os
import shutil
from pathlib import Path

import pytest

from fruitveg.data.rawdata import LayoutError, scan


def test_scan_lists_every_file(raw: Path) -> None:
    (raw / "train" / "apple" / ".DS_Store").write_bytes(b"junk")
    (raw / "train" / "apple" / "notes.txt").write_text("not an image")
    files = scan(raw)
    assert len(files) == 3 * 4 * 2 + 1  # the text file is listed; hidden files are not
    assert {f.split for f in files} == {"train", "validation", "test"}


def test_missing_split(raw: Path) -> None:
    shutil.rmtree(raw / "validation")
    with pytest.raises(LayoutError, match=r"validation: missing split folder"):
        scan(raw)


def test_empty_class_folder(raw: Path) -> None:
    for f in (raw / "test" / "corn").iterdir():
        f.unlink()
    with pytest.raises(LayoutError, match=r"test/corn: empty class folder"):
        scan(raw)


def test_unknown_class_folder(raw: Path) -> None:
    (raw / "train" / "durian").mkdir()
    with pytest.raises(LayoutError, match=r"train/durian: 'durian' is not one of the dataset's 36"):
        scan(raw)


def test_class_missing_from_one_split(raw: Path) -> None:
    shutil.rmtree(raw / "test" / "banana")
    with pytest.raises(LayoutError, match=r"test/banana: class 'banana' is missing"):
        scan(raw)


def test_label_replaces_temporary_root(raw: Path) -> None:
    shutil.rmtree(raw / "test")
    with pytest.raises(LayoutError, match=r"^kaggle archive/test: missing split"):
        scan(raw, "kaggle archive")


def test_names_that_are_not_utf8_are_shown_escaped(raw: Path) -> None:
    folder = os.fsencode(raw / "train" / "apple")
    with open(folder + b"/caf\xe9 \xff.jpg", "wb") as fh:
        fh.write(b"any content")
    keys = {f.key for f in scan(raw)}
    assert "train/apple/caf\\xe9 \\xff.jpg" in keys
    assert all(k.encode("utf-8") for k in keys)  # a CSV or JSON can hold every one
