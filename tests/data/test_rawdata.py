"""The raw layout check names the folder at fault."""

import os
import shutil
from pathlib import Path

import pytest

from fruitveg.data.classes import ClassNameError
from fruitveg.data.rawdata import LayoutError, check_given, scan


def test_scan_lists_every_file(raw: Path) -> None:
    (raw / "train" / "apple" / ".DS_Store").write_bytes(b"junk")
    (raw / "train" / "apple" / "notes.txt").write_text("not an image")
    files = scan(raw)
    assert len(files) == 3 * 4 * 2 + 1  # the text file is listed; hidden files are not
    assert {f.split for f in files} == {"train", "validation", "test"}


def test_missing_split_is_an_error_only_for_the_given_splits(raw: Path) -> None:
    shutil.rmtree(raw / "validation")
    files = scan(raw)  # a resplit pools what there is
    assert {f.split for f in files} == {"train", "test"}
    with pytest.raises(LayoutError, match=r"validation: missing split folder.*data.split: resplit"):
        check_given(files, raw)


def test_empty_class_folder(raw: Path) -> None:
    for f in (raw / "test" / "corn").iterdir():
        f.unlink()
    with pytest.raises(LayoutError, match=r"test/corn: empty class folder"):
        scan(raw)


def test_any_safe_class_name_is_a_class(raw: Path) -> None:
    for name in ("durian", "star fruit", "Physalis (cape gooseberry)", "açaí"):
        shutil.copytree(raw / "train" / "apple", raw / "train" / name)
    assert {"durian", "star fruit", "açaí"} <= {f.cls for f in scan(raw)}


@pytest.mark.parametrize(
    "name", ["a|b", "a,b", " apple", "apple ", "-apple", "apple.", "a__b", "tab\there", "ko\udcff"]
)
def test_unsafe_class_names_are_refused_naming_the_folder(raw: Path, name: str) -> None:
    folder = os.fsencode(raw / "train") + b"/" + os.fsencode(name)
    os.mkdir(folder)
    with open(folder + b"/x.jpg", "wb") as fh:
        fh.write(b"x")
    with pytest.raises(ClassNameError, match=r"/train/.*class folder name .* rename the folder"):
        scan(raw)


def test_classes_missing_from_splits_are_all_named_for_the_given_splits(raw: Path) -> None:
    shutil.rmtree(raw / "test" / "banana")
    shutil.rmtree(raw / "validation" / "corn")
    files = scan(raw)  # fine for a resplit
    with pytest.raises(LayoutError) as err:
        check_given(files, raw)
    assert "validation/corn: class 'corn' is missing" in str(err.value)
    assert "test/banana: class 'banana' is missing" in str(err.value)


def test_one_folder_of_class_folders(raw: Path, tmp_path: Path) -> None:
    files = scan(raw / "train")  # no split folders: every folder is a class
    assert {f.split for f in files} == {""} and len(files) == 4 * 2
    assert files[0].key == "apple/Image_1.jpg"
    with pytest.raises(LayoutError, match=r"no train/validation/test folders.*resplit"):
        check_given(files, raw / "train")
    (raw / "train" / "README.txt").write_text("about")
    with pytest.raises(LayoutError, match=r"README.txt: expected only split or class folders"):
        scan(raw / "train")


def test_label_replaces_temporary_root(raw: Path) -> None:
    for f in (raw / "test" / "corn").iterdir():
        f.unlink()
    with pytest.raises(LayoutError, match=r"^kaggle archive/test/corn: empty class folder"):
        scan(raw, "kaggle archive")


def test_names_that_are_not_utf8_are_shown_escaped(raw: Path) -> None:
    folder = os.fsencode(raw / "train" / "apple")
    with open(folder + b"/caf\xe9 \xff.jpg", "wb") as fh:
        fh.write(b"any content")
    keys = {f.key for f in scan(raw)}
    assert "train/apple/caf\\xe9 \\xff.jpg" in keys
    assert all(k.encode("utf-8") for k in keys)  # a CSV or JSON can hold every one
