"""The audit lists every planted fault and every planted duplicate, and nothing else."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fruitveg.audit.duplicates import LEAK, TRAIN_COPY, audit, read_groups, write_rows
from fruitveg.audit.hashing import WORDS, orientation_hashes
from fruitveg.audit.search import hash_pairs
from fruitveg.audit.settings import audit_settings
from fruitveg.core import params
from fruitveg.data.classes import KAGGLE_CLASSES
from fruitveg.data.rawdata import scan
from fruitveg.download import copies, synthetic
from fruitveg.download.synthetic import generate, product_shot

from .factory import picture

SETTINGS = audit_settings(params.load(Path(__file__).parents[2] / "params.yaml"))  # the repo's


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
    report, rows = audit(scan(raw), SETTINGS)
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
    assert report["cross_class_groups"] == [  # groups and their members in order of key
        ["test/corn/Image_2.jpg", "test/corn/turned.jpg", "train/sweetcorn/corn.jpg"],
        ["train/corn/twin.jpg", "train/sweetcorn/twin.png"],
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
    report, rows = audit(scan(raw), SETTINGS)
    assert report["duplicate_groups"] == 0 and rows == []
    assert report["unreadable"] == []


# The confusable groups and a few look-alikes (round, red, green): the hardest to tell apart.
SIMILAR = (
    "apple", "tomato", "pomegranate", "bell pepper", "capsicum", "paprika", "chilli pepper",
    "jalepeno", "corn", "sweetcorn", "potato", "sweetpotato", "onion", "garlic", "cabbage",
)  # fmt: skip


# Copies the audit is known to miss at the generator's strongest settings (the bench's
# recall table has the rates): a crop of a plain picture with 7 inliers, the strongest
# recolouring and the strongest watermark on plain pictures. No more than this per seed.
KNOWN_MISSES = 2


@pytest.mark.parametrize("seed,leaks", [(1, 13), (2, 20), (3, 26)])
def test_the_planted_copies_are_found_and_no_other_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, leaks: int
) -> None:
    """Every kind of copy the generator plants: no group joins pictures that are not copies,
    and all but a few of the planted copies are found."""
    monkeypatch.setattr(synthetic, "KAGGLE_CLASSES", SIMILAR)  # 15 classes keep it quick
    planted = generate(tmp_path, {"train": 2, "validation": 1, "test": 2}, seed, leaks)
    assert {leak.kind for leak in planted} == set(copies.KINDS)
    files = scan(tmp_path)
    key = {f.path: f.key for f in files}
    want: dict[str, set[str]] = {}
    for leak in planted:  # two leaks may copy the same test picture: one group of three
        want.setdefault(key[leak.original], {key[leak.original]}).add(key[leak.copy])
    report, rows = audit(files, SETTINGS)
    got: dict[int, set[str]] = {}
    for r in rows:
        got.setdefault(r["group"], set()).add(r["file"])
    assert all(any(g <= w for w in want.values()) for g in got.values()), "a false group"
    group_of = {r["file"]: r["group"] for r in rows}
    missed = [
        (leak.kind, leak.strength)
        for leak in planted
        if group_of.get(key[leak.copy]) is None
        or group_of.get(key[leak.copy]) != group_of.get(key[leak.original])
    ]
    assert len(missed) <= KNOWN_MISSES, missed
    assert sum(report["copies_by_evidence"].values()) == len(rows) - len(got)


def bits(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.bitwise_count(a ^ b).sum())


def test_hash_follows_the_picture_through_turns_and_flips() -> None:
    im = picture("banana", 5)
    hashes = orientation_hashes(im)
    assert hashes.shape == (8, WORDS) and hashes.dtype == np.uint64
    assert len({h.tobytes() for h in hashes}) == 8  # an asymmetric picture: eight hashes
    for turn in Image.Transpose:
        turned = orientation_hashes(im.transpose(turn))[0]
        assert min(bits(turned, h) for h in hashes) <= 4, turn  # 0 but for rounding


@pytest.mark.parametrize("brute", [False, True])
def test_hash_pairs_are_those_within_the_distance_at_some_orientation(brute: bool) -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, size=(300, 8, 5), dtype=np.uint64)
    hashes[10, 0] = hashes[100, 5]
    hashes[10, 0, 1] ^= np.uint64(0b1011)  # 3 bits from an orientation of 100
    hashes[51, 3] = hashes[50, 0]  # 50 as decoded is 51 turned: found from either side
    want = {
        (i, j): min(bits(hashes[i, 0], h) for h in hashes[j])
        for i in range(300)
        for j in range(i + 1, 300)
        if min(bits(hashes[i, 0], h) for h in hashes[j]) <= 3
        or min(bits(hashes[j, 0], h) for h in hashes[i]) <= 3
    }
    assert {(10, 100), (50, 51)} <= set(want)
    assert set(hash_pairs(hashes, 3, brute=brute)) == set(want)


# Real photographs shipped with scikit-image (no download), cut into non-overlapping
# quarters where large: different pictures of one scene, the closest real negatives here.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
          "hubble_deep_field", "retina", "camera", "brick", "grass", "coins", "clock")  # fmt: skip


@pytest.fixture(scope="module")
def photo_pictures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    data = pytest.importorskip("skimage.data")
    folder = tmp_path_factory.mktemp("photos")
    out = []
    for name in PHOTOS:
        im = Image.fromarray(getattr(data, name)()).convert("RGB")
        w, h = im.size
        parts = (
            [im.crop((i * w // 2, j * h // 2, (i + 1) * w // 2, (j + 1) * h // 2))
             for i in range(2) for j in range(2)]
            if min(w, h) >= 400 else [im]
        )  # fmt: skip
        for k, part in enumerate(parts):
            path = folder / f"{name}_{k}.jpg"
            part.save(path, quality=92)
            out.append(path)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_kind_of_copy_of_real_photos_is_found_and_nothing_else(
    photo_pictures: list[Path], tmp_path: Path, seed: int
) -> None:
    """A copy of each kind (at a drawn strength) of 13 of the photos lands in test/, the
    photos in train/: the audit groups each copy with its photo, and no two photos."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(photo_pictures), len(copies.KINDS), replace=False)
    (tmp_path / "train" / "photo").mkdir(parents=True)
    for path in photo_pictures:
        (tmp_path / "train" / "photo" / path.name).write_bytes(path.read_bytes())
    want = []
    for kind, k in zip(copies.KINDS, chosen, strict=True):
        original = tmp_path / "train" / "photo" / photo_pictures[k].name
        copy = tmp_path / "test" / "photo" / f"{kind}_{original.name}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        copies.plant(original, copy, kind, np.random.default_rng([seed, k]))
        want.append({f"train/photo/{original.name}", f"test/photo/{copy.name}"})
    report, rows = audit(scan(tmp_path), SETTINGS)
    got: dict[int, set[str]] = {}
    for r in rows:
        got.setdefault(r["group"], set()).add(r["file"])
    assert sorted(map(sorted, got.values())) == sorted(map(sorted, want))


