"""Auditing the raw dataset: unreadable files, exact and near duplicates, leaks.

Every file is decoded by content; a SHA-256 of its bytes finds exact copies and a
perceptual hash in all eight orientations (hashing.py) finds the same picture
re-encoded, rescaled, slightly cropped, turned (in its pixels or by an EXIF tag) or
mirrored. Files within the Hamming distance of each other are joined into groups
(transitively). What a group means for the study:

- a test image with copies in train or validation is a leak: counting it would flatter
  every model, so dedupe drops those copies;
- a validation image with a copy in train inflates validation accuracy, which picks the
  epoch we keep, so dedupe drops it too;
- two test images of one group are not independent, as the interval and the paired test
  assume, and a test image whose copy is filed under another class has a disputed label:
  both are counted for the report.
"""

import csv
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fruitveg.audit.hashing import HASH_SIDE, near_pairs, orientation_hashes
from fruitveg.core.atomic import atomic_file
from fruitveg.core.errors import PipelineError
from fruitveg.data.images import ImageError, decode
from fruitveg.data.parallel import pmap
from fruitveg.data.rawdata import RawFile

CSV_FIELDS = ("group", "kind", "split", "class", "file", "leaks_test", "cross_class", "removed")
LEAK, TRAIN_COPY = "copy of a test image", "copy of a training image"  # the `removed` column


@dataclass(frozen=True)
class Inspected:
    file: RawFile
    sha256: str
    hashes: np.ndarray | None  # (8,) uint64, one per orientation; None: unreadable
    error: str | None


def inspect(f: RawFile) -> Inspected:
    sha = hashlib.sha256(f.path.read_bytes()).hexdigest()
    try:
        im = decode(f.path, min_side=HASH_SIDE)
    except ImageError as exc:
        return Inspected(f, sha, None, str(exc))
    return Inspected(f, sha, orientation_hashes(im), None)


def groups(items: list[Inspected], max_distance: int) -> list[list[Inspected]]:
    """Duplicate groups (two or more files), exact or near, found transitively."""
    readable = [x for x in items if x.hashes is not None]
    parent = list(range(len(readable)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of_sha: dict[str, int] = {}
    for i, x in enumerate(readable):
        parent[root(i)] = root(first_of_sha.setdefault(x.sha256, i))
    if readable:
        hashes = np.stack([x.hashes for x in readable])  # type: ignore[misc]
        for i, j in near_pairs(hashes, max_distance):
            parent[root(i)] = root(j)
    members: dict[int, list[Inspected]] = defaultdict(list)
    for i, x in enumerate(readable):
        members[root(i)].append(x)
    found = [g for g in members.values() if len(g) > 1]
    return sorted(found, key=lambda g: g[0].file.key)


def removal(split: str, splits: set[str]) -> str:
    """Why dedupe leaves a file of `split` out of the layouts, given the splits its group
    is in; '' to keep it. (The split stage asks again with the splits it assigned.)"""
    if split != "test" and "test" in splits:
        return LEAK
    if split == "validation" and "train" in splits:
        return TRAIN_COPY
    return ""


def audit(files: list[RawFile], max_distance: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report (JSON-ready) and the duplicate rows (one per file in a group)."""
    items = pmap(inspect, files)
    rows: list[dict[str, Any]] = []
    leaked_test: list[str] = []
    removed: Counter[str] = Counter()  # by split
    train_copies = 0
    cross_class: list[list[str]] = []
    within_test: list[list[str]] = []
    label_conflicts: list[str] = []
    exact_groups = 0
    dup_groups = groups(items, max_distance)
    for n, g in enumerate(dup_groups, start=1):
        splits = {x.file.split for x in g}
        leaks = "test" in splits and len(splits) > 1
        crosses = len({x.file.cls for x in g}) > 1
        kind = "exact" if len({x.sha256 for x in g}) == 1 else "near"
        exact_groups += kind == "exact"
        tests = [x.file.key for x in g if x.file.split == "test"]
        if crosses:
            cross_class.append([x.file.key for x in g])
            label_conflicts += tests
        if len(tests) > 1:
            within_test.append(tests)
        if leaks:
            leaked_test += tests
        for x in g:
            why = removal(x.file.split, splits)
            train_copies += why == TRAIN_COPY
            if why:
                removed[x.file.split] += 1
            rows.append(
                {
                    "group": n,
                    "kind": kind,
                    "split": x.file.split,
                    "class": x.file.cls,
                    "file": x.file.key,
                    "leaks_test": leaks,
                    "cross_class": crosses,
                    "removed": why,
                }
            )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for (split, cls), n in sorted(Counter((x.file.split, x.file.cls) for x in items).items()):
        counts[split or "unsplit"][cls] = n  # a dataset without split folders
    unreadable = [{"file": x.file.key, "reason": x.error} for x in items if x.error]
    report = {
        "files": len(items),
        "unreadable_files": len(unreadable),
        "duplicate_groups": len(dup_groups),
        "exact_duplicate_groups": exact_groups,
        "files_in_duplicate_groups": len(rows),
        "leaked_test_images": len(leaked_test),
        "dedupe_removes": {s: removed[s] for s in ("train", "validation")},
        "validation_copies_of_train": train_copies,
        "test_duplicate_groups": len(within_test),
        "test_label_conflicts": len(label_conflicts),
        "near_duplicate_distance": max_distance,
        "counts": dict(counts),
        "unreadable": unreadable,
        "leaked_test": sorted(leaked_test),
        "test_duplicates": within_test,
        "test_label_conflict_images": sorted(label_conflicts),
        "cross_class_groups": cross_class,
    }
    return report, rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_file(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def read_groups(path: Path) -> dict[str, int]:
    """Each file of a duplicate group, by key, with its group's number, from the audit CSV;
    files in no group are not listed."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run the audit stage first (dvc repro)") from None
    try:
        return {r["file"]: int(r["group"]) for r in rows}
    except (KeyError, TypeError, ValueError):
        columns = ", ".join(CSV_FIELDS)
        raise PipelineError(f"{path}: expected the audit's columns {columns}") from None
