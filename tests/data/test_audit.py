"""The audit lists every planted fault and every planted duplicate, and nothing else."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fruitveg.audit.duplicates import LEAK, TRAIN_COPY, audit, read_groups, write_rows
from fruitveg.audit.hashing import WORDS, distances, near_pairs, orientation_hashes
from fruitveg.data.rawdata import scan
from fruitveg.download import synthetic
from fruitveg.download.synthetic import LEAK_KINDS, generate

from .factory import picture

DISTANCE = 44  # params.yaml's audit.near_duplicate_distance


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
    # a training picture, mirrored, in validation
    with Image.open(raw / "train" / "banana" / "Image_1.jpg") as im:
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(raw / "validation" / "banana" / "m.jpg")
    # a test picture twice in test, once turned, and filed under another class in train
    with Image.open(raw / "test" / "corn" / "Image_2.jpg") as im:
        im.transpose(Image.Transpose.ROTATE_90).save(raw / "test" / "corn" / "turned.jpg")
        im.save(raw / "train" / "sweetcorn" / "corn.jpg", quality=80)
    return {
        "train/apple/empty.jpg": "empty file",
        "train/banana/readme.jpg": "not an image",
        "validation/corn/cut.jpg": "truncated or corrupt",
    }


def test_audit_finds_all_planted(raw: Path, tmp_path: Path) -> None:
    expected_bad = plant(raw)
    report, rows = audit(scan(raw), max_distance=DISTANCE)
    found_bad = {u["file"]: u["reason"] for u in report["unreadable"]}
    assert set(found_bad) == set(expected_bad)
    for key, reason in expected_bad.items():
        assert found_bad[key].startswith(reason)
    assert report["duplicate_groups"] == 5
    assert report["exact_duplicate_groups"] == 1
    assert report["leaked_test"] == [
        "test/apple/Image_1.jpg",
        "test/banana/Image_2.jpg",
        "test/corn/Image_2.jpg",
        "test/corn/turned.jpg",
    ]
    assert report["dedupe_removes"] == {"train": 2, "validation": 2}
    assert report["validation_copies_of_train"] == 1
    assert report["test_duplicates"] == [["test/corn/Image_2.jpg", "test/corn/turned.jpg"]]
    assert report["test_label_conflict_images"] == ["test/corn/Image_2.jpg", "test/corn/turned.jpg"]
    assert (report["test_duplicate_groups"], report["test_label_conflicts"]) == (1, 2)
    assert report["cross_class_groups"] == [
        ["train/corn/twin.jpg", "train/sweetcorn/twin.png"],
        ["train/sweetcorn/corn.jpg", "test/corn/Image_2.jpg", "test/corn/turned.jpg"],
    ]
    assert report["counts"]["train"]["apple"] == 4  # two originals, empty.jpg, copy.jpg
    csv_path = tmp_path / "dups.csv"
    write_rows(csv_path, rows)
    assert {r["file"]: r["removed"] for r in rows if r["removed"]} == {
        "train/apple/copy.jpg": LEAK,
        "validation/banana/again.jpg": LEAK,
        "train/sweetcorn/corn.jpg": LEAK,
        "validation/banana/m.jpg": TRAIN_COPY,
    }
    groups = read_groups(csv_path)  # what the split stage reads back
    assert groups == {r["file"]: r["group"] for r in rows}
    assert groups["train/corn/twin.jpg"] == groups["train/sweetcorn/twin.png"]


def test_clean_dataset_has_no_duplicates(raw: Path) -> None:
    report, rows = audit(scan(raw), max_distance=DISTANCE)
    assert report["duplicate_groups"] == 0 and rows == []
    assert report["unreadable"] == []


# The confusable groups and a few look-alikes (round, red, green): the hardest to tell apart.
SIMILAR = (
    "apple", "tomato", "pomegranate", "bell pepper", "capsicum", "paprika", "chilli pepper",
    "jalepeno", "corn", "sweetcorn", "potato", "sweetpotato", "onion", "garlic", "cabbage",
)  # fmt: skip


@pytest.mark.parametrize("seed,leaks", [(1, 6), (2, 9), (3, 14)])
def test_audit_finds_exactly_the_planted_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, leaks: int
) -> None:
    """Every kind of copy the generator plants is found, and no group of distinct pictures."""
    monkeypatch.setattr(synthetic, "KAGGLE_CLASSES", SIMILAR)  # 15 classes keep it quick
    planted = generate(tmp_path, {"train": 2, "validation": 1, "test": 2}, seed, leaks)
    assert {leak.kind for leak in planted} == set(LEAK_KINDS)
    files = scan(tmp_path)
    key = {f.path: f.key for f in files}
    want: dict[str, set[str]] = {}
    for leak in planted:  # two leaks may copy the same test picture: one group of three
        want.setdefault(key[leak.original], {key[leak.original]}).add(key[leak.copy])
    report, rows = audit(files, max_distance=DISTANCE)
    got: dict[int, set[str]] = {}
    for r in rows:
        got.setdefault(r["group"], set()).add(r["file"])
    assert sorted(map(sorted, got.values())) == sorted(map(sorted, want.values()))
    assert report["leaked_test"] == sorted(want)


def test_hash_follows_the_picture_through_turns_and_flips() -> None:
    im = picture("banana", 5)
    hashes = orientation_hashes(im)
    assert hashes.shape == (8, WORDS) and hashes.dtype == np.uint64
    assert len({h.tobytes() for h in hashes}) == 8  # an asymmetric picture: eight hashes
    for turn in Image.Transpose:
        turned = orientation_hashes(im.transpose(turn))[:1]
        assert distances(turned, hashes[None])[0, 0] <= 4, turn  # 0 but for rounding


def test_near_pairs_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, size=(120, 8, 2), dtype=np.uint64)
    hashes[10, 0] = hashes[100, 5]
    hashes[10, 0, 1] ^= np.uint64(0b1011)  # 3 bits from an orientation of 100
    hashes[51, 3] = hashes[50, 0]  # 50 as decoded is 51 turned: found from either side

    def bits(a: np.ndarray, b: np.ndarray) -> int:
        return sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(a, b, strict=True))

    want = {
        (i, j)
        for i in range(120)
        for j in range(i + 1, 120)
        if min(
            min(bits(hashes[i, 0], h) for h in hashes[j]),
            min(bits(hashes[j, 0], h) for h in hashes[i]),
        )
        <= 3
    }
    got = set(near_pairs(hashes, 3, block=32))
    assert got == want and {(10, 100), (50, 51)} <= got