def test_product_shots_of_similar_objects_on_white_are_not_copies(tmp_path: Path) -> None:
    """The hardest negatives of real fruit data: different shots of look-alike objects on
    white. Nothing may be grouped."""
    for k, cls in enumerate(("apple", "tomato", "orange", "bell pepper", "capsicum", "lemon")):
        folder = tmp_path / "train" / cls
        folder.mkdir(parents=True)
        for i in range(6):
            product_shot(cls, np.random.default_rng([5, k, i])).save(folder / f"{i}.jpg")
    report, rows = audit(scan(tmp_path), SETTINGS)
    assert rows == [], [(r["file"], r["how"], r["evidence"]) for r in rows]


# Different product shots (bench/audit_copies.py's, seed 7) whose smooth outlines line up
# once aligned, with 90-100 % of their detail agreeing: joined but for audit.match_residual.
LOOK_ALIKES = (("chilli pepper", 6), ("jalepeno", 2), ("chilli pepper", 15), ("cucumber", 10),
               ("cucumber", 6), ("jalepeno", 19), ("cucumber", 7), ("cucumber", 17))  # fmt: skip


def test_smooth_look_alikes_on_white_are_not_copies(tmp_path: Path) -> None:
    for cls, i in LOOK_ALIKES:
        folder = tmp_path / "train" / cls
        folder.mkdir(parents=True, exist_ok=True)
        shot = product_shot(cls, np.random.default_rng([7, KAGGLE_CLASSES.index(cls), i]))
        shot.save(folder / f"{i}.jpg", quality=92)
    _, rows = audit(scan(tmp_path), SETTINGS)
    assert rows == [], [(r["file"], r["how"], r["evidence"]) for r in rows]


def test_each_copy_says_how_it_was_matched(photo_pictures: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "train" / "photo"
    folder.mkdir(parents=True)
    original = folder / "a.jpg"
    original.write_bytes(photo_pictures[0].read_bytes())
    (folder / "exact.jpg").write_bytes(original.read_bytes())
    copies.plant(original, folder / "hashed.jpg", "reencoded", np.random.default_rng(1))
    copies.plant(original, folder / "cropped.jpg", "crop", np.random.default_rng(1), 0.3)
    _, rows = audit(scan(tmp_path), SETTINGS)
    by = {r["file"].split("/")[-1]: r for r in rows}
    assert len({r["group"] for r in rows}) == 1
    assert {name: r["how"] for name, r in by.items()} == {
        "a.jpg": "", "exact.jpg": "exact", "hashed.jpg": "hash", "cropped.jpg": "match"
    }  # fmt: skip
    assert by["a.jpg"]["matched_to"] == "" and by["exact.jpg"]["evidence"] == "identical bytes"
    assert by["hashed.jpg"]["evidence"].startswith("hash ")
    assert "inliers" in by["cropped.jpg"]["evidence"]
    assert all(by[r["matched_to"].split("/")[-1]] for r in rows if r["matched_to"])
