"""Auditing the raw dataset: unreadable files, exact and near duplicates, leaks.

Every file is decoded by content; a SHA-256 of its bytes finds exact copies and a
64-bit perceptual hash (imagehash's pHash) finds the same picture re-encoded or
rescaled. Files whose hashes lie within a Hamming distance of each other are joined
into groups (transitively). A group holding a test image and a train or validation
image is a leak: counting that test image would flatter every model.
"""

import csv
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imagehash
import numpy as np

from fruitveg.core.atomic import atomic_file
from fruitveg.data.images import ImageError, decode
from fruitveg.data.parallel import pmap
from fruitveg.data.rawdata import RawFile

HASH_SIDE = 64  # decode at least this large for hashing: plenty for pHash's 32x32 DCT
CSV_FIELDS = ("group", "kind", "split", "class", "file", "leaks_test", "cross_class")


@dataclass(frozen=True)
class Inspected:
    file: RawFile
    sha256: str
    phash: int | None  # None: unreadable
    error: str | None


def inspect(f: RawFile) -> Inspected:
    sha = hashlib.sha256(f.path.read_bytes()).hexdigest()
    try:
        im = decode(f.path, min_side=HASH_SIDE)
    except ImageError as exc:
        return Inspected(f, sha, None, str(exc))
    return Inspected(f, sha, int(str(imagehash.phash(im)), 16), None)


def near_pairs(hashes: np.ndarray, max_distance: int, block: int = 1024) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose 64-bit hashes differ in at most `max_distance` bits."""
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(hashes), block):
        d = np.bitwise_count(hashes[start : start + block, None] ^ hashes[None, :])
        for i, j in zip(*np.nonzero(d <= max_distance), strict=True):
            if start + i < j:
                pairs.append((start + int(i), int(j)))
    return pairs


def groups(items: list[Inspected], max_distance: int) -> list[list[Inspected]]:
    """Duplicate groups (two or more files), exact or near, found transitively."""
    readable = [x for x in items if x.phash is not None]
    parent = list(range(len(readable)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    hashes = np.array([x.phash for x in readable], dtype=np.uint64)
    first_of_sha: dict[str, int] = {}
    for i, x in enumerate(readable):
        parent[root(i)] = root(first_of_sha.setdefault(x.sha256, i))
    for i, j in near_pairs(hashes, max_distance):
        parent[root(i)] = root(j)
    members: dict[int, list[Inspected]] = defaultdict(list)
    for i, x in enumerate(readable):
        members[root(i)].append(x)
    found = [g for g in members.values() if len(g) > 1]
    return sorted(found, key=lambda g: g[0].file.key)


def audit(files: list[RawFile], max_distance: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report (JSON-ready) and the duplicate rows (one per file in a group)."""
    items = pmap(inspect, files)
    rows: list[dict[str, Any]] = []
    leaked_test: list[str] = []
    removed: Counter[str] = Counter()
    cross_class: list[list[str]] = []
    exact_groups = 0
    dup_groups = groups(items, max_distance)
    for n, g in enumerate(dup_groups, start=1):
        splits = {x.file.split for x in g}
        leaks = "test" in splits and len(splits) > 1
        crosses = len({x.file.cls for x in g}) > 1
        kind = "exact" if len({x.sha256 for x in g}) == 1 else "near"
        exact_groups += kind == "exact"
        if crosses:
            cross_class.append([x.file.key for x in g])
        for x in g:
            if leaks and x.file.split == "test":
                leaked_test.append(x.file.key)
            elif leaks:
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
                }
            )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for (split, cls), n in sorted(Counter((x.file.split, x.file.cls) for x in items).items()):
        counts[split][cls] = n
    unreadable = [{"file": x.file.key, "reason": x.error} for x in items if x.error]
    report = {
        "files": len(items),
        "unreadable_files": len(unreadable),
        "duplicate_groups": len(dup_groups),
        "exact_duplicate_groups": exact_groups,
        "files_in_duplicate_groups": len(rows),
        "leaked_test_images": len(leaked_test),
        "dedupe_removes": {s: removed[s] for s in ("train", "validation")},
        "near_duplicate_distance": max_distance,
        "counts": dict(counts),
        "unreadable": unreadable,
        "leaked_test": sorted(leaked_test),
        "cross_class_groups": cross_class,
    }
    return report, rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_file(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def leaked_files(path: Path) -> set[str]:
    """Train/validation files that duplicate a test image, read from the audit CSV."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {
            r["file"]
            for r in csv.DictReader(fh)
            if r["leaks_test"] == "True" and r["split"] != "test"
        }
