"""The download stage's synthetic and local sources."""

import hashlib
import shutil
from pathlib import Path

import pytest
from PIL import Image

from fruitveg.data.classes import KAGGLE_CLASSES
from fruitveg.data.rawdata import LayoutError
from fruitveg.download import synthetic
from fruitveg.download.settings import DownloadSettings, SyntheticSettings
from fruitveg.download.sources import download


def synthetic_settings(seed: int = 5, **counts: int) -> DownloadSettings:
    counts = {"train": 1, "validation": 1, "test": 1, "leaks": 2} | counts
    return DownloadSettings("synthetic", synthetic=SyntheticSettings(**counts, seed=seed))


def local_settings(path: Path) -> DownloadSettings:
    return DownloadSettings("local", local_path=path)


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_synthetic_has_real_layout(tmp_path: Path) -> None:
    files = download(synthetic_settings(), tmp_path / "a")
    assert sorted({f.cls for f in files}) == sorted(KAGGLE_CLASSES)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["test", "train", "validation"]
    assert len(files) == 36 * 3 + 2
    assert sum("leak" in f.path.name for f in files) == 2
    assert all(f.path.exists() and f.path.is_relative_to(tmp_path / "a") for f in files)
    sizes = set()
    for f in files[:40]:
        with Image.open(f.path) as im:
            assert im.format == "JPEG"
            sizes.add(im.size)
    assert len(sizes) > 20  # varied sizes and aspect ratios


def test_synthetic_is_deterministic_and_seeded(tmp_path: Path, monkeypatch) -> None:
    # Two classes keep it quick; every picture has its own seeded stream either way.
    monkeypatch.setattr(synthetic, "KAGGLE_CLASSES", ("apple", "corn"))
    download(synthetic_settings(), tmp_path / "a")
    download(synthetic_settings(), tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    download(synthetic_settings(seed=6), tmp_path / "c")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_local_source_is_validated_and_copied(raw: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    files = download(local_settings(raw), dest)
    assert len(files) == 24 and (dest / "test" / "corn" / "Image_1.jpg").exists()
    assert (raw / "test" / "corn" / "Image_1.jpg").exists()  # copied, not moved


def test_local_source_in_one_folder_of_class_folders(raw: Path, tmp_path: Path) -> None:
    """No split folders: every class folder at the top, as many collections come (the
    split stage makes the splits); a class may hold a single picture."""
    flat = tmp_path / "flat"
    for src in sorted((raw / "train").iterdir()):
        shutil.copytree(src, flat / src.name)
    (flat / "star fruit").mkdir()
    shutil.copy(raw / "test" / "apple" / "Image_1.jpg", flat / "star fruit" / "one.jpg")
    files = download(local_settings(flat), tmp_path / "dest")
    assert {f.split for f in files} == {""} and len(files) == 4 * 2 + 1
    assert (tmp_path / "dest" / "star fruit" / "one.jpg").exists()
    assert {f.key for f in files} >= {"star fruit/one.jpg", "corn/Image_2.jpg"}


def test_bad_local_source_leaves_nothing(raw: Path, tmp_path: Path) -> None:
    for f in (raw / "test" / "corn").iterdir():
        f.unlink()
    dest = tmp_path / "dest"
    with pytest.raises(LayoutError, match=f"{raw}/test/corn: empty class folder"):
        download(local_settings(raw), dest)
    assert not dest.exists() and list(tmp_path.iterdir()) == [raw.parent / "raw"]
