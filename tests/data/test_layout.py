"""Layouts are built from data/raw without touching it, deduplicated and mapped."""

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from fruitveg.audit.duplicates import LEAK, TRAIN_COPY
from fruitveg.data.classes import MappingError, binary_mapping
from fruitveg.data.rawdata import LayoutError, scan
from fruitveg.layout.build import build


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_multiclass_layout(raw: Path, tmp_path: Path) -> None:
    (raw / "train" / "apple" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    before = tree_digest(raw)
    files = scan(raw)
    labels = {f.cls: f.cls for f in files}
    out = tmp_path / "multiclass"
    exclude = {"train/banana/Image_1.jpg": LEAK, "validation/corn/Image_2.jpg": TRAIN_COPY}
    summary = build(files, labels, out, size=32, exclude=exclude)
    assert tree_digest(raw) == before  # raw data is never changed
    assert summary["removed_duplicates_of_test"] == {"train": 1, "validation": 0}
    assert summary["removed_copies_of_train"] == 1
    assert [u["file"] for u in summary["unreadable"]] == ["train/apple/broken.jpg"]
    assert summary["counts"]["train"] == {"apple": 2, "banana": 1, "corn": 2, "sweetcorn": 2}
    written = sorted(out.rglob("*.jpg"))
    assert len(written) == summary["images"] == 3 * 4 * 2 - 2
    assert not (out / "train" / "banana" / "banana__Image_1.jpg").exists()
    for p in written:
        with Image.open(p) as im:
            assert im.size == (32, 32) and im.mode == "RGB"


def test_binary_layout_pools_classes(raw: Path, tmp_path: Path) -> None:
    files = scan(raw)
    labels = binary_mapping(["apple", "banana"], ["corn", "sweetcorn"], {f.cls for f in files})
    summary = build(files, labels, tmp_path / "binary", size=24, exclude={})
    assert summary["counts"]["test"] == {"fruit": 4, "vegetable": 4}
    names = sorted(p.name for p in (tmp_path / "binary" / "test" / "fruit").iterdir())
    assert names[:2] == ["apple__Image_1.jpg", "apple__Image_2.jpg"]  # same names, kept apart


def test_same_stem_different_extension(raw: Path, tmp_path: Path) -> None:
    src = raw / "train" / "apple" / "Image_1.jpg"
    with Image.open(src) as im:
        im.save(raw / "train" / "apple" / "Image_1.png")
    files = scan(raw)
    build(files, {f.cls: f.cls for f in files}, tmp_path / "out", 16, {})
    names = sorted(p.name for p in (tmp_path / "out" / "train" / "apple").iterdir())
    assert names == ["apple__Image_1.jpg", "apple__Image_1.png.jpg", "apple__Image_2.jpg"]


def test_files_the_split_stage_moves_keep_distinct_names(raw: Path, tmp_path: Path) -> None:
    """A resplit can bring test/apple/Image_1.jpg beside train/apple/Image_1.jpg: moved
    files are named by their split, whatever the order, and the others keep their names."""
    files = scan(raw)[::-1]  # the moved test/apple/Image_1.jpg comes before train's
    moved = {"test/apple/Image_1.jpg", "validation/apple/Image_1.jpg"}
    splits = {f.key: "train" if f.key in moved else f.split for f in files}
    summary = build(files, {f.cls: f.cls for f in files}, tmp_path / "out", 16, {}, splits=splits)
    names = sorted(p.name for p in (tmp_path / "out" / "train" / "apple").iterdir())
    assert names == ["apple__Image_1.jpg", "apple__Image_2.jpg",
                     "apple__test__Image_1.jpg", "apple__validation__Image_1.jpg"]  # fmt: skip
    assert summary["counts"]["train"]["apple"] == 4 and summary["counts"]["test"]["apple"] == 1


def test_label_with_nothing_readable_is_an_error(raw: Path, tmp_path: Path) -> None:
    for p in (raw / "test" / "corn").iterdir():
        p.write_bytes(b"")
    files = scan(raw)
    with pytest.raises(LayoutError, match="test/corn: no readable image"):
        build(files, {f.cls: f.cls for f in files}, tmp_path / "out", 16, {})


def test_mapping_errors_name_the_class() -> None:
    with pytest.raises(MappingError, match="'kiwi' found in the data but in neither"):
        binary_mapping(["apple"], ["corn"], ["apple", "corn", "kiwi"])
    with pytest.raises(MappingError, match="'tomato' listed as both"):
        binary_mapping(["tomato"], ["tomato", "corn"], ["tomato", "corn"])


def test_study_mapping_in_params() -> None:
    import yaml

    from fruitveg.data.classes import KAGGLE_CLASSES

    p = yaml.safe_load(Path("params.yaml").read_text())
    mapping = binary_mapping(p["classes"]["fruit"], p["classes"]["vegetable"], KAGGLE_CLASSES)
    fruit = sorted(c for c, label in mapping.items() if label == "fruit")
    assert fruit == sorted(
        [
            "banana",
            "apple",
            "pear",
            "grapes",
            "orange",
            "kiwi",
            "watermelon",
            "pomegranate",
            "pineapple",
            "mango",
        ]
    )
    assert mapping["lemon"] == mapping["tomato"] == "vegetable"
