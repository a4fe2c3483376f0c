"""The download stage's synthetic and local sources."""

import hashlib
import shutil
from pathlib import Path

import pytest
from PIL import Image

from fruitveg.core.params import ParamError
from fruitveg.data.classes import KAGGLE_CLASSES
from fruitveg.data.rawdata import LayoutError
from fruitveg.download.sources import download


def params(**data) -> dict:
    base = {
        "source": "synthetic",
        "local_path": "",
        "kaggle_dataset": "x/y",
        "synthetic": {"train": 2, "validation": 1, "test": 1, "leaks": 2},
    }
    return {"seed": 5, "data": base | data}


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_synthetic_has_real_layout_and_is_deterministic(tmp_path: Path) -> None:
    files = download(params(), tmp_path / "a")
    assert sorted({f.cls for f in files}) == sorted(KAGGLE_CLASSES)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["test", "train", "validation"]
    assert len(files) == 36 * 4 + 2
    assert all(f.path.exists() and f.path.is_relative_to(tmp_path / "a") for f in files)
    sizes = set()
    for f in files[:40]:
        with Image.open(f.path) as im:
            assert im.format == "JPEG"
            sizes.add(im.size)
    assert len(sizes) > 20  # varied sizes and aspect ratios
    download(params(), tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    other = params()
    other["seed"] = 6
    download(other, tmp_path / "c")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_local_source_is_validated_and_copied(raw: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    files = download(params(source="local", local_path=str(raw)), dest)
    assert len(files) == 24 and (dest / "test" / "corn" / "Image_1.jpg").exists()
    assert (raw / "test" / "corn" / "Image_1.jpg").exists()  # copied, not moved


def test_bad_local_source_leaves_nothing(raw: Path, tmp_path: Path) -> None:
    shutil.rmtree(raw / "test")
    dest = tmp_path / "dest"
    with pytest.raises(LayoutError, match=f"{raw}/test: missing split folder"):
        download(params(source="local", local_path=str(raw)), dest)
    assert not dest.exists() and list(tmp_path.iterdir()) == [raw.parent / "raw"]


def test_bad_settings() -> None:
    with pytest.raises(ParamError, match="'data.source' must be one of synthetic, kaggle, local"):
        download(params(source="s3"), Path("unused"))
    with pytest.raises(ParamError, match="'data.local_path' must name a folder"):
        download(params(source="local"), Path("unused"))
    bad = params()
    bad["data"]["synthetic"]["test"] = 0
    with pytest.raises(ParamError, match="'data.synthetic.test' must be a whole number >= 1"):
        download(bad, Path("unused"))
