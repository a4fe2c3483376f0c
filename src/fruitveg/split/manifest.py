"""The split assignment file (data/split/assignment.csv): one row per raw file, written by
the split stage, read by the layout stages."""

import csv
from dataclasses import dataclass
from pathlib import Path

from fruitveg.core.atomic import atomic_file
from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import SPLITS
from fruitveg.split.assign import Assigned

FIELDS = ("file", "class", "given", "split", "group", "removed")


@dataclass(frozen=True)
class Placement:
    split: str  # one of SPLITS
    removed: str  # dedupe's reason to leave the file out; '' to keep it


def write(path: Path, assigned: list[Assigned]) -> None:
    with atomic_file(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        for a in assigned:
            group = "" if a.group is None else a.group
            writer.writerow([a.file.key, a.file.cls, a.file.split, a.split, group, a.removed])


def read(path: Path) -> dict[str, Placement]:
    """Each raw file's placement, by its key ('train/apple/Image_1.jpg')."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run the split stage first (dvc repro)") from None
    try:
        placed = {r["file"]: Placement(r["split"], r["removed"]) for r in rows}
    except KeyError:
        raise PipelineError(f"{path}: expected the columns {', '.join(FIELDS)}") from None
    bad = sorted({p.split for p in placed.values()} - set(SPLITS))
    if bad:
        raise PipelineError(f"{path}: unknown split(s) {', '.join(map(repr, bad))}")
    return placed
