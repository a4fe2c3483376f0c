"""The audit lists every planted fault and every planted duplicate."""

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from fruitveg.audit.duplicates import audit, leaked_files, near_pairs, write_rows
from fruitveg.data.rawdata import scan

from .factory import picture


def plant(raw: Path) -> dict[str, str]:
    """Bad files and duplicates; returns the expected unreadable reasons by key."""
    (raw / "train" / "apple" / "empty.jpg").write_bytes(b"")
    (raw / "train" / "banana" / "readme.jpg").write_text("a text file")
    good = raw / "validation" / "corn" / "Image_1.jpg"
    (raw / "validation" / "corn" / "cut.jpg").write_bytes(good.read_bytes()[:300])
    # exact copy of a test image in train, same class
    shutil.copy(raw / "test" / "apple" / "Image_1.jpg", raw / "train" / "apple" / "copy.jpg")
    # the same test picture re-encoded smaller under validation
    with Image.open(raw / "test" / "banana" / "Image_2.jpg") as im:
        im.resize((80, 80)).save(raw / "validation" / "banana" / "again.jpg", quality=70)
    # one picture filed under two classes (train corn, train sweetcorn): no test involved
    pic = picture("corn", 999, 96)
    pic.save(raw / "train" / "corn" / "twin.jpg", quality=90)
    pic.save(raw / "train" / "sweetcorn" / "twin.png")
    return {
        "train/apple/empty.jpg": "empty file",
        "train/banana/readme.jpg": "not an image",
        "validation/corn/cut.jpg": "truncated or corrupt",
    }


def test_audit_finds_all_planted(raw: Path, tmp_path: Path) -> None:
    expected_bad = plant(raw)
    report, rows = audit(scan(raw), max_distance=4)
    found_bad = {u["file"]: u["reason"] for u in report["unreadable"]}
    assert set(found_bad) == set(expected_bad)
    for key, reason in expected_bad.items():
        assert found_bad[key].startswith(reason)
    assert report["duplicate_groups"] == 3
    assert report["exact_duplicate_groups"] == 1
    assert report["leaked_test"] == ["test/apple/Image_1.jpg", "test/banana/Image_2.jpg"]
    assert report["dedupe_removes"] == {"train": 1, "validation": 1}
    assert report["cross_class_groups"] == [["train/corn/twin.jpg", "train/sweetcorn/twin.png"]]
    assert report["counts"]["train"]["apple"] == 4  # two originals, empty.jpg, copy.jpg
    csv_path = tmp_path / "dups.csv"
    write_rows(csv_path, rows)
    assert leaked_files(csv_path) == {"train/apple/copy.jpg", "validation/banana/again.jpg"}


def test_clean_dataset_has_no_duplicates(raw: Path) -> None:
    report, rows = audit(scan(raw), max_distance=4)
    assert report["duplicate_groups"] == 0 and rows == []
    assert report["unreadable"] == []


def test_near_pairs_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, size=300, dtype=np.uint64)
    hashes[10] = hashes[200] ^ np.uint64(0b1011)  # 3 bits apart
    hashes[50] = hashes[51]
    got = set(near_pairs(hashes, 3, block=64))
    want = {
        (i, j)
        for i in range(300)
        for j in range(i + 1, 300)
        if bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= 3
    }
    assert got == want and {(10, 200), (50, 51)} <= got
