"""A dataset given as one folder of class folders, with planted exact and near copies, is
split by the pipeline with every copy of a picture in the same split; classes too small
for the fractions are an error that gives the counts."""

import csv
import hashlib
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from fruitveg.audit.duplicates import audit, write_rows
from fruitveg.audit.settings import audit_settings
from fruitveg.core import params
from fruitveg.core.paths import SPLITS
from fruitveg.data.rawdata import RawFile, scan
from fruitveg.layout.run import run_layout
from fruitveg.layout.settings import LayoutSettings
from fruitveg.split import assign
from fruitveg.split.run import run_split
from fruitveg.split.settings import SplitSettings

from ..data.factory import picture

SETTINGS = audit_settings(params.load(Path(__file__).parents[2] / "params.yaml"))  # the repo's
FRACTIONS = (0.6, 0.2, 0.2)
# Non-Kaggle names, drawn with the looks of Kaggle classes.
CLASSES = {"durian": "mango", "star fruit": "lemon", "rambutan": "pomegranate"}
COPIES = {  # how each planted copy differs from its original
    "exact": lambda im: im,
    "resized": lambda im: im.resize((im.width * 3 // 4, im.height * 3 // 4)),
    "turned": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "mirrored": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[set[str]]]:
    """root/<class>/<file>: 10 pictures per class, and in each class four families of a
    picture and its copies (exact, resized, turned, mirrored; one family has all four).
    Returns the root and the families (sets of keys), known by construction."""
    root = tmp_path_factory.mktemp("flat") / "data"
    families: list[set[str]] = []
    key = 0
    for cls, look in CLASSES.items():
        (root / cls).mkdir(parents=True)
        for i in range(10):
            key += 1
            picture(look, key, 96).save(root / cls / f"p{i}.jpg", quality=90)
        for i, kinds in enumerate([list(COPIES), ["exact"], ["resized"], ["turned", "mirrored"]]):
            family = {f"{cls}/p{i}.jpg"}
            for kind in kinds:
                original = root / cls / f"p{i}.jpg"
                if kind == "exact":
                    shutil.copy(original, root / cls / f"p{i}_exact.jpg")
                else:
                    with Image.open(original) as im:
                        COPIES[kind](im).save(root / cls / f"p{i}_{kind}.jpg", quality=85)
                family.add(f"{cls}/p{i}_{kind}.jpg")
            families.append(family)
    return root, families


def test_resplit_keeps_every_copy_in_one_split(
    flat: tuple[Path, list[set[str]]], tmp_path: Path
) -> None:
    root, families = flat
    files = scan(root)
    report, rows = audit(files, SETTINGS)
    dups = tmp_path / "duplicates.csv"
    write_rows(dups, rows)
    settings = SplitSettings("resplit", seed=3, fractions=FRACTIONS)
    assignment, summary_path = tmp_path / "assignment.csv", tmp_path / "split.json"
    summary = run_split(settings, root, dups, assignment, summary_path)

    with open(assignment, newline="", encoding="utf-8") as fh:
        split_of = {r["file"]: r["split"] for r in csv.DictReader(fh)}
    assert set(split_of) == {f.key for f in files}
    # Independently of the code under test: the planted families, and files of equal bytes.
    by_bytes: dict[str, set[str]] = defaultdict(set)
    for f in files:
        by_bytes[sha(f.path)].add(f.key)
    exact = [keys for keys in by_bytes.values() if len(keys) > 1]
    assert len(exact) == 2 * len(CLASSES)  # the two exact copies per class
    for family in [*families, *exact]:
        assert len({split_of[k] for k in family}) == 1, family
    assert summary["groups_across_splits"] == 0 and summary["dedupe_leaves_out"] == 0
    assert summary["duplicate_groups"] == report["duplicate_groups"] == 4 * len(CLASSES)
    # Stratified: every class in every split, near the fractions (18 images per class).
    for cls in CLASSES:
        n = [sum(split_of[f.key] == s for f in files if f.cls == cls) for s in SPLITS]
        assert sum(n) == 18 and min(n) >= 2 and n[0] >= 8, (cls, n)

    # The layout follows the assignment: each family's pictures in one split folder.
    out = tmp_path / "layout"
    layout = LayoutSettings("multiclass", 16, dedupe=True, fruit=(), vegetable=())
    run_layout(layout, root, assignment, out, tmp_path / "layout.json")
    where = {p.name: p.parent.parent.name for p in out.rglob("*.jpg")}
    assert len(where) == len(files)
    for family in families:
        names = {f"{k.split('/')[0]}__{Path(k).stem}.jpg" for k in family}
        assert len({where[n] for n in names}) == 1, family


def test_resplit_is_seeded(flat: tuple[Path, list[set[str]]]) -> None:
    root, _ = flat
    files = scan(root)  # no groups given: every file alone
    first = [a.split for a in assign.resplit(files, {}, FRACTIONS, seed=1)]
    assert first == [a.split for a in assign.resplit(files, {}, FRACTIONS, seed=1)]
    assert first != [a.split for a in assign.resplit(files, {}, FRACTIONS, seed=2)]


def fake(counts: dict[str, int]) -> list[RawFile]:
    return [RawFile("", c, Path(c, f"{i}.jpg")) for c, n in counts.items() for i in range(n)]


def test_fractions_are_met_with_single_images() -> None:
    files = fake({"durian": 40, "star fruit": 10})
    got = Counter((a.file.cls, a.split) for a in assign.resplit(files, {}, (0.8, 0.1, 0.1), 0))
    assert [got["durian", s] for s in SPLITS] == [32, 4, 4]
    assert [got["star fruit", s] for s in SPLITS] == [8, 1, 1]


def test_too_small_classes_give_the_counts() -> None:
    files = fake({"durian": 40, "star fruit": 1, "kiwano": 9, "salak": 12})
    groups = {f"salak/{i}.jpg": i % 2 for i in range(12)}  # 12 images, only 2 pictures
    with pytest.raises(assign.SplitError) as err:
        assign.resplit(files, groups, (0.8, 0.1, 0.1), seed=0)
    message = str(err.value)
    assert "(train 0.8, validation 0.1, test 0.1) in 3 class(es)" in message
    assert "'kiwano': 9 images in 9 groups; 'salak': 12 images in 2 groups; " in message
    assert "'star fruit': 1 image in 1 group." in message
    assert "at least 10 images, in at least 3 groups" in message and "durian" not in message


def test_a_large_group_still_leaves_every_split_one() -> None:
    files = fake({"durian": 11})
    groups = {f"durian/{i}.jpg": 0 for i in range(5)} | {f"durian/{i}.jpg": 1 for i in (5, 6)}
    groups |= {f"durian/{i}.jpg": 1 for i in (7, 8)}  # sizes 5, 4, 1, 1
    placed = assign.resplit(files, groups, (0.8, 0.1, 0.1), seed=0)
    assert {a.split for a in placed} == set(SPLITS)
    assert len({a.split for a in placed if a.group == 0}) == 1


def test_a_split_dataset_with_gaps_and_single_images_is_pooled() -> None:
    """As real collections come: classes missing from a split, no check of the given split."""
    files = [RawFile("train", "durian", Path(f"train/durian/{i}.jpg")) for i in range(8)]
    files += [RawFile("test", "durian", Path("test/durian/t.jpg")),
              RawFile("validation", "durian", Path("validation/durian/v.jpg"))]  # fmt: skip
    got = Counter(a.split for a in assign.resplit(files, {}, (0.8, 0.1, 0.1), seed=0))
    assert [got[s] for s in SPLITS] == [8, 1, 1]
